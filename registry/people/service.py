"""People: who they are, where they work, and who may see their restricted personal data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry import db, validation
from registry.agencies import service as agencies
from registry.audit import service as audit
from registry.auth.permissions import allowed, authorize, scope_paths
from registry.auth.principal import Principal
from registry.compiled import Compiled, Value
from registry.csvfile import read_rows
from registry.errors import Invalid, NotFound
from registry.listing import after, column_sql, key_of
from registry.pagination import Page, decode_cursor, page_of
from registry.people.tables import Person
from registry.subtree import within_subtrees
from registry.text import fold, search_words
from registry.timeutil import now

RESTRICTED_FIELDS = ("id_number", "date_of_birth", "phone")

FIELD_CHECKS = {
    "full_name": lambda value: validation.text(value, max_length=200),
    "position": lambda value: validation.text(value, required=False, max_length=200),
    "email": lambda value: validation.email(value, required=False),
    "id_number": lambda value: validation.citizen_id(value, required=False),
    "date_of_birth": lambda value: validation.birth_date(value, required=False),
    "phone": lambda value: validation.phone(value, required=False),
}

SELECT_COLUMNS = (
    Person.all_columns(),
    Person.agency.code.as_alias("agency_code"),
    Person.agency.name.as_alias("agency_name"),
    Person.agency.path.as_alias("agency_path"),
)


def person_json(row: Mapping[str, Any], *, restricted: bool) -> dict[str, Any]:
    body = {
        "id": row["id"],
        "full_name": row["full_name"],
        "position": row["position"],
        "email": row["email"],
        "agency_code": row["agency_code"],
        "agency_name": row["agency_name"],
        "left_at": row["left_at"],
        "departure_reason": row["departure_reason"] or None,
    }
    if restricted:
        body.update({name: row[name] for name in RESTRICTED_FIELDS})
    return body


def may_see_restricted(actor: Principal, row: Mapping[str, Any]) -> bool:
    return actor.person_id == row["id"] or allowed(actor, "person.read_restricted", row["agency_path"])


def check_fields(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    errors = validation.FieldErrors()
    cleaned: dict[str, Any] = {}
    for name, check in FIELD_CHECKS.items():
        if partial and name not in data:
            continue
        value = errors.check(name, data.get(name), check)
        if name not in errors.errors:
            cleaned[name] = value if value is not None else ("" if name != "date_of_birth" else None)
    errors.raise_if_any("invalid person")
    return cleaned


_BY_ID = Compiled(lambda: Person.select(*SELECT_COLUMNS).where(Person.id == Value("id")).first())


async def find_row(person_id: int) -> dict[str, Any] | None:
    return await _BY_ID.run(id=person_id)


async def get_row(person_id: int) -> dict[str, Any]:
    row = await find_row(person_id)
    if row is None:
        raise NotFound(f"no person with id {person_id}")
    return row


async def find_by_id_number(id_number: str) -> dict[str, Any] | None:
    """The one person with this citizen ID, anywhere in the province."""
    if not id_number:
        return None
    return await Person.select(*SELECT_COLUMNS).where(Person.id_number == id_number).first()


async def _refuse_taken_id_number(id_number: str | None, person_id: int | None = None) -> None:
    """Citizen IDs are unique province-wide: a person is one person, wherever they work."""
    if not id_number:
        return
    other = await Person.select(Person.id).where(Person.id_number == id_number).first()
    if other is not None and other["id"] != person_id:
        raise Invalid(
            "another person already has this citizen ID", code="id_number_taken",
            fields={"id_number": "belongs to another person"},
        )


async def insert_person(agency: Mapping[str, Any], fields: Mapping[str, Any]) -> int:
    await _refuse_taken_id_number(fields.get("id_number"))
    moment = now()
    person = Person(
        agency=agency["id"],
        search_key=fold(fields["full_name"]),
        created_at=moment,
        updated_at=moment,
        **fields,
    )
    await person.save()
    return person.id


async def create_person(actor: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
    fields = check_fields(data)
    async with db.transaction():
        agency = await agencies.named_in_input(data.get("agency_code"))
        authorize(actor, "person.manage", agency["path"])
        person_id = await insert_person(agency, fields)
        audit.record(actor, "person.create", "person", person_id, after={**fields, "agency_code": agency["code"]})
    return await get_person(actor, person_id)


async def get_person(actor: Principal, person_id: int) -> dict[str, Any]:
    row = await get_row(person_id)
    if actor.person_id != row["id"] and not allowed(actor, "person.read", row["agency_path"]):
        # Outside one's scope a person "does not exist": no probing of who works where.
        raise NotFound(f"no person with id {person_id}")
    return person_json(row, restricted=may_see_restricted(actor, row))


async def update_person(actor: Principal, person_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(FIELD_CHECKS))
    if unknown:
        raise Invalid(
            f"these fields cannot be changed here: {', '.join(unknown)}",
            fields={name: "cannot be changed here" for name in unknown},
            field_codes={name: "field_not_changeable" for name in unknown},
        )
    cleaned = check_fields(changes, partial=True)
    async with db.transaction():
        row = await get_row(person_id)
        if actor.person_id != row["id"] and not allowed(actor, "person.read", row["agency_path"]):
            # As for reading: outside one's scope the person does not exist (a 403 would confirm the id).
            raise NotFound(f"no person with id {person_id}")
        authorize(actor, "person.manage", row["agency_path"])
        changed = {key: value for key, value in cleaned.items() if row[key] != value}
        if "id_number" in changed:
            await _refuse_taken_id_number(changed["id_number"], person_id)
        if changed:
            values = {getattr(Person, key): value for key, value in changed.items()}
            values[Person.updated_at] = now()
            if "full_name" in changed:
                values[Person.search_key] = fold(changed["full_name"])
            await Person.update(values).where(Person.id == person_id)
            audit.record(
                actor, "person.update", "person", person_id,
                before={key: row[key] for key in changed}, after=changed,
            )
    return await get_person(actor, person_id)


async def list_people(
    actor: Principal, *, agency_code: str | None = None, q: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """People in the actor's reach (or in `agency_code`'s subtree, if within reach)."""
    return (await people_page(actor, agency_code=agency_code, q=q, limit=limit)).items


# People by name (their search key), then by id so that the order is total.
PERSON_ORDER = ((Person.search_key, True), (Person.id, True))


async def people_page(actor: Principal, *, agency_code: str | None = None, q: str | None = None, limit: int = 200,
                      cursor: str | None = None) -> Page:
    """A page of the people `list_people` lists (keyset: the first `limit` after `cursor`)."""
    after_key = decode_cursor(cursor, [str, int])
    scopes = scope_paths(actor, "person.read")
    if agency_code:
        agency = await agencies.get_row(agency_code)
        if not allowed(actor, "person.read", agency["path"]):
            raise NotFound(f"no agency with code {agency_code}")
        scopes = [agency["path"]]
    if not scopes and not actor.is_system:
        return Page([], None)
    query = Person.select(*SELECT_COLUMNS).limit(limit + 1)
    for column, ascending in PERSON_ORDER:
        query = query.order_by(column, ascending=ascending)
    if scopes:
        query = query.where(within_subtrees(Person.agency.path, scopes))
    for word in search_words(q):
        query = query.where(Person.search_key.like(f"%{word}%"))
    if after_key is not None:
        query = query.where(after([(column_sql(column), ascending) for column, ascending in PERSON_ORDER], after_key))
    page = page_of(await query, limit, key_of(["search_key", "id"]))
    return Page([person_json(row, restricted=may_see_restricted(actor, row)) for row in page.items], page.next_cursor)


# --- one person, one identity ---------------------------------------------------------------------


def _same_human(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two person records are, or cannot be told apart from, the same human being: the same
    citizen ID; or, where either has no ID, the same name and no differing date of birth."""
    if a["id"] == b["id"]:
        return True
    if a["id_number"] and b["id_number"]:
        return a["id_number"] == b["id_number"]
    if a["search_key"] != b["search_key"]:
        return False
    return a["date_of_birth"] is None or b["date_of_birth"] is None or a["date_of_birth"] == b["date_of_birth"]


async def identities(person_ids: list[int]) -> dict[int, frozenset[int]]:
    """For each person id, every person record that may be the same human (itself included)."""
    wanted = sorted(set(person_ids))
    if not wanted:
        return {}
    columns = (Person.id, Person.id_number, Person.search_key, Person.date_of_birth)
    people = await Person.select(*columns).where(Person.id.is_in(wanted))
    numbers = sorted({p["id_number"] for p in people if p["id_number"]})
    # Someone with a citizen ID is the same human as another record with that ID, or as one of their name
    # that has none; someone without, as any record of their name. Only those are read: a common name
    # alone is shared by tens of thousands of records at national scale.
    any_of_name = sorted({p["search_key"] for p in people if not p["id_number"]})
    without_id_of_name = sorted({p["search_key"] for p in people if p["id_number"]} - set(any_of_name))
    conditions = []
    if numbers:
        conditions.append(Person.id_number.is_in(numbers))
    if any_of_name:
        conditions.append(Person.search_key.is_in(any_of_name))
    if without_id_of_name:
        conditions.append(Person.search_key.is_in(without_id_of_name) & (
            Person.id_number.is_null() | (Person.id_number == "")))
    condition = None
    for extra in conditions:
        condition = extra if condition is None else condition | extra
    candidates = await Person.select(*columns).where(condition) if condition is not None else []
    # A candidate shares the citizen ID or the name of whom it may be: look only there, not at every
    # candidate for every person (500 people of common names meet tens of thousands of candidates).
    by_number: dict[str, list[Mapping[str, Any]]] = {}
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for candidate in candidates:
        if candidate["id_number"]:
            by_number.setdefault(candidate["id_number"], []).append(candidate)
        by_name.setdefault(candidate["search_key"], []).append(candidate)

    def same_human_as(person: Mapping[str, Any]) -> frozenset[int]:
        near = by_name.get(person["search_key"], []) + by_number.get(person["id_number"], []) if person[
            "id_number"] else by_name.get(person["search_key"], [])
        return frozenset(c["id"] for c in near if _same_human(person, c)) | {person["id"]}

    return {p["id"]: same_human_as(p) for p in people}


async def identity_of(person_id: int) -> frozenset[int]:
    return (await identities([person_id])).get(person_id, frozenset({person_id}))


# --- CSV import of a unit's people ----------------------------------------------------------------

IMPORT_COLUMNS = ("full_name", "agency_code")


async def import_csv(actor: Principal, content: bytes) -> dict[str, Any]:
    """People from a CSV (header full_name,agency_code and any of position, email, id_number,
    date_of_birth, phone). All or nothing: every error is named with its line and field."""
    rows = read_rows(content, IMPORT_COLUMNS)
    if not rows:
        raise Invalid("the file has no people", code="csv_empty")
    problems: list[str] = []
    # The same, for pages: (line, field, catalogue code, its values).
    line_codes: list[tuple[int, str, str, dict[str, Any]]] = []

    def problem(line: int, field: str, english: str, code: str, **params: Any) -> None:
        problems.append(f"line {line}, {field}: {english}")
        line_codes.append((line, field, code, params))

    checked: list[tuple[int, dict[str, Any], str]] = []
    seen_ids: dict[str, int] = {}
    for line, record in rows:
        try:
            fields = check_fields({name: record.get(name, "") for name in FIELD_CHECKS})
        except Invalid as error:
            for name, message in error.fields.items():
                code, params = error.field_codes.get(name, (error.code, error.params))
                problem(line, name, message, code, **params)
            continue
        number = fields.get("id_number")
        if number:
            if number in seen_ids:
                problem(line, "id_number", f"repeats line {seen_ids[number]}", "duplicate_line", line=seen_ids[number])
            seen_ids[number] = line
        checked.append((line, fields, record.get("agency_code", "").strip().upper()))
    async with db.transaction():
        agencies_by_code: dict[str, dict[str, Any]] = {}
        for line, fields, code in checked:
            if code not in agencies_by_code:
                agencies_by_code[code] = await agencies.find_row(code) if code else None
            agency = agencies_by_code[code]
            if agency is None:
                problem(line, "agency_code", f"no agency {code or '(empty)'}", "no_such_agency")
            elif not allowed(actor, "person.manage", agency["path"]):
                problem(line, "agency_code", "outside your agencies", "not_permitted_here")
            elif fields.get("id_number") and await find_by_id_number(fields["id_number"]):
                problem(line, "id_number", "belongs to a person already in the registry", "id_number_taken")
        if problems:
            error = Invalid("; ".join(problems[:50]) + ("" if len(problems) <= 50 else f"; and {len(problems) - 50} more"),
                            code="csv_rows_invalid", params={"count": len(problems)}, extra={"problems": problems})
            error.line_codes = line_codes  # type: ignore[attr-defined]
            raise error
        created = []
        for _line, fields, code in checked:
            person_id = await insert_person(agencies_by_code[code], fields)
            created.append(person_id)
        audit.record(actor, "person.import", "person", f"{len(created)} people",
                     after={"count": len(created), "ids": created[:1000]})
    return {"created": len(created), "ids": created}
