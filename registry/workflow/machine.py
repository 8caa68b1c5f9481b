"""State machines, declared by the domains that use them: states with their labels, the initial state,
transitions (with the policy action each needs and whether a note is required) and effects.

The engine (`registry.workflow.engine`) moves any record through its machine; it knows nothing of
certificates, accounts or specimens. A machine names which of its transitions the shared inbox offers as
"approve" and "reject", so that one list holds the decisions of every domain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from registry.workflow.engine import Step

# Something a transition (or the creation of a record) does besides changing the state, inside the same
# transaction: notify people, mark a certificate, supersede a specimen...
Effect = Callable[["Step"], Awaitable[None]]


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str
    # The policy action (registry.auth.permissions.POLICY) the actor needs on the record.
    action: str
    label: str
    needs_note: bool = False
    # A decision on the record (approve, reject, publish...): who and when are recorded on the record.
    decision: bool = False
    effects: tuple[Effect, ...] = ()


@dataclass(frozen=True)
class Machine:
    states: Mapping[str, str]  # state → Vietnamese label, in the order of the record's life
    initial: str
    transitions: Mapping[str, Transition]
    # States in which a record still waits for something (one open request per certificate and kind...).
    open_states: frozenset[str]
    # Effects of creating a record (e.g. telling the heads that a request waits for them).
    on_create: tuple[Effect, ...] = ()
    # The transitions the shared inbox offers as "approve" and "reject"; None for records that are
    # never decided there (a batch to the CA, say).
    approve: str | None = "approve"
    reject: str | None = "reject"

    def __post_init__(self) -> None:
        if self.initial not in self.states:
            raise ValueError(f"initial state {self.initial} is not a state")
        for transition in self.transitions.values():
            unknown = (set(transition.sources) | {transition.target}) - set(self.states)
            if unknown:
                raise ValueError(f"transition {transition.name} names unknown states {sorted(unknown)}")
        for name in (self.approve, self.reject):
            if name is not None and name not in self.transitions:
                raise ValueError(f"the inbox transition {name} is not declared")

    def get(self, name: str) -> Transition | None:
        return self.transitions.get(name)

    def available(self, state: str) -> list[Transition]:
        return [t for t in self.transitions.values() if state in t.sources]

    def label(self, state: str) -> str:
        return self.states.get(state, state)

    @property
    def decision_transitions(self) -> list[Transition]:
        return [t for t in self.transitions.values() if t.decision]

    @property
    def in_inbox(self) -> bool:
        return self.approve is not None and self.reject is not None

    @property
    def awaiting_decision(self) -> frozenset[str]:
        """States in which a record waits for the inbox's decision."""
        return frozenset(self.transitions[self.approve].sources) if self.approve else frozenset()

    def with_transition(self, transition: Transition) -> Machine:
        return replace(self, transitions={**self.transitions, transition.name: transition})


def machine(states: Mapping[str, str], initial: str, *transitions: Transition, open_states: frozenset[str],
            on_create: tuple[Effect, ...] = (), approve: str | None = "approve", reject: str | None = "reject") -> Machine:
    return Machine(
        states=dict(states), initial=initial, transitions={t.name: t for t in transitions},
        open_states=open_states, on_create=on_create, approve=approve, reject=reject,
    )
