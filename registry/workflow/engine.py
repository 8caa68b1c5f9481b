"""The one engine that moves records of every flow through their machines.

A flow (`Flow`) is a domain's use of the engine: its table (which mixes in `WorkflowRecord`), its machine,
its labels and the JSON of its own columns. The engine creates records, judges and applies transitions
with compare-and-set on the record's version, writes the history event and the audit entry, runs the
transition's effects, all in one transaction; it lists what waits for a decider across every flow, and
judges a whole list of decisions before writing any.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import msgspec
from piccolo.query.methods.raw import Raw
from piccolo.querystring import QueryString
from piccolo.table import Table

from registry import db, listing, pagination, subtree, validation
from registry.audit import service as audit
from registry.auth import permissions
from registry.auth import service as auth
from registry.auth.permissions import Involvement
from registry.auth.principal import Principal
from registry.compiled import Compiled, JoinedSelect, Value, frozen_condition
from registry.errors import Conflict, Forbidden, Invalid, NotFound, RegistryError
from registry.people import service as people
from registry.timeutil import now
from registry.workflow.machine import Machine, Transition
from registry.workflow.tables import WorkflowEvent

MAX_NOTE_LENGTH = validation.NOTE_LENGTH


@dataclass(frozen=True)
class Flow:
    """A domain's records moved by the engine."""

    name: str  # "cert", "account", ...: the `domain` of the API, the prefix of audit actions
    label: str  # "Yêu cầu chứng thư số"
    table: type[Table]
    machine: Machine
    kind_labels: Mapping[str, str]
    # The record's page, for links from the shared inbox and notifications.
    page_path: str  # e.g. "/requests/{id}"
    # Joined columns the domain's JSON needs, and that JSON.
    extra_columns: tuple[Any, ...] = ()
    describe: Callable[[Mapping[str, Any]], dict[str, Any]] = field(default=lambda row: {})
    # The audit log's object type, and the prefix of its actions (`cert_request.approve`); by default
    # `<name>_request`.
    record_type: str = ""

    def __post_init__(self) -> None:
        if not self.record_type:
            object.__setattr__(self, "record_type", f"{self.name}_request")

    def url(self, record_id: int) -> str:
        before, after = self._page_path_around_id
        return f"{before}{record_id}{after}"

    @cached_property
    def _page_path_around_id(self) -> tuple[str, str]:
        """`page_path` before and after its {id}: every record of a list has its url, and formatting the path
        anew each time took a tenth of the list's JSON (56 against 15 µs for 50 records)."""
        before, _, after = self.page_path.partition("{id}")
        return before.format(), after.format()

    def kind_label(self, kind: str) -> str:
        return self.kind_labels.get(kind, kind)

    @cached_property
    def record_query(self) -> Compiled:
        """One record with its joined names, by id (built once: eight joins take Piccolo longer to write
        out than the database takes to answer)."""
        table: Any = self.table
        return Compiled(lambda: table.select(*self.select_columns).where(table.id == Value("id")).first())

    @cached_property
    def records_query(self) -> JoinedSelect:
        """Records with their joined names, under conditions given per list (the select written out once)."""
        return JoinedSelect(self.table, lambda: self.select_columns)

    @cached_property
    def brief_query(self) -> JoinedSelect:
        """Records as a list page shows them (`brief_json`): the columns and names its rows need, without the
        details, decisions and certificates it does not show. A head's requests page and inbox page read
        their records in 7–8 ms instead of 12–14 at a million certificates on SQLite, 9–13 instead of 16–19
        on PostgreSQL (in process, both lists)."""
        table: Any = self.table
        # Every column a list may be ordered by (_SORT_TYPES) is among them: the page's cursor reads them.
        return JoinedSelect(table, lambda: (
            table.id, table.kind, table.state, table.urgent, table.summary, table.created_at,
            table.agency.code.as_alias("agency_code"), table.agency.name.as_alias("agency_name"),
            table.requester.username.as_alias("requester_username"),
            table.requester.person.full_name.as_alias("requester_name"),
        ))

    @cached_property
    def decision_query(self) -> JoinedSelect:
        """Records as judging and moving them needs: their own columns and their agency's code and path. The
        names of people and certificates are for pages; a 500-item decision read them from pages of the
        person and certificate tables that no recent request had touched: three quarters of its reading at
        a million certificates on PostgreSQL (47 of 62 ms)."""
        table: Any = self.table
        return JoinedSelect(table, lambda: (table.all_columns(), table.agency.code.as_alias("agency_code"),
                                            table.agency.path.as_alias("agency_path")))

    @cached_property
    def select_columns(self) -> tuple[Any, ...]:
        table: Any = self.table
        return (
            table.all_columns(),
            table.agency.code.as_alias("agency_code"),
            table.agency.name.as_alias("agency_name"),
            table.agency.path.as_alias("agency_path"),
            table.requester.username.as_alias("requester_username"),
            table.requester.person.full_name.as_alias("requester_name"),
            table.subject.full_name.as_alias("subject_name"),
            table.decided_by.username.as_alias("decided_by_username"),
            table.decided_by.person.full_name.as_alias("decided_by_name"),
            *self.extra_columns,
        )


@dataclass
class NewRecord:
    kind: str
    agency: Mapping[str, Any]  # the agency row (id, code, path)
    summary: str
    details: dict[str, Any]
    subject_person_id: int | None = None
    urgent: bool = False
    search_text: str = ""
    # The domain's own columns: {column name: value}.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Step:
    """What an effect is told: who moved which record of which flow, along which transition (None for the
    record's creation), with what note. `row` is the record as it was before the step."""

    actor: Principal
    flow: Flow
    row: Mapping[str, Any]
    transition: Transition | None
    note: str = ""

    @property
    def target(self) -> str:
        return self.transition.target if self.transition else self.flow.machine.initial


# --- creating -----------------------------------------------------------------------------------


async def create(actor: Principal, flow: Flow, new: NewRecord) -> int:
    """Insert a record in its machine's initial state with its first history event, audit entry and
    creation effects. Joins the caller's transaction (the caller checked the domain's rules)."""
    moment = now()
    initial = flow.machine.initial
    async with db.transaction():
        record = flow.table(
            kind=new.kind, state=initial, version=1, agency=new.agency["id"], requester=actor.user_id,
            subject=new.subject_person_id, urgent=new.urgent,
            details=json.dumps(new.details, ensure_ascii=False, default=str),
            summary=new.summary[:300], search_key=new.search_text[:400], created_at=moment, updated_at=moment,
            **new.extra,
        )
        await record.save()
        record_id = record.id  # type: ignore[attr-defined]
        await _record_event(actor, flow, record_id, "submit", "", initial, "", moment)
        audit.record(
            actor, f"{flow.record_type}.submit", flow.record_type, record_id,
            after={"kind": new.kind, "agency_code": new.agency["code"], "summary": new.summary, "urgent": new.urgent},
        )
        row = {"id": record_id, "kind": new.kind, "state": initial, "requester": actor.user_id,
               "subject": new.subject_person_id, "agency_path": new.agency["path"], "summary": new.summary,
               "urgent": new.urgent, **new.extra}
        step = Step(actor, flow, row, None)
        for effect in flow.machine.on_create:
            await effect(step)
    return record_id


async def _record_event(actor: Principal, flow: Flow, record_id: int, transition: str, from_state: str,
                        to_state: str, note: str, moment: Any) -> None:
    await WorkflowEvent.insert(
        WorkflowEvent(flow=flow.name, record_id=record_id, at=moment, actor_id=actor.user_id, actor=actor.label,
                      transition=transition, from_state=from_state, to_state=to_state, note=note)
    )


# --- reading ------------------------------------------------------------------------------------


async def find_row(flow: Flow, record_id: int) -> dict[str, Any] | None:
    return await flow.record_query.run(id=record_id)


def can_view(actor: Principal, row: Mapping[str, Any]) -> bool:
    if actor.is_system or permissions.is_involved(actor, Involvement.of(row)):
        return True
    return permissions.may(actor, "request.read", row["agency_path"])


async def get_visible_row(actor: Principal, flow: Flow, record_id: int) -> dict[str, Any]:
    row = await find_row(flow, record_id)
    if row is None or not can_view(actor, row):
        raise NotFound(f"no {flow.name} request {record_id}", code="request_not_found", params={"id": record_id})
    return row


_EVENTS = Compiled(lambda: WorkflowEvent.select().where(
    (WorkflowEvent.record_id == Value("record_id")) & (WorkflowEvent.flow == Value("flow"))
).order_by(WorkflowEvent.id))


async def history(flow: Flow, record_id: int) -> list[dict[str, Any]]:
    rows = await _EVENTS.run(record_id=record_id, flow=flow.name)
    machine = flow.machine
    names = await auth.names_of_users(r["actor_id"] for r in rows)
    return [
        {"at": r["at"], "actor": r["actor"], "actor_name": names.get(r["actor_id"]), "transition": r["transition"],
         "transition_label": _transition_label(machine, r["transition"]), "from_state": r["from_state"] or None,
         "to_state": r["to_state"], "to_state_label": machine.label(r["to_state"]), "note": r["note"] or None}
        for r in rows
    ]


def _transition_label(machine: Machine, name: str) -> str:
    transition = machine.get(name)
    return transition.label if transition else "Lập yêu cầu" if name == "submit" else name


def involvement(row: Mapping[str, Any], identities: Mapping[int, frozenset[int]] | None = None) -> Involvement:
    """Who filed the record and every person record that may be the person it is about."""
    subject = row.get("subject")
    subjects = (identities or {}).get(subject, frozenset({subject})) if subject else frozenset()
    return Involvement(requester=row.get("requester"), subjects=subjects)


def may_take(actor: Principal, transition: Transition, row: Mapping[str, Any],
             identities: Mapping[int, frozenset[int]] | None = None) -> bool:
    return permissions.may(actor, transition.action, row["agency_path"], involvement(row, identities))


def actions_for(actor: Principal, flow: Flow, row: Mapping[str, Any],
                listed: permissions.ListPermissions | None = None) -> list[str]:
    """The transitions the actor may take on the record now; `listed`: the answers of the list it is in."""
    answers = listed or permissions.ListPermissions(actor)
    state, agency_path, subject = row["state"], row["agency_path"], row.get("subject")
    # What `may` reads of the record besides the agency: whether the actor filed it, whether it is about them.
    filed = actor.user_id is not None and actor.user_id == row.get("requester")
    about = bool(subject) and actor.person_id is not None and actor.person_id == subject

    def available() -> tuple[str, ...]:
        involved = involvement(row)
        return tuple(t.name for t in flow.machine.available(state) if answers.may(t.action, agency_path, involved))

    # The records of a list share a few states, reaches and involvements: each combination is worked out once.
    return list(answers.derived(("actions", flow.name, state, answers.reach(agency_path), filed, about), available))


def record_json(actor: Principal, flow: Flow, row: Mapping[str, Any],
                events: list[dict[str, Any]] | None = None,
                listed: permissions.ListPermissions | None = None) -> dict[str, Any]:
    """The record as the API shows it: the engine's fields, then the domain's own. `listed`: the permission
    answers shared by the records of one list."""
    body = {
        **_record_head(flow, row),
        "subject": {"id": row["subject"], "full_name": row["subject_name"]} if row["subject"] else None,
        "details": _details(row["details"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "decided_at": row["decided_at"],
        "decided_by": row["decided_by_username"],
        "decided_by_name": row["decided_by_name"],
        "decision_note": row["decision_note"] or None,
        "url": flow.url(row["id"]),
        "actions": actions_for(actor, flow, row, listed),
        **flow.describe(row),
    }
    if events is not None:
        body["history"] = events
    return body


def brief_json(flow: Flow, row: Mapping[str, Any]) -> dict[str, Any]:
    """A record as a list page shows it (templates/requests/_rows.html), under `record_json`'s names: without
    the actions, details and domain fields a page of a hundred records never shows, and worked out for
    each of them (6.7 µs a record, this 1.2: 670 → 120 µs for a page of 100)."""
    return {**_record_head(flow, row), "created_at": row["created_at"], "url": flow.url(row["id"])}


def _record_head(flow: Flow, row: Mapping[str, Any]) -> dict[str, Any]:
    """The fields both forms of a record begin with, in the API's order: what it is, where it stands, whose
    it is, and who filed it."""
    return {
        "domain": flow.name,
        "id": row["id"],
        "kind": row["kind"],
        "kind_label": flow.kind_label(row["kind"]),
        "state": row["state"],
        "state_label": flow.machine.label(row["state"]),
        "agency_code": row["agency_code"],
        "agency_name": row["agency_name"],
        "summary": row["summary"],
        "urgent": row["urgent"],
        "requester": row["requester_username"],
        "requester_name": row["requester_name"],
    }


def _details(text: str | None) -> Any:
    """A record's details as written (json.dumps): msgspec reads a request's in a fifth of json's time (0.6
    against 2.9 µs); what only json reads (NaN, numbers beyond a float, lone surrogates) still reads the same."""
    if not text:
        return {}
    try:
        return _decode_details(text)
    except msgspec.DecodeError:
        return json.loads(text)


_decode_details = msgspec.json.Decoder().decode


async def get_record(actor: Principal, flow: Flow, record_id: int) -> dict[str, Any]:
    row = await get_visible_row(actor, flow, record_id)
    return record_json(actor, flow, row, await history(flow, record_id))


def _own_condition(actor: Principal, table: Any) -> Any:
    own = None
    if actor.user_id is not None:
        own = table.requester == actor.user_id
    if actor.person_id is not None:
        about_me = table.subject == actor.person_id
        own = about_me if own is None else own | about_me
    return own


def _visible_condition(actor: Principal, table: Any) -> Any:
    """The records of `table` the actor may see: in the subtrees where they read requests, or their own;
    written out once per known principal (`Principal.derived`, renewed with the data). A wide subtree's
    records are read in the list's order (the order indexes) and checked against its agencies, stopping at
    the page's end; a narrow one's found by agency and sorted (subtree.py)."""
    scoped = permissions.scope(actor, "request.read", table.agency.path)
    own = _own_condition(actor, table)
    visible = own if scoped is None else (scoped if own is None else scoped | own)
    return None if visible is None else frozen_condition(visible)


def _record_conditions(actor: Principal, flow: Flow, *, states: Iterable[str] | None, agency_code: str | None,
                       mine: bool, kind: str | None, urgent_only: bool, extra_condition: Any) -> list[Any] | None:
    """The where-clauses of `list_records`; None when the actor sees nothing."""
    table: Any = flow.table
    conditions = []
    if mine:
        own = _own_condition(actor, table)
        if own is None:
            return None
        conditions.append(own)
    elif not actor.is_system:
        visible = actor.derive(f"visible:{flow.name}", lambda: _visible_condition(actor, table))
        if visible is None:
            return None
        conditions.append(visible)
    if states:
        conditions.append(table.state.is_in(list(states)))
    if agency_code:
        conditions.append(table.agency.code == agency_code.strip().upper())
    if kind:
        conditions.append(table.kind == kind)
    if urgent_only:
        conditions.append(table.urgent == True)  # noqa: E712
    if extra_condition is not None:
        conditions.append(extra_condition)
    return conditions


async def list_records(actor: Principal, flow: Flow, **filters: Any) -> list[dict[str, Any]]:
    """Records the actor may see (theirs, or in the subtrees where they read requests), urgent first, then
    oldest first: the first page of `list_records_page`, which names the filters."""
    return (await list_records_page(actor, flow, **filters)).items


# The orders a list of records is read in, each total (ending with the id), so that a page's last row is
# where the next page starts (pagination.py): urgent first, then oldest first (requests); newest first
# (batches).
URGENT_OLDEST = (("urgent", False), ("created_at", True), ("id", True))
NEWEST = (("created_at", False), ("id", False))
_SORT_TYPES = {"urgent": bool, "created_at": datetime, "id": int}


async def list_records_page(
    actor: Principal,
    flow: Flow,
    *,
    states: Iterable[str] | None = None,
    agency_code: str | None = None,
    mine: bool = False,
    kind: str | None = None,
    urgent_only: bool = False,
    extra_condition: Any = None,
    limit: int = 200,
    cursor: str | None = None,
    order: Sequence[tuple[str, bool]] = URGENT_OLDEST,
    brief: bool = False,
) -> pagination.Page:
    """One page of `list_records`, after `cursor` (a previous page's `next_cursor`), in `order`. `brief`: the
    records as a list page shows them (`brief_json`), not as the API does."""
    after = pagination.decode_cursor(cursor, [_SORT_TYPES[column] for column, _ascending in order])
    await subtree.refresh_agency_paths()
    table: Any = flow.table
    conditions = _record_conditions(actor, flow, states=states, agency_code=agency_code, mine=mine, kind=kind,
                                     urgent_only=urgent_only, extra_condition=extra_condition)
    if conditions is None:
        return pagination.Page([], None)
    if after is not None:
        conditions.append(_after_cursor(table, order, after))
    query = flow.brief_query if brief else flow.records_query
    rows = await query.run(conditions, [(getattr(table, column), ascending) for column, ascending in order], limit + 1)
    page = pagination.page_of(rows, limit, lambda row: [
        bool(row[column]) if column == "urgent" else row[column] for column, _ascending in order])
    if brief:
        return pagination.Page([brief_json(flow, row) for row in page.items], page.next_cursor)
    listed = permissions.ListPermissions(actor)
    return pagination.Page([record_json(actor, flow, row, listed=listed) for row in page.items], page.next_cursor)


async def count_records(actor: Principal, flow: Flow, *, states: Iterable[str] | None = None, kind: str | None = None,
                        extra_condition: Any = None, limit: int = 200) -> int:
    """How many records `list_records` with the same filters would list, at most `limit`: one count, not
    every row read and turned into JSON (the to-do counters of every page)."""
    await subtree.refresh_agency_paths()
    table: Any = flow.table
    conditions = _record_conditions(actor, flow, states=states, agency_code=None, mine=False, kind=kind,
                                    urgent_only=False, extra_condition=extra_condition)
    if conditions is None:
        return 0
    query = table.select(table.id).limit(limit)
    for condition in conditions:
        query = query.where(condition)
    # Counted by the database, up to the cap: the ids themselves (up to a thousand for a department's unit
    # to-dos) were each sent and turned into a dict to be counted.
    (capped,) = await Raw(table=table, querystring=QueryString(
        "SELECT COUNT(*) AS n FROM ({}) AS capped", query.querystrings[0]))
    return capped["n"]


# --- the inbox: what waits for a decision, across every flow ----------------------------------------


async def _awaiting_decision_by(actor: Principal, flow: Flow, identity: frozenset[int]) -> Any:
    """Records of `flow` waiting for a decision the actor may take: in the subtrees where their role
    decides, minus those they filed or that are about them. None when they decide nothing there. Written
    out once per known principal (`Principal.derived`, renewed with the data, as `identity` is): every inbox
    and every page's to-do count asks for it."""
    if actor.is_system or not flow.machine.in_inbox:
        return None
    return actor.derive(f"awaiting:{flow.name}", lambda: _awaiting_condition(actor, flow, identity))


def _awaiting_condition(actor: Principal, flow: Flow, identity: frozenset[int]) -> Any:
    table: Any = flow.table
    approve = flow.machine.transitions[flow.machine.approve]
    scoped = permissions.scope(actor, approve.action, table.agency.path)
    if scoped is None:
        return None
    condition = table.state.is_in(sorted(flow.machine.awaiting_decision)) & scoped
    if permissions.POLICY[approve.action].not_involved:
        if actor.user_id is not None:
            condition = condition & ((table.requester != actor.user_id) | table.requester.is_null())
        if identity:
            condition = condition & (table.subject.not_in(sorted(identity)) | table.subject.is_null())
    return frozen_condition(condition)


async def _identity(actor: Principal) -> frozenset[int]:
    """The person records that may be the actor (`people.identity_of`), read once per known principal: two
    queries that every inbox and every page's to-do count asked again."""
    person_id = actor.person_id
    if person_id is None:
        return frozenset()
    return await actor.derive_read("identity", lambda: people.identity_of(person_id))


async def inbox(actor: Principal, flows: Sequence[Flow], limit: int = 500) -> list[dict[str, Any]]:
    """What waits for this actor's decision in every flow: urgent first, then oldest first."""
    return (await inbox_page(actor, flows, limit)).items


# The inbox merges the flows: urgent first, then oldest first, then by flow name and id (a total order).
_INBOX_CURSOR = (bool, datetime, str, int)
# Ids are positive 32-bit integers (serial columns): a bound below every id, and the highest there can be.
_BEFORE_EVERY_ID, _AFTER_EVERY_ID = 0, 2**31 - 1


async def inbox_page(actor: Principal, flows: Sequence[Flow], limit: int = 500,
                     cursor: str | None = None, *, brief: bool = False) -> pagination.Page:
    """One page of the inbox, after `cursor`: each flow reads its next `limit + 1` at most, the merge keeps
    the first `limit`. `brief`: the records as a list page shows them (`brief_json`)."""
    after = pagination.decode_cursor(cursor, _INBOX_CURSOR)
    await subtree.refresh_agency_paths()
    identity = await _identity(actor)
    items: list[tuple[Flow, dict[str, Any]]] = []
    for flow in flows:
        condition = await _awaiting_decision_by(actor, flow, identity)
        if condition is None:
            continue
        table: Any = flow.table
        conditions = [condition]
        if after is not None:
            urgent, created_at, domain, record_id = after
            # A flow sorting before the cursor's has given every row of that moment; one after it none yet.
            bound = record_id if flow.name == domain else _AFTER_EVERY_ID if flow.name < domain else _BEFORE_EVERY_ID
            conditions.append(_after_cursor(table, URGENT_OLDEST, (urgent, created_at, bound)))
        order = [(getattr(table, column), ascending) for column, ascending in URGENT_OLDEST]
        query = flow.brief_query if brief else flow.records_query
        items.extend((flow, row) for row in await query.run(conditions, order, limit + 1))
    items.sort(key=_inbox_key)
    page = pagination.page_of(items, limit, _inbox_key_values)
    if brief:
        return pagination.Page([brief_json(flow, row) for flow, row in page.items], page.next_cursor)
    listed = permissions.ListPermissions(actor)
    return pagination.Page([record_json(actor, flow, row, listed=listed) for flow, row in page.items],
                           page.next_cursor)


def _after_cursor(table: Any, order: Sequence[tuple[str, bool]], values: Sequence[Any]) -> Any:
    return listing.after([(listing.column_sql(getattr(table, column)), ascending) for column, ascending in order],
                         values)


def _inbox_key(item: tuple[Flow, Mapping[str, Any]]) -> tuple[Any, ...]:
    flow, row = item
    return not row["urgent"], row["created_at"], flow.name, row["id"]


def _inbox_key_values(item: tuple[Flow, Mapping[str, Any]]) -> tuple[Any, ...]:
    flow, row = item
    return bool(row["urgent"]), row["created_at"], flow.name, row["id"]


async def pending_count(actor: Principal, flows: Sequence[Flow]) -> int:
    deciding = [f for f in flows if f.machine.in_inbox]
    if actor.is_system or not any(permissions.may(actor, f.machine.transitions[f.machine.approve].action) for f in deciding):
        return 0
    identity = await _identity(actor)
    total = 0
    for flow in deciding:
        condition = await _awaiting_decision_by(actor, flow, identity)
        if condition is not None:
            total += await flow.table.count().where(condition)
    return total


# --- transitions --------------------------------------------------------------------------------


async def take(actor: Principal, flow: Flow, record_id: int, transition_name: str, note: str = "") -> dict[str, Any]:
    """Move one record along `transition_name`, or refuse with 404/403/409/422 and change nothing."""
    async with db.transaction():
        row = await get_visible_row(actor, flow, record_id)
        identities = await people.identities([row["subject"]] if row["subject"] else [])
        transition = judge(actor, flow, row, transition_name, note, identities)
        await apply(actor, flow, row, transition, note)
    return await get_record(actor, flow, record_id)


def judge(actor: Principal, flow: Flow, row: Mapping[str, Any], transition_name: str, note: str,
          identities: Mapping[int, frozenset[int]] | None = None) -> Transition:
    """The transition if the actor may take it on the record now; else the reason why not."""
    transition = flow.machine.get(transition_name)
    if transition is None:
        raise Invalid(f"{flow.name} requests have no action {transition_name}", code="unknown_action",
                      params={"action": transition_name})
    if row["state"] not in transition.sources:
        raise Conflict(
            f"request {row['id']} is {row['state']}; it can no longer be {transition.target}",
            code="state_changed",
            params={"id": row["id"], "state": flow.machine.label(row["state"]), "action": transition.label},
        )
    if not may_take(actor, transition, row, identities):
        if permissions.holds_role_for(actor, transition.action, row["agency_path"]):
            raise Forbidden(
                f"you cannot decide on request {row['id']}: it is your own or about you; the head above decides",
                code="own_request", params={"id": row["id"]},
            )
        raise Forbidden(f"your roles do not allow you to {transition.name} request {row['id']}",
                        code="not_permitted", params={"id": row["id"], "action": transition.label})
    cleaned = validation.text(note, required=False, max_length=validation.NOTE_LENGTH, field="reason")
    if transition.needs_note and not cleaned:
        raise Invalid(f"a reason is required to {transition.name} request {row['id']}", code="reason_required",
                      fields={"reason": "is required"}, params={"id": row["id"]})
    return transition


async def apply(actor: Principal, flow: Flow, row: Mapping[str, Any], transition: Transition, note: str,
                values: Mapping[Any, Any] | None = None) -> None:
    """Write a judged transition: compare-and-set on the version, history, audit, effects. `values` sets
    domain columns in the same update (e.g. the certificate a fulfilment issued)."""
    table: Any = flow.table
    moment = now()
    note = (note or "").strip()
    update: dict[Any, Any] = {table.state: transition.target, table.version: row["version"] + 1, table.updated_at: moment}
    if transition.decision:
        update.update({table.decided_by: actor.user_id, table.decided_at: moment, table.decision_note: note})
    update.update(values or {})
    # Compare-and-set: of two concurrent transitions, the second finds the version moved on.
    changed = await table.update(update).where(
        (table.id == row["id"]) & (table.version == row["version"]) & (table.state == row["state"])
    ).returning(table.id)
    if not changed:
        raise Conflict(f"request {row['id']} was changed by someone else; reload it", code="changed_concurrently",
                       params={"id": row["id"]})
    await _record_event(actor, flow, row["id"], transition.name, row["state"], transition.target, note, moment)
    audit.record(
        actor, f"{flow.record_type}.{transition.name}", flow.record_type, row["id"],
        before={"state": row["state"]}, after={"state": transition.target, "note": note or None},
    )
    step = Step(actor, flow, row, transition, note)
    for effect in transition.effects:
        await effect(step)


@dataclass(frozen=True)
class Decision:
    flow: Flow
    record_id: Any
    decision: str  # "approve" or "reject": the inbox's words, mapped to each machine's transitions
    note: str = ""


@dataclass
class Outcome:
    decision: Decision
    status: int = 200
    code: str | None = None
    error: str | None = None
    state: str | None = None

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "domain": self.decision.flow.name, "id": self.decision.record_id, "decision": self.decision.decision,
            "ok": self.error is None,
        }
        if self.error:
            body.update(status=self.status, code=self.code, error=self.error)
        else:
            body["state"] = self.state
        return body


async def decide(actor: Principal, decisions: Sequence[Decision]) -> list[dict[str, Any]]:
    """Approve and reject a whole list, of any flows, at once. Every item is judged before anything is
    written; if any fails, nothing is written and the error lists every item's outcome."""
    if not decisions:
        raise Invalid("nothing to decide: give ids to approve and/or reject", code="nothing_to_decide",
                      fields={"approve": "empty list"})
    async with db.transaction():
        outcomes = [Outcome(d) for d in decisions]
        seen: set[tuple[str, int]] = set()
        wanted: dict[str, tuple[Flow, list[int]]] = {}
        checked: list[int] = []
        for index, outcome in enumerate(outcomes):
            item = outcome.decision
            try:
                if not isinstance(item.record_id, int) or isinstance(item.record_id, bool):
                    raise Invalid(f"{item.record_id!r} is not a request id", code="invalid_id")
                if (item.flow.name, item.record_id) in seen:
                    raise Invalid(f"request {item.record_id} appears twice in the list", code="duplicate_item",
                                  params={"id": item.record_id})
                seen.add((item.flow.name, item.record_id))
                wanted.setdefault(item.flow.name, (item.flow, []))[1].append(item.record_id)
                checked.append(index)
            except RegistryError as error:
                _fail(outcome, error)
        # Every record of the list in one query per flow, not one per record.
        found = {name: await _visible_rows(actor, flow, ids) for name, (flow, ids) in wanted.items()}
        rows: dict[int, dict[str, Any]] = {}
        for index in checked:
            item = outcomes[index].decision
            row = found[item.flow.name].get(item.record_id)
            if row is None:
                _fail(outcomes[index], NotFound(f"no {item.flow.name} request {item.record_id}",
                                                code="request_not_found", params={"id": item.record_id}))
            else:
                rows[index] = row
        identities = await _subjects_seen_by(actor, [row["subject"] for row in rows.values() if row["subject"]])
        judged: list[tuple[Outcome, dict[str, Any], Transition]] = []
        for index, row in rows.items():
            outcome = outcomes[index]
            item = outcome.decision
            machine = item.flow.machine
            name = machine.approve if item.decision == "approve" else machine.reject
            try:
                if name is None:
                    raise Invalid(f"{item.flow.name} records are not decided in the inbox", code="not_decided_here")
                judged.append((outcome, row, judge(actor, item.flow, row, name, item.note, identities)))
            except RegistryError as error:
                _fail(outcome, error)
        failures = [o for o in outcomes if o.error]
        if failures:
            first = failures[0]
            error_class = {403: Forbidden, 404: NotFound, 409: Conflict}.get(first.status, Invalid)
            raise error_class(
                f"{len(failures)} of {len(outcomes)} decisions cannot be made, so none was: {first.error}",
                code="decisions_refused",
                params={"failed": len(failures), "total": len(outcomes), "first": first.error},
                extra={"results": [o.json() for o in outcomes]},
            )
        by_flow: dict[str, tuple[Flow, list[tuple[dict[str, Any], Transition, str]]]] = {}
        for outcome, row, transition in judged:
            by_flow.setdefault(outcome.decision.flow.name, (outcome.decision.flow, []))[1].append(
                (row, transition, outcome.decision.note))
            outcome.state = transition.target
        for flow, items in by_flow.values():
            await apply_many(actor, flow, items)
    return [o.json() for o in outcomes]


async def _subjects_seen_by(actor: Principal, subjects: list[int]) -> dict[int, frozenset[int]]:
    """For each subject, the person records that matter to `judge`: itself, and the actor's own record
    when the two may be the same human. Only whether the actor is the subject counts, and "may be the same
    human" is symmetric, so one look at the actor's identity answers for every subject: the identities of
    500 subjects would mean reading every record sharing any of their names or citizen IDs."""
    if actor.person_id is None or not subjects:
        return {}
    mine = await _identity(actor)
    return {subject: frozenset({subject, actor.person_id}) if subject in mine else frozenset({subject})
            for subject in set(subjects)}


async def _visible_rows(actor: Principal, flow: Flow, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The records of `ids` the actor may see, by id, as deciding needs them (`Flow.decision_query`)."""
    table: Any = flow.table
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        chunk = ids[start:start + _IDS_PER_STATEMENT]
        for row in await flow.decision_query.run([table.id.is_in(chunk)], (), len(chunk)):
            if can_view(actor, row):
                found[row["id"]] = row
    return found


_IDS_PER_STATEMENT = 5000


async def apply_many(actor: Principal, flow: Flow, items: Sequence[tuple[Mapping[str, Any], Transition, str]]) -> None:
    """Write many judged transitions of one flow at once, as `apply` writes one: one compare-and-set update
    per (transition, note, version, state) group, the history events in one insert, an audit entry each
    (chained at commit with the transaction's others), and the effects, those that can in one go."""
    table: Any = flow.table
    moment = now()
    cleaned = [(row, transition, (note or "").strip()) for row, transition, note in items]
    groups: dict[tuple[str, str, int, str], list[Mapping[str, Any]]] = {}
    transitions: dict[str, Transition] = {}
    for row, transition, note in cleaned:
        groups.setdefault((transition.name, note, row["version"], row["state"]), []).append(row)
        transitions[transition.name] = transition
    for (name, note, version, state), rows in groups.items():
        transition = transitions[name]
        update: dict[Any, Any] = {table.state: transition.target, table.version: version + 1, table.updated_at: moment}
        if transition.decision:
            update.update({table.decided_by: actor.user_id, table.decided_at: moment, table.decision_note: note})
        ids = [row["id"] for row in rows]
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            chunk = ids[start:start + _IDS_PER_STATEMENT]
            # Compare-and-set, as `apply`: a record another transaction moved on is not updated.
            changed = await table.update(update).where(
                table.id.is_in(chunk) & (table.version == version) & (table.state == state)
            ).returning(table.id)
            if len(changed) != len(chunk):
                missing = sorted(set(chunk) - {entry["id"] for entry in changed})[0]
                raise Conflict(f"request {missing} was changed by someone else; reload it",
                               code="changed_concurrently", params={"id": missing})
    await db.bulk_insert(WorkflowEvent, [
        {"flow": flow.name, "record_id": row["id"], "at": moment, "actor_id": actor.user_id, "actor": actor.label,
         "transition": transition.name, "from_state": row["state"], "to_state": transition.target, "note": note}
        for row, transition, note in cleaned
    ])
    for row, transition, note in cleaned:
        audit.record(
            actor, f"{flow.record_type}.{transition.name}", flow.record_type, row["id"],
            before={"state": row["state"]}, after={"state": transition.target, "note": note or None},
        )
    steps: dict[str, list[Step]] = {}
    for row, transition, note in cleaned:
        steps.setdefault(transition.name, []).append(Step(actor, flow, row, transition, note))
    for name, group in steps.items():
        for effect in transitions[name].effects:
            for_steps = getattr(effect, "for_steps", None)
            if for_steps is not None:
                await for_steps(group)
            else:
                for step in group:
                    await effect(step)


def _fail(outcome: Outcome, error: RegistryError) -> None:
    from registry.messages import message_for

    outcome.status, outcome.code, outcome.error = error.status_code, error.code, message_for(error)
