"""People: who they are, where they work, and who may see their restricted personal data."""

from __future__ import annotations

from typing import Any, Mapping

from registry import db, validation
from registry.agencies import service as agencies
from registry.audit import service as audit
from registry.auth.permissions import allowed, authorize
from registry.auth.principal import Principal
from registry.errors import Invalid, NotFound
from registry.people.tables import Person
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


async def find_row(person_id: int) -> dict[str, Any] | None:
    return await Person.select(*SELECT_COLUMNS).where(Person.id == person_id).first()


async def get_row(person_id: int) -> dict[str, Any]:
    row = await find_row(person_id)
    if row is None:
        raise NotFound(f"no person with id {person_id}")
    return row


async def insert_person(agency: Mapping[str, Any], fields: Mapping[str, Any]) -> int:
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
        )
    cleaned = check_fields(changes, partial=True)
    async with db.transaction():
        row = await get_row(person_id)
        if actor.person_id != row["id"] and not allowed(actor, "person.read", row["agency_path"]):
            # As for reading: outside one's scope the person does not exist (a 403 would confirm the id).
            raise NotFound(f"no person with id {person_id}")
        authorize(actor, "person.manage", row["agency_path"])
        changed = {key: value for key, value in cleaned.items() if row[key] != value}
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
    scopes = actor.scope_paths("clerk", "head", "operator", "admin")
    if agency_code:
        agency = await agencies.get_row(agency_code)
        if not allowed(actor, "person.read", agency["path"]):
            raise NotFound(f"no agency with code {agency_code}")
        scopes = [agency["path"]]
    if not scopes and not actor.is_system:
        return []
    query = Person.select(*SELECT_COLUMNS).order_by(Person.search_key).limit(limit)
    if scopes:
        query = query.where(agencies.under_any(Person.agency.path, scopes))
    for word in search_words(q):
        query = query.where(Person.search_key.like(f"%{word}%"))
    rows = await query
    return [person_json(row, restricted=may_see_restricted(actor, row)) for row in rows]
