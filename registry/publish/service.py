"""The public portal's read path: what the public may see, assembled once per publication version and
kept in this process.

Published data changes rarely and is read by everyone, so each answer (a page's bytes, a search's
results, an agency's JSON) is cached under the publication version (`specimens.publication_version`):
every publication change bumps that number in the database, and every worker notices within a second
(its own changes at once) and starts afresh. Each cached answer carries its ETag (a hash of its bytes)
and Last-Modified (when the version last changed), so browsers and proxies revalidate with a 304.

Only published records reach here, and of them only public fields (specimens.service's `public_*`):
never a person's ID number, birth date or phone, never a draft, a rejected or unpublished record.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from registry.agencies import service as agencies
from registry.errors import Invalid, NotFound, RegistryError
from registry.specimens import service as specimens
from registry.text import fold, search_words
from registry.timeutil import VIETNAM, parse_moment, to_vietnam

MAX_CACHED = 2000  # answers of one publication version (each a few kB to a few tens of kB)
MAX_RESULTS = 50
_HEX = re.compile(r"^[0-9a-f]+$")


@dataclass(frozen=True)
class Cached:
    body: bytes
    etag: str
    last_modified: str  # an HTTP date
    media_type: str
    extra_headers: tuple[tuple[str, str], ...] = ()


class PortalCache:
    """Answers by key, for one publication version at a time (least recently used dropped first)."""

    def __init__(self, size: int = MAX_CACHED) -> None:
        self.size = size
        self.key: str | None = None
        self.items: OrderedDict[Any, Any] = OrderedDict()

    async def version(self) -> specimens.PublicationVersion:
        current = await specimens.publication_version()
        if current.key != self.key:
            self.items.clear()
            self.key = current.key
        return current

    def get(self, key: Any) -> Any:
        found = self.items.get(key)
        if found is not None:
            self.items.move_to_end(key)
        return found

    def put(self, key: Any, value: Any) -> Any:
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return value


CACHE = PortalCache()


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def make_cached(body: bytes, version: specimens.PublicationVersion, media_type: str,
                extra_headers: tuple[tuple[str, str], ...] = ()) -> Cached:
    return Cached(body=body, etag=f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                  last_modified=http_date(version.changed_at), media_type=media_type, extra_headers=extra_headers)


_producing: dict[Any, asyncio.Future] = {}


async def cached(key: Any, produce: Callable[[specimens.PublicationVersion], Awaitable[Cached]]) -> Cached:
    """The answer under `key` for the current publication version, produced once: requests arriving while
    it is being produced wait for that one instead of each producing it again (a page of a large province
    asked by many at once is built once)."""
    while True:
        version = await CACHE.version()
        found = CACHE.get(key)
        if found is not None:
            return found
        flight = (version.key, key)
        pending = _producing.get(flight)
        if pending is None:
            break
        produced = await asyncio.shield(pending)
        if produced is not None:
            return produced
        # The producer was cancelled (its client went away): try again.
    future: asyncio.Future = asyncio.get_running_loop().create_future()
    _producing[flight] = future
    try:
        answer = await produce(version)
    except RegistryError as error:
        # Waiters get the same answer (a 404 for an unknown agency, say).
        future.set_exception(error)
        future.exception()
        raise
    except BaseException:
        future.set_result(None)
        raise
    finally:
        _producing.pop(flight, None)
    future.set_result(answer)
    if CACHE.key == version.key:
        CACHE.put(key, answer)
    return answer


def remember_exact(path: str, query_string: bytes, answer: Cached) -> None:
    """Serve later requests for exactly this path and query from the fast path (`PublicFastPath`):
    only answers that the full application produced for an anonymous visitor come here."""
    CACHE.put(("exact", path, query_string), answer)


async def lookup_exact(path: str, query_string: bytes) -> Cached | None:
    await CACHE.version()
    return CACHE.get(("exact", path, query_string))


def not_modified(headers: Any, answer: Cached) -> bool:
    """Whether the client's copy is current (If-None-Match first, else If-Modified-Since)."""
    tags = headers.get("if-none-match")
    if tags is not None:
        return tags.strip() == "*" or answer.etag in [t.strip().removeprefix("W/") for t in tags.split(",")]
    since = headers.get("if-modified-since")
    if since:
        try:
            return parsedate_to_datetime(since) >= parsedate_to_datetime(answer.last_modified)
        except (TypeError, ValueError):
            return False
    return False


# --- ?at= ------------------------------------------------------------------------------------------


def parse_at(text: str | None) -> datetime | None:
    """`?at=`: a date (YYYY-MM-DD: the end of that day, Vietnam time) or an ISO 8601 moment."""
    if text is None or not text.strip():
        return None
    cleaned = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
            day = parse_moment(cleaned).date()
            return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=VIETNAM)
        return parse_moment(cleaned)
    except (ValueError, Invalid):
        raise Invalid("at: expected a date YYYY-MM-DD or an ISO 8601 moment between 1900 and 2199",
                      code="invalid_moment", fields={"at": "expected YYYY-MM-DD or ISO 8601"}) from None


# --- agencies ---------------------------------------------------------------------------------------


def _name_at(agency: dict[str, Any], at: datetime | None) -> str:
    if at is None:
        return agency["name"]
    for entry in agency.get("names", []):
        start = to_vietnam(entry["valid_from"])
        end = to_vietnam(entry["valid_to"]) if entry["valid_to"] else None
        if start <= at and (end is None or at < end):
            return entry["name"]
    return agency["name"]


async def public_agency(code: str, at: datetime | None = None) -> dict[str, Any]:
    """An agency as the public sees it: its public details, parents and children, and what was published
    for it now (or at `at`)."""
    if not isinstance(code, str) or len(code) > 40:
        raise NotFound("no such agency", code="agency_not_found", params={"agency_code": str(code)[:40]})
    row = await agencies.find_row(code.strip().upper())
    if row is None:
        raise NotFound(f"no agency {code}", code="agency_not_found", params={"agency_code": code})
    agency = await agencies.agency_with_names(row)
    published = await specimens.published_for_agency(row["id"], at)
    children = await agencies.children_of(row, limit=1000)
    parents = await agencies.ancestors_of(row, at_most=10)
    return {
        "code": agency["code"],
        "name": _name_at(agency, at),
        "current_name": agency["name"],
        "short_name": agency["short_name"] or None,
        "parent_code": agency["parent_code"],
        "address": agency["address"] or None,
        "email": agency["email"] or None,
        "level": agency["level"],
        "names": agency.get("names", []),
        "at": at,
        "parents": [{"code": parent["code"], "name": parent["name"]} for parent in parents],
        "children": [{"code": c["code"], "name": c["name"]} for c in children],
        "specimens": published["specimens"],
        "mailboxes": published["mailboxes"],
    }


async def agency_history(code: str) -> dict[str, Any]:
    agency = await public_agency(code)
    row = await agencies.find_row(agency["code"])
    assert row is not None
    return {**agency, "history": await specimens.history_for_agency(row["id"])}


# --- search -----------------------------------------------------------------------------------------


def _hex_query(query: str) -> str | None:
    cleaned = re.sub(r"[\s:]", "", query or "").lower()
    return cleaned if 8 <= len(cleaned) <= 64 and _HEX.match(cleaned) else None


async def search(query: str | None) -> list[dict[str, Any]] | None:
    """Agencies found by name or code, by a leader on a published specimen, or by a certificate of a
    published specimen (serial or fingerprint), ignoring case and Vietnamese diacritics. None when the
    query has no words."""
    words = search_words(query, max_length=200)
    if not words:
        return None
    results: dict[str, dict[str, Any]] = {}
    for agency in await agencies.list_agencies(q=query, limit=MAX_RESULTS):
        results[agency["code"]] = {"code": agency["code"], "name": agency["name"], "parent_code": agency["parent_code"],
                                   "url": f"/agencies/{agency['code']}", "matched": "agency", "leaders": [],
                                   "certificates": []}
    hex_query = _hex_query(query or "")
    for entry in await specimens.search_published(words, hex_query, limit=MAX_RESULTS * 4):
        found = results.get(entry["agency_code"])
        if found is None:
            if len(results) >= MAX_RESULTS:
                continue
            found = results[entry["agency_code"]] = {
                "code": entry["agency_code"], "name": entry["agency_name"], "parent_code": None,
                "url": f"/agencies/{entry['agency_code']}", "matched": "certificate" if entry["by_certificate"] else "leader",
                "leaders": [], "certificates": []}
        if entry["by_certificate"]:
            found["certificates"].append({"fingerprint": entry["fingerprint"], "serial": entry["serial"],
                                          "url": f"/public/certificates/{entry['fingerprint']}"})
        if entry["kind"] == "leader" and entry["full_name"] not in found["leaders"]:
            found["leaders"].append(entry["full_name"])
    return list(results.values())[:MAX_RESULTS]


def folded(query: str | None) -> str:
    return fold(query or "")[:200]


# --- certificates --------------------------------------------------------------------------------------


async def public_certificate(fingerprint: str) -> dict[str, Any]:
    from registry.certs import service as certs

    row = await specimens.published_certificate(fingerprint)
    if row is None:
        raise NotFound("no published certificate with this fingerprint", code="certificate_not_found")
    return {
        "fingerprint": row["fingerprint"], "serial": row["serial"], "subject": row["subject"], "issuer": row["issuer"],
        "not_before": row["not_before"], "not_after": row["not_after"], "status": certs.status_of(row),
        "revoked_at": row["revoked_at"], "key_type": row["key_type"], "key_size": row["key_size"],
        "der": bytes(row["der"]), "specimens": await specimens.published_for_certificate(row["fingerprint"]),
    }


def pem_of(der: bytes) -> bytes:
    import base64
    import textwrap

    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n".encode()


# --- the feed ----------------------------------------------------------------------------------------

EVENT_LABELS = {"published": "Công bố", "superseded": "Được thay thế", "withdrawn": "Thu hồi"}


async def feed_entries() -> list[dict[str, Any]]:
    entries = []
    for item in await specimens.publication_changes(limit=50):
        what = item.get("full_name") or item.get("address") or item["agency_name"]
        kind = item["what"]
        entries.append({
            "id": f"tag:registry,{to_vietnam(item['at']):%Y-%m-%d}:{kind}-{item['id']}-{item['event']}",
            "title": f"{EVENT_LABELS.get(item['event'], item['event'])}: {kind} — {what} ({item['agency_name']})",
            "updated": to_vietnam(item["at"]),
            "url": f"/agencies/{item['agency_code']}",
            "summary": item.get("end_reason") or "",
        })
    return entries
