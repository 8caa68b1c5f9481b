"""Vietnam time: everything shown or exchanged carries +07:00 (Đ18.5)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

# Vietnam has no daylight saving time, so a fixed offset is exact and needs no tz database.
VIETNAM = timezone(timedelta(hours=7), "ICT")
_SPACE_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def now() -> datetime:
    """The current moment, in Vietnam time."""
    return datetime.now(VIETNAM)


def to_vietnam(moment: datetime) -> datetime:
    """A moment expressed in Vietnam time; naive values are taken to be UTC (how the database returns them)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(VIETNAM)


def isoformat(moment: datetime | None) -> str | None:
    return None if moment is None else to_vietnam(moment).isoformat()


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment or date; without an offset it is read as Vietnam time. Raises ValueError."""
    cleaned = text.strip().replace("Z", "+00:00")
    # An unescaped '+' in a query string arrives as a space.
    cleaned = _SPACE_OFFSET.sub(r"\1+\2", cleaned)
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return to_vietnam(moment)


def today() -> date:
    return now().date()


def display(moment: datetime | date | None, with_time: bool = True) -> str:
    """Vietnamese display form: 24/11/2026 14:05."""
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = to_vietnam(moment)
        return moment.strftime("%d/%m/%Y %H:%M") if with_time else moment.strftime("%d/%m/%Y")
    return moment.strftime("%d/%m/%Y")
