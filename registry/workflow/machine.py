"""The request state machine, declared once: states, transitions, who may take each, and the audit
action each writes. Certificate requests use REQUEST_MACHINE; account requests derive theirs from it.

    submitted ─approve→ approved ─batch→ batched ─send→ sent ─fulfil→ fulfilled ─deliver→ delivered
        │                   ↑──unbatch──┘                  └─fail→ failed
        ├─reject→ rejected
        └─withdraw→ withdrawn
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from registry.auth.principal import Principal

STATES = ("submitted", "approved", "rejected", "withdrawn", "batched", "sent", "fulfilled", "failed", "delivered")
OPEN_STATES = frozenset({"submitted", "approved", "batched", "sent"})

STATE_LABELS = {
    "submitted": "Chờ phê duyệt",
    "approved": "Đã phê duyệt",
    "rejected": "Bị từ chối",
    "withdrawn": "Đã rút",
    "batched": "Đã đưa vào danh sách gửi",
    "sent": "Đã gửi CA",
    "fulfilled": "CA đã xử lý",
    "failed": "CA không xử lý được",
    "delivered": "Đã bàn giao",
}

# Who may take a transition: the person who filed the request, a head above it who is neither its
# requester nor its subject, or DoIT staff (operators) whose province it is in.
REQUESTER, DECIDER, OPERATOR = "requester", "decider", "operator"


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str
    by: str
    needs_note: bool = False
    label: str = ""


@dataclass(frozen=True)
class Machine:
    transitions: Mapping[str, Transition]

    def get(self, name: str) -> Transition:
        return self.transitions[name]

    def available(self, state: str) -> list[Transition]:
        return [t for t in self.transitions.values() if state in t.sources]

    def with_transition(self, transition: Transition) -> "Machine":
        return Machine({**self.transitions, transition.name: transition})


def _machine(*transitions: Transition) -> Machine:
    return Machine({t.name: t for t in transitions})


REQUEST_MACHINE = _machine(
    Transition("approve", frozenset({"submitted"}), "approved", DECIDER, label="Phê duyệt"),
    Transition("reject", frozenset({"submitted"}), "rejected", DECIDER, needs_note=True, label="Từ chối"),
    Transition("withdraw", frozenset({"submitted"}), "withdrawn", REQUESTER, label="Rút yêu cầu"),
    Transition("batch", frozenset({"approved"}), "batched", OPERATOR, label="Đưa vào danh sách gửi CA"),
    Transition("unbatch", frozenset({"batched"}), "approved", OPERATOR, label="Bỏ khỏi danh sách"),
    Transition("send", frozenset({"batched"}), "sent", OPERATOR, label="Đã gửi CA"),
    Transition("fulfil", frozenset({"sent"}), "fulfilled", OPERATOR, label="CA đã xử lý"),
    Transition("fail", frozenset({"sent"}), "failed", OPERATOR, needs_note=True, label="CA không xử lý được"),
    Transition("deliver", frozenset({"fulfilled"}), "delivered", OPERATOR, label="Bàn giao"),
)

# Accounts on the province's document and mail systems need no CA: DoIT fulfils an approved request.
ACCOUNT_MACHINE = REQUEST_MACHINE.with_transition(
    replace(REQUEST_MACHINE.get("fulfil"), sources=frozenset({"approved", "sent"}))
)


def may_take(principal: Principal, transition: Transition, request: Mapping[str, Any]) -> bool:
    """Whether `principal` may take `transition` on `request` (a row with requester, subject and
    agency_path). The one place these rules live."""
    path = request["agency_path"]
    if transition.by == REQUESTER:
        return principal.user_id is not None and principal.user_id == request["requester"]
    if transition.by == DECIDER:
        return is_decider(principal, request)
    if transition.by == OPERATOR:
        return principal.covers("operator", path)
    return False


def is_decider(principal: Principal, request: Mapping[str, Any]) -> bool:
    """A head of the request's agency or an ancestor; never for their own request or certificate
    (a head's own request therefore goes to the head above)."""
    if principal.is_system or not principal.covers("head", request["agency_path"]):
        return False
    if principal.user_id is not None and principal.user_id == request["requester"]:
        return False
    return not (principal.person_id is not None and principal.person_id == request["subject"])
