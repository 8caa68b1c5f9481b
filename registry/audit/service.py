"""Writing, verifying and reading the chained audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from registry import db
from registry.audit.tables import AuditEntry, AuditHead
from registry.timeutil import now


class AuditActor(Protocol):
    @property
    def user_id(self) -> int | None: ...

    @property
    def label(self) -> str: ...


@dataclass(frozen=True)
class PendingEntry:
    at: datetime
    actor_id: int | None
    actor: str
    action: str
    object_type: str
    object_id: str
    before: str | None
    after: str | None


def canonical_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def record(
    actor: AuditActor,
    action: str,
    object_type: str,
    object_id: Any,
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    """Add an entry to the current transaction; it is written, chained, just before the commit."""
    tx = db.current_tx()
    if tx is None:
        raise RuntimeError("audit.record must be called inside db.transaction()")
    tx.audit_entries.append(
        PendingEntry(
            at=now(),
            actor_id=actor.user_id,
            actor=actor.label,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            before=canonical_json(before),
            after=canonical_json(after),
        )
    )


def record_many(actor: AuditActor, action: str, object_type: str, items: list[tuple[Any, str | None, str | None]]) -> None:
    """Many entries of one action at once, each (object_id, before, after) with before and after already
    through `canonical_json` (a bulk import serialises them before it takes the write lock)."""
    tx = db.current_tx()
    if tx is None:
        raise RuntimeError("audit.record_many must be called inside db.transaction()")
    moment = now()
    tx.audit_entries.extend(
        PendingEntry(at=moment, actor_id=actor.user_id, actor=actor.label, action=action, object_type=object_type,
                     object_id=str(object_id), before=before, after=after)
        for object_id, before, after in items
    )


def entry_hash(prev_hash: str, seq: int, entry: PendingEntry | dict[str, Any]) -> str:
    fields = entry if isinstance(entry, dict) else entry.__dict__
    at: datetime = fields["at"]
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    payload = json.dumps(
        [
            seq,
            at.astimezone(UTC).isoformat(timespec="microseconds"),
            fields["actor_id"],
            fields["actor"],
            fields["action"],
            fields["object_type"],
            fields["object_id"],
            fields["before"],
            fields["after"],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


async def write_chained(entries: list[PendingEntry]) -> None:
    """Append entries at the end of the chain. Called by db.transaction() as the transaction's last write,
    so the head row is the last lock taken (no lock-order deadlocks) and is held only until commit."""
    advance = "UPDATE audit_head SET seq = seq + {} WHERE id = 1 RETURNING seq, hash"
    head = await AuditHead.raw(advance, len(entries))
    if not head:
        # The chain's first entry: the head row is made once (a concurrent first writer's insert waits for this
        # one and does nothing).
        await AuditHead.raw("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING")
        head = await AuditHead.raw(advance, len(entries))
    last_seq, prev_hash = int(head[0]["seq"]), head[0]["hash"]
    seq = last_seq - len(entries)
    rows = []
    for entry in entries:
        seq += 1
        digest = entry_hash(prev_hash, seq, entry)
        rows.append({"seq": seq, "prev_hash": prev_hash, "hash": digest, **entry.__dict__})
        prev_hash = digest
    # Bound directly (db.bulk_insert): an import of thousands of agencies audits each one, and the chain's
    # head stays locked until commit.
    await db.bulk_insert(AuditEntry, rows)
    await AuditHead.raw("UPDATE audit_head SET hash = {} WHERE id = 1", prev_hash)


async def head() -> tuple[int, str]:
    """The chain's head (its last seq and hash): it moves with every committed change of registry data. On
    SQLite it is read again only once something was committed since (db.read_while_unchanged)."""
    return await db.read_while_unchanged("audit head", _read_head)


async def _read_head() -> tuple[int, str]:
    rows = await db.quick_read(AuditHead, "SELECT seq, hash FROM audit_head WHERE id = 1")
    return (int(rows[0]["seq"]), rows[0]["hash"]) if rows else (0, "")


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    problem: str = ""


async def verify(batch_size: int = 5000) -> VerifyResult:
    """Walk the chain in order; name the first entry that was edited, removed or moved."""
    expected_seq, prev_hash, count = 1, "", 0
    last_seq = None
    while True:
        query = AuditEntry.select().order_by(AuditEntry.seq).limit(batch_size)
        if last_seq is not None:
            query = query.where(AuditEntry.seq > last_seq)
        rows = await query
        if not rows:
            break
        for row in rows:
            seq = row["seq"]
            if seq != expected_seq:
                return VerifyResult(False, count, f"entry {expected_seq} is missing (next is {seq})")
            if row["prev_hash"] != prev_hash:
                return VerifyResult(False, count, f"entry {seq} does not follow entry {seq - 1}")
            if entry_hash(prev_hash, seq, row) != row["hash"]:
                return VerifyResult(False, count, f"entry {seq} ({row['action']}) was altered")
            prev_hash, expected_seq, count = row["hash"], expected_seq + 1, count + 1
            last_seq = seq
    head = await AuditHead.select().where(AuditHead.id == 1).first()
    head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, "")
    if head_seq != count or head_hash != prev_hash:
        return VerifyResult(False, count, f"entries after {count} are missing (the chain ends at {head_seq})")
    return VerifyResult(True, count)


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def search(filters: AuditFilter, *, limit: int = 50, before_seq: int | None = None) -> list[dict[str, Any]]:
    """Newest first; page with `before_seq` (the smallest seq of the previous page)."""
    query = AuditEntry.select().order_by(AuditEntry.seq, ascending=False).limit(limit)
    conditions = []
    if filters.action:
        conditions.append(AuditEntry.action.like(f"{filters.action}%"))
    if filters.actor:
        conditions.append(AuditEntry.actor == filters.actor)
    if filters.object_type:
        conditions.append(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        conditions.append(AuditEntry.object_id == filters.object_id)
    if filters.since:
        conditions.append(AuditEntry.at >= filters.since)
    if filters.until:
        conditions.append(AuditEntry.at < filters.until)
    if before_seq is not None:
        conditions.append(AuditEntry.seq < before_seq)
    for condition in conditions:
        query = query.where(condition)
    rows = await query
    for row in rows:
        row["before"] = json.loads(row["before"]) if row["before"] else None
        row["after"] = json.loads(row["after"]) if row["after"] else None
    return rows
