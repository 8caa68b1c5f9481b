"""Agency identifier codes of QCVN 102:2016/BTTTT: V1V2V3.Z1Z2.Y1Y2.X1X2X3 (Đ19.6).

X is the level-1 code (a letter and two digits: H49 is Quảng Ninh), Y the level-2 unit, Z level 3,
V level 4; zeros mark levels the agency does not reach. `000.00.00.H49` is the Provincial People's
Committee itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from registry.errors import Invalid

CODE_PATTERN = re.compile(r"^(\d{3})\.(\d{2})\.(\d{2})\.([A-Z]\d{2})$")
CODE_FORMAT = "V1V2V3.Z1Z2.Y1Y2.X1X2X3, e.g. 000.00.00.H49"


@dataclass(frozen=True)
class AgencyCode:
    v: str
    z: str
    y: str
    x: str

    @property
    def text(self) -> str:
        return f"{self.v}.{self.z}.{self.y}.{self.x}"

    @property
    def level(self) -> int:
        if self.v != "000":
            return 4
        if self.z != "00":
            return 3
        if self.y != "00":
            return 2
        return 1


def parse_code(raw: str, field: str = "code") -> AgencyCode:
    text = (raw or "").strip().upper()
    match = CODE_PATTERN.match(text)
    if not match:
        shown = raw if raw else "(empty)"
        raise Invalid(f"malformed agency code '{shown}': expected {CODE_FORMAT}", fields={field: f"expected {CODE_FORMAT}"})
    return AgencyCode(*match.groups())


def check_child_code(child: AgencyCode, parent: AgencyCode) -> None:
    """A child shares the parent's level-1 code (the province or ministry it belongs to)."""
    if child.x != parent.x:
        raise Invalid(
            f"agency code {child.text} has level-1 code {child.x}, but its parent {parent.text} has {parent.x}",
            fields={"code": f"level-1 code must be {parent.x}, as in the parent"},
        )
    if child == parent:
        raise Invalid(f"agency {child.text} cannot be its own parent", fields={"parent_code": "same as code"})
