"""Notifications shown to users, and the outbox of mails to send for them."""

from __future__ import annotations

from typing import Any

from registry import db
from registry.auth.principal import Principal
from registry.compiled import Compiled, Value
from registry.notify.tables import Notification, OutboxMessage
from registry.timeutil import now

# Kinds whose to-do is counted live from the data itself (a head's pending decisions), so that a
# request decided by another head stops counting at once.
LIVE_COUNTED_KINDS = ("decision_needed",)
SITE_NAME = "Cơ sở dữ liệu chứng thư số tỉnh Quảng Ninh"


async def enqueue(*, user_id: int, email: str, kind: str, message: str, request_id: int | None = None,
                  url: str = "") -> None:
    """A notification for the user and a mail in the outbox; call inside the event's transaction."""
    moment = now()
    await Notification.insert(
        Notification(user=user_id, kind=kind, request_id=request_id, url=url[:200], message=message[:500],
                     created_at=moment)
    )
    if email:
        await OutboxMessage.insert(
            OutboxMessage(
                recipient=user_id, email=email, subject=f"[{SITE_NAME}] {message[:200]}",
                body=f"{message}\n\nXem chi tiết trong hệ thống.", created_at=moment, next_attempt_at=moment,
            )
        )


async def enqueue_many(notices: list[dict[str, Any]]) -> None:
    """`enqueue` for many notices (user_id, email, kind, message, request_id, url) in two inserts."""
    if not notices:
        return
    from registry import db

    moment = now()
    await db.bulk_insert(Notification, [
        {"user": notice["user_id"], "kind": notice["kind"], "request_id": notice.get("request_id"),
         "url": (notice.get("url") or "")[:200], "message": notice["message"][:500], "created_at": moment,
         "read_at": None}
        for notice in notices
    ])
    await db.bulk_insert(OutboxMessage, [
        {"recipient": notice["user_id"], "email": notice["email"], "subject": f"[{SITE_NAME}] {notice['message'][:200]}",
         "body": f"{notice['message']}\n\nXem chi tiết trong hệ thống.", "created_at": moment,
         "next_attempt_at": moment, "attempts": 0, "last_error": "", "sent_at": None}
        for notice in notices if notice["email"]
    ])


async def unread_count(actor: Principal) -> int:
    if actor.user_id is None:
        return 0
    return await Notification.count().where(
        (Notification.user == actor.user_id) & Notification.read_at.is_null()
        & Notification.kind.not_in(list(LIVE_COUNTED_KINDS))
    )


async def recent(actor: Principal, limit: int = 20) -> list[dict[str, Any]]:
    if actor.user_id is None:
        return []
    return await Notification.select().where(
        (Notification.user == actor.user_id) & Notification.kind.not_in(list(LIVE_COUNTED_KINDS))
    ).order_by(Notification.id, ascending=False).limit(limit)


# Whether the user has an unread notice (at a page): asked on every view of a request's page, so built once
# (compiled.py): Piccolo's building of the query took a sixth of the page (sampled, issue 12).
_AN_UNREAD = Compiled(lambda: Notification.select(Notification.id).where(
    (Notification.user == Value("user")) & Notification.read_at.is_null()).first())
_AN_UNREAD_AT = Compiled(lambda: Notification.select(Notification.id).where(
    (Notification.user == Value("user")) & Notification.read_at.is_null() & (Notification.url == Value("url"))).first())


async def mark_read(actor: Principal, url: str | None = None) -> None:
    """Bookkeeping of what the user has seen: not a change of registry data, so not audited."""
    if actor.user_id is None:
        return
    # Most page views have nothing to mark: a read finds out, so that they take no write lock.
    if url is None:
        unread = await _AN_UNREAD.run(user=actor.user_id)
    else:
        unread = await _AN_UNREAD_AT.run(user=actor.user_id, url=url)
    if unread is None:
        return
    condition = (Notification.user == actor.user_id) & Notification.read_at.is_null()
    if url is not None:
        condition = condition & (Notification.url == url)
    await Notification.update({Notification.read_at: now()}).where(condition)
    db.note_write()
