"""What the shared inbox takes and gives."""

from __future__ import annotations

import msgspec


class ItemRef(msgspec.Struct, forbid_unknown_fields=True):
    domain: str
    id: int


class ItemRejection(msgspec.Struct, forbid_unknown_fields=True):
    domain: str
    id: int
    reason: str = ""


class InboxDecisions(msgspec.Struct, forbid_unknown_fields=True):
    approve: list[ItemRef] = []
    reject: list[ItemRejection] = []
