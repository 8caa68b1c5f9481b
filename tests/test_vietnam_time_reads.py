"""Moments come out of both databases in Vietnam time, and a JSON answer shows every moment as +07:00
whether it came from the database or was made in Python (registry/db.py, registry/http.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import pytest

from registry import db
from registry.audit.tables import AuditEntry
from registry.certs.schemas import CertificateOut
from registry.http import ApiResponse
from registry.timeutil import VIETNAM, display
from tests.helpers import CITY, add_certificate

SEVEN_HOURS = timedelta(hours=7)


async def test_moments_are_read_in_vietnam_time(ca, province, client) -> None:
    # The client starts the app, so PostgreSQL's reads go through the pool and its codec.
    fingerprint = await add_certificate(ca, province, "city_clerk", CITY)
    await db.open_pool(db.current_engine())
    row = await AuditEntry.select(AuditEntry.at).order_by(AuditEntry.id, ascending=False).first()
    assert row is not None and row["at"].utcoffset() == SEVEN_HOURS
    listed = (await client.get("/api/v1/certificates", headers=province.auth("operator"))).json()
    mine = next(item for item in listed if item["fingerprint"] == fingerprint)
    assert mine["not_after"].endswith("+07:00") and mine["imported_at"].endswith("+07:00")


async def test_moments_written_and_read_back_are_the_same_instants(province) -> None:
    """A moment given in any offset is stored as that instant and comes back as it, in Vietnam time;
    asyncpg's stand-ins for infinity and a moment beyond what Vietnam time can hold come back as before."""
    await db.open_pool(db.current_engine())
    given = [
        datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
        datetime(2026, 12, 1, 6, 30, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),  # X.509's "no well-defined expiration"
    ]
    # SQLite converts a value by its declared type, here named with the column (Piccolo writes UTC text).
    sql = 'SELECT {} AS "at [TIMESTAMPTZ]"' if db.is_sqlite() else "SELECT {}::timestamptz AS at"
    for moment in given:
        (row,) = await AuditEntry.raw(sql, moment)
        assert row["at"] == moment
        expected_offset = UTC.utcoffset(None) if moment.year == 9999 else SEVEN_HOURS
        assert row["at"].utcoffset() == expected_offset
    if not db.is_sqlite():
        rows = await AuditEntry.raw("SELECT 'infinity'::timestamptz AS late, '-infinity'::timestamptz AS early")
        assert rows == [{"late": datetime.max, "early": datetime.min}]
        (row,) = await AuditEntry.raw("SELECT {}::timestamptz AS at", datetime.max)
        assert row["at"] == datetime.max


def _certificate(moment: datetime, common_name: str = "Nguyễn Văn A") -> CertificateOut:
    return msgspec.convert({
        "id": 1, "fingerprint": "ab" * 32, "serial": "01", "subject": "CN=A", "issuer": "CN=CA", "common_name": common_name,
        "email": "", "not_before": moment, "not_after": moment, "status": "active", "kind": "personal",
        "key_type": "RSA", "key_size": 2048, "key_usage": [], "is_ca": False, "agency_code": None, "agency_name": None,
        "holder": None, "custodian": None, "revoked_at": None, "revocation_reason": None, "revocation_pending": False,
        "revocation_pending_since": None, "superseded_by": None, "superseded_at": None, "source": "import",
        "imported_at": moment,
    }, CertificateOut)


@pytest.mark.parametrize("moment", [
    datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
    datetime(2026, 11, 30, 17, 0, 0, 250000, tzinfo=UTC),
    datetime(2026, 11, 30, 12, 0, tzinfo=timezone(timedelta(hours=-5))),
    datetime(2026, 12, 1, 0, 0),  # naive: taken as UTC
    datetime(2026, 12, 1, 0, 0, tzinfo=VIETNAM),
])
def test_an_answer_shows_every_moment_in_vietnam_time(moment) -> None:
    body = msgspec.json.decode(ApiResponse(None).render([_certificate(moment)], "application/json"))
    shown = datetime.fromisoformat(body[0]["not_after"])
    assert body[0]["not_after"].endswith("+07:00")
    assert shown == (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def test_text_that_looks_like_a_moment_is_left_as_it_is() -> None:
    text = "Cấp lại lúc T10:00:00Z"
    body = msgspec.json.decode(ApiResponse(None).render(
        _certificate(datetime(2026, 12, 1, tzinfo=UTC), common_name=text), "application/json"))
    assert body["common_name"] == text and body["not_after"] == "2026-12-01T07:00:00+07:00"


@pytest.mark.parametrize(("moment", "with_time", "shown"), [
    (datetime(2026, 3, 5, 1, 7, tzinfo=UTC), True, "05/03/2026 08:07"),
    (datetime(2026, 12, 31, 17, 30, tzinfo=UTC), True, "01/01/2027 00:30"),  # past midnight in Vietnam
    (datetime(2026, 12, 31, 17, 30, tzinfo=UTC), False, "01/01/2027"),
    (datetime(2026, 3, 5, 1, 7), True, "05/03/2026 08:07"),  # naive: read as UTC, as the database gives it
    (date(2026, 3, 5), True, "05/03/2026"),  # a date has no time to show
    (datetime.max.replace(tzinfo=UTC), True, "31/12/9999 23:59"),  # clamped, not an error
    (datetime(999, 1, 2, 3, 4, tzinfo=VIETNAM), True, "02/01/999 03:04"),
    (None, True, ""),
])
def test_moments_are_shown_day_first_in_vietnam_time(moment, with_time, shown) -> None:
    assert display(moment, with_time) == shown


@pytest.mark.parametrize("text", ["2026-12-02 05:00:00", "2026-12-01 17:00:00.000001", "0001-01-01 00:00:00",
                                  "1999-12-31 23:59:59.999999", "9999-12-31 16:59:59", "9999-12-31 17:00:00",
                                  "9999-12-31 23:59:59.999999", "2026-06-30 12:00:00+00:00",
                                  "2026-06-30 19:00:00.5+07:00", "2026-06-30 00:30:00-05:00"])
def test_sqlite_moments_read_as_astimezone_reads_them(text: str) -> None:
    """SQLite's TIMESTAMPTZ converter: text without an offset is UTC (as Piccolo writes it), text with one
    is that instant; read as the same moment, offset and fields in Vietnam time; past Vietnam time's end,
    the moment as written."""
    moment = datetime.fromisoformat(text)
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    try:
        want = moment.astimezone(VIETNAM)
    except OverflowError:
        want = moment
    got = db._sqlite_timestamptz_in_vietnam(text.encode())
    assert got == want and got.utcoffset() == want.utcoffset() and got.timetuple() == want.timetuple()
    assert got.microsecond == want.microsecond and got.tzinfo == want.tzinfo
