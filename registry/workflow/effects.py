"""Effects that many machines share: telling the deciders that something waits for them, and telling the
requester (and the person concerned) what was decided. Both write a notification and an outbox mail in
the step's transaction."""

from __future__ import annotations

from registry.auth import permissions
from registry.auth import service as auth
from registry.notify import service as notify
from registry.workflow.engine import Step


def ancestor_paths(path: str) -> list[str]:
    """`/1/6/9/` → [`/1/`, `/1/6/`, `/1/6/9/`]."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


async def notify_deciders(step: Step) -> None:
    """Tell the nearest heads able to decide: those of the agency itself, else of the closest ancestor
    (never the requester, nor the person the record is about)."""
    row = step.row
    holders = await auth.role_holders(permissions.DECIDER_ROLE, ancestor_paths(row["agency_path"]))
    eligible = [h for h in holders if h["user_id"] != row["requester"] and h["person_id"] != row["subject"]]
    if not eligible:
        return
    nearest = max(len(h["path"]) for h in eligible)
    prefix = "[KHẨN] " if row["urgent"] else ""
    for holder in (h for h in eligible if len(h["path"]) == nearest):
        await notify.enqueue(
            user_id=holder["user_id"], email=holder["email"], kind="decision_needed", request_id=row["id"],
            url=step.flow.url(row["id"]), message=f"{prefix}{step.flow.label} #{row['id']} chờ phê duyệt: {row['summary']}",
        )


def _decision_message(step: Step) -> str:
    row, transition = step.row, step.transition
    assert transition is not None
    if transition.name == step.flow.machine.approve:
        verdict = "đã được phê duyệt"
    elif transition.name == step.flow.machine.reject:
        verdict = f"bị từ chối: {step.note}"
    else:
        verdict = f"— {transition.label.lower()}"
    return f"{step.flow.label} #{row['id']} ({row['summary']}) {verdict}"


async def notify_decision(step: Step) -> None:
    """Tell the requester and the person concerned what was decided."""
    row = step.row
    recipients = await auth.contacts(
        user_ids=[row["requester"]] if row["requester"] else [],
        person_ids=[row["subject"]] if row["subject"] else [],
    )
    for user_id, email in recipients.items():
        await notify.enqueue(
            user_id=user_id, email=email, kind="request_decided", request_id=row["id"], url=step.flow.url(row["id"]),
            message=_decision_message(step),
        )


async def notify_decisions(steps: list[Step]) -> None:
    """`notify_decision` for many steps at once (a bulk decision): one query for every recipient, the
    notifications and mails in one insert each."""
    accounts = await auth.accounts_of(
        user_ids=[step.row["requester"] for step in steps if step.row["requester"]],
        person_ids=[step.row["subject"] for step in steps if step.row["subject"]],
    )
    by_id = {account["id"]: account for account in accounts}
    by_person: dict[int, list[dict]] = {}
    for account in accounts:
        by_person.setdefault(account["person"], []).append(account)
    notices = []
    for step in steps:
        row = step.row
        found = ([by_id[row["requester"]]] if row["requester"] in by_id else []) + (
            by_person.get(row["subject"], []) if row["subject"] else [])
        recipients = {account["id"]: account["email"] for account in found}
        message = _decision_message(step)
        notices.extend({"user_id": user_id, "email": email, "kind": "request_decided", "request_id": row["id"],
                        "url": step.flow.url(row["id"]), "message": message} for user_id, email in recipients.items())
    await notify.enqueue_many(notices)


# The engine calls this instead of `notify_decision` once per step when it applies many steps at once.
notify_decision.for_steps = notify_decisions  # type: ignore[attr-defined]
