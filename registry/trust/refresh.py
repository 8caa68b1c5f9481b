"""CRL refresh: fetch the CRLs named by the store's certificates (their CRL distribution points, and the
issuing distribution points of stored CRLs) on a schedule, safely with several workers.

Each due source is claimed with a lease (a conditional UPDATE: exactly one worker wins it, on SQLite and on
PostgreSQL alike), fetched with a connect/read timeout, an overall deadline and a size cap, and stored through
`service.add_to_store` (the same checks as an admin's upload: signed by a CA of the store, current). A server
that hangs, answers an error or sends too much is abandoned: the last good CRL stays in use, the failure is
recorded with the source, and the store page shows how stale the CRL has become."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

from registry.auth.principal import system_principal
from registry.errors import RegistryError
from registry.timeutil import now
from registry.trust import service
from registry.trust.tables import CrlSource

logger = logging.getLogger("registry.trust.refresh")

REFRESH_INTERVAL = timedelta(hours=1)
# After a failure, try again sooner (but not in a tight loop).
RETRY_AFTER_FAILURE = timedelta(minutes=10)
# How long a worker may hold a source before another may take it over (a worker that died mid-fetch).
LEASE = timedelta(minutes=2)
CONNECT_TIMEOUT_SECONDS = 10.0
# The whole download must finish within this, however slowly the server trickles bytes.
DOWNLOAD_DEADLINE_SECONDS = 60.0
# Government CRLs run to a few megabytes; anything far beyond is not a CRL worth holding in memory.
MAX_CRL_BYTES = 32 * 1024 * 1024
LOOP_SECONDS = 60.0
# The first pass waits a little, so that starting a worker never races the requests it serves.
FIRST_PASS_DELAY_SECONDS = 20.0
CHUNK = 64 * 1024

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


class FetchFailed(Exception):
    """Why a download was abandoned, in Vietnamese (shown on the store page)."""


def fetch(url: str, *, timeout: float = CONNECT_TIMEOUT_SECONDS, deadline: float = DOWNLOAD_DEADLINE_SECONDS,
          max_bytes: int = MAX_CRL_BYTES) -> bytes:
    """The body at `url` (http or https), or FetchFailed. Blocking: run it in a thread."""
    if not url.lower().startswith(("http://", "https://")):
        raise FetchFailed("chỉ tải CRL qua http hoặc https")
    started = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "registry-crl-refresh/1", "Accept": "*/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchFailed(f"máy chủ gửi {int(length):,} byte, vượt giới hạn {max_bytes:,} byte")
            chunks, total = [], 0
            while True:
                if time.monotonic() - started > deadline:
                    raise FetchFailed(f"tải quá {int(deadline)} giây")
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    raise FetchFailed(f"dữ liệu vượt giới hạn {max_bytes:,} byte")
                chunks.append(chunk)
            return b"".join(chunks)
    except FetchFailed:
        raise
    except urllib.error.HTTPError as error:
        raise FetchFailed(f"máy chủ trả lỗi HTTP {error.code}") from None
    except TimeoutError:
        raise FetchFailed(f"máy chủ không trả lời trong {int(timeout)} giây") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise FetchFailed(f"không kết nối được ({' '.join(str(reason).split())[:150]})") from None


async def _claim(source_id: int, moment: datetime) -> bool:
    """Take the lease on one source if nobody holds a live one: one conditional UPDATE, one winner."""
    async with service.db.transaction():
        taken = await CrlSource.update({CrlSource.lease_owner: WORKER_ID, CrlSource.lease_until: moment + LEASE}).where(
            (CrlSource.id == source_id)
            & (CrlSource.lease_until.is_null() | (CrlSource.lease_until < moment))
            & (CrlSource.next_due_at.is_null() | (CrlSource.next_due_at <= moment))
        ).returning(CrlSource.id)
    return bool(taken)


async def _finish(source_id: int, *, error: str = "", next_update: datetime | None = None) -> None:
    moment = now()
    if error:
        values = {CrlSource.last_error: error[:1000], CrlSource.failures: CrlSource.failures + 1,
                  CrlSource.next_due_at: moment + RETRY_AFTER_FAILURE}
    else:
        due = moment + REFRESH_INTERVAL
        if next_update is not None:
            # Before the CA's own next issue passes, with a margin; never sooner than a minute from now.
            due = max(min(due, next_update - timedelta(minutes=10)), moment + timedelta(minutes=1))
        values = {CrlSource.last_error: "", CrlSource.failures: 0, CrlSource.last_success_at: moment,
                  CrlSource.next_due_at: due}
    values.update({CrlSource.last_attempt_at: moment, CrlSource.lease_owner: "", CrlSource.lease_until: None})
    async with service.db.transaction():
        await CrlSource.update(values).where(CrlSource.id == source_id)


async def refresh_source(source: dict, **fetch_options) -> str:
    """Fetch and store one source's CRL; returns "" on success, else the reason recorded."""
    try:
        data = await asyncio.to_thread(fetch, source["url"], **fetch_options)
        item, _created = await service.add_to_store(system_principal("crl-refresh"), data, "crl", source="refresh")
    except FetchFailed as error:
        reason = str(error)
    except RegistryError as error:
        reason = f"CRL tải về không dùng được: {error.detail}"
    else:
        await _finish(source["id"], next_update=item.not_after)
        return ""
    logger.warning("CRL refresh from %s failed: %s (the last good CRL stays in use)", source["url"], reason)
    await _finish(source["id"], error=reason)
    return reason


async def refresh_due(**fetch_options) -> dict[str, str]:
    """One pass: every source that is due and not leased by another worker → its outcome ("" when refreshed)."""
    moment = now()
    due = await CrlSource.select().where(
        (CrlSource.next_due_at.is_null() | (CrlSource.next_due_at <= moment))
        & (CrlSource.lease_until.is_null() | (CrlSource.lease_until < moment))
    ).order_by(CrlSource.next_due_at)
    outcomes: dict[str, str] = {}
    for source in due:
        if not await _claim(source["id"], moment):
            continue  # another worker took it
        outcomes[source["url"]] = await refresh_source(source, **fetch_options)
    return outcomes


# --- the background task ----------------------------------------------------------------------------

_task: asyncio.Task | None = None


async def _loop() -> None:
    await asyncio.sleep(FIRST_PASS_DELAY_SECONDS)
    while True:
        try:
            await refresh_due()
            await service.flush_usage()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the loop must outlive a bad pass (a busy database, a dropped connection)
            logger.exception("CRL refresh pass failed")
        await asyncio.sleep(LOOP_SECONDS)


async def start_worker() -> None:
    """Started with the app (each worker): refreshes due CRLs every LOOP_SECONDS."""
    global _task
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(_loop(), name="crl-refresh")


async def stop_worker() -> None:
    global _task
    task, _task = _task, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
