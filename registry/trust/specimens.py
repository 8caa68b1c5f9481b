"""The specimens published for a certificate, shown beside a verdict (public verify API and page)."""

from __future__ import annotations

from typing import Any

from registry.specimens import service as specimens


async def published_specimens(fingerprint: str) -> list[dict[str, Any]]:
    """The signature specimens ever published with the certificate of this SHA-256 fingerprint, each with
    its published period and state: only what the portal shows, never a draft or a rejected one."""
    return await specimens.published_for_certificate(fingerprint)
