"""Agency rules: codes, the tree, renames with history, CSV import, the operator agency."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from registry import db, subtree, validation
from registry.agencies.codes import AgencyCode, check_child_code, parse_code
from registry.agencies.tables import Agency, AgencyName, RegistrySetting
from registry.audit import service as audit
from registry.auth.permissions import allowed, authorize
from registry.auth.principal import Principal
from registry.compiled import Compiled, Value, value_list
from registry.csvfile import read_rows
from registry.errors import Conflict, Invalid, NotFound
from registry.listing import after, column_sql, key_of
from registry.pagination import Page, decode_cursor, page_of
from registry.subtree import within_subtrees
from registry.text import fold, search_words
from registry.timeutil import now

# Fields an agency carries besides its code and parent, with their checks.
DETAIL_FIELDS: dict[str, Callable[[Any], str]] = {
    "name": lambda value: validation.text(value, max_length=300),
    "short_name": lambda value: validation.text(value, required=False, max_length=100),
    "address": lambda value: validation.text(value, required=False, max_length=500),
    "tax_code": lambda value: validation.tax_code(value, required=False),
    "budget_code": lambda value: validation.budget_code(value, required=False),
    "email": lambda value: validation.email(value, required=False),
}

SELECT_COLUMNS = (
    Agency.all_columns(),
    Agency.parent.code.as_alias("parent_code"),
)

OPERATOR_AGENCY_KEY = "operator_agency"


def search_key(code: str, name: str, short_name: str) -> str:
    return " ".join(part for part in (fold(name), fold(short_name), code.lower()) if part)


def agency_json(row: Mapping[str, Any], names: list[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    body = {
        "code": row["code"],
        "name": row["name"],
        "short_name": row["short_name"],
        "parent_code": row.get("parent_code"),
        "level": parse_code(row["code"]).level,
        "address": row["address"],
        "tax_code": row["tax_code"],
        "budget_code": row["budget_code"],
        "email": row["email"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if names is not None:
        body["names"] = [
            {"name": n["name"], "short_name": n["short_name"], "valid_from": n["valid_from"], "valid_to": n["valid_to"]}
            for n in names
        ]
    return body


def check_details(data: Mapping[str, Any], errors: validation.FieldErrors, *, partial: bool = False) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for name, check in DETAIL_FIELDS.items():
        if partial and name not in data:
            continue
        value = errors.check(name, data.get(name), check)
        if value is not None:
            cleaned[name] = value
    return cleaned


_BY_CODE = Compiled(lambda: Agency.select(*SELECT_COLUMNS).where(Agency.code == Value("code")).first())


async def find_row(code: str) -> dict[str, Any] | None:
    return await _BY_CODE.run(code=code.strip().upper())


async def get_row(code: str) -> dict[str, Any]:
    row = await find_row(code)
    if row is None:
        raise NotFound(f"no agency with code {code}")
    return row


async def named_in_input(code: Any, field: str = "agency_code") -> dict[str, Any]:
    """The agency a request body names in `field`: a 422 naming the field when absent or unknown."""
    if not isinstance(code, str) or not code.strip():
        raise Invalid(f"{field} is required", fields={field: "is required"}, field_codes={field: "required"})
    row = await find_row(code)
    if row is None:
        raise Invalid(f"unknown agency {code}", fields={field: "no such agency"}, field_codes={field: "no_such_agency"})
    return row


async def get_agency(code: str) -> dict[str, Any]:
    return await agency_with_names(await get_row(code))


async def agency_with_names(row: Mapping[str, Any]) -> dict[str, Any]:
    """The agency of a `find_row` row with every name it has carried."""
    return agency_json(row, await _NAMES_OF.run(agency=row["id"]))


# The agency page's queries, built once (compiled.py): Piccolo's writing out of these three took a third of
# the page (issue 12).
_NAMES_OF = Compiled(lambda: AgencyName.select().where(AgencyName.agency == Value("agency")).order_by(
    AgencyName.valid_from))
_children_queries: dict[int, Compiled] = {}


def _children_query(limit: int) -> Compiled:
    """`agencies_page(parent_id=…, limit=limit)`'s query, with the parent's id as its value."""
    query = _children_queries.get(limit)
    if query is None:
        query = _children_queries[limit] = Compiled(
            lambda: _page_in_tree_order(limit).where(Agency.parent == Value("parent")))
    return query


async def children_of(row: Mapping[str, Any], limit: int = 100) -> list[dict[str, Any]]:
    """The agencies directly under the agency of a `find_row` row, in tree order: `agencies_page(parent_id=…)`'s
    first page."""
    rows = await _children_query(limit).run(parent=row["id"])
    return [agency_json(child) for child in page_of(rows, limit, key_of(["path", "id"])).items]


async def ancestors_of(row: Mapping[str, Any], at_most: int = 10) -> list[dict[str, Any]]:
    """Codes and names of the agencies above the agency of a `find_row` row, the nearest `at_most` of them,
    from the top down: one query, as the path names them all ("/1/6/9/" is 9 under 6 under 1)."""
    ids = [int(part) for part in row["path"].strip("/").split("/")[:-1]][-at_most:] if at_most > 0 else []
    if not ids:
        return []
    return await Agency.raw(_ANCESTORS_SQL.format(value_list(len(ids))), *ids)


# Plain SQL (a list of ids as long as the tree is deep): its {} takes `value_list(len(ids))`.
_ANCESTORS_SQL = "SELECT code, name FROM agency WHERE id IN ({}) ORDER BY depth"


async def list_agencies(*, q: str | None = None, parent_code: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    return (await agencies_page(q=q, parent_code=parent_code, limit=limit)).items


# A list of agencies in tree order (path), then by id so that the order is total.
AGENCY_ORDER = ((Agency.path, True), (Agency.id, True))


def _page_in_tree_order(limit: int) -> Any:
    """The select of a page of agencies: their columns in tree order, one more than `limit` (page_of)."""
    query = Agency.select(*SELECT_COLUMNS).limit(limit + 1)
    for column, ascending in AGENCY_ORDER:
        query = query.order_by(column, ascending=ascending)
    return query


async def agencies_page(*, q: str | None = None, parent_code: str | None = None, parent_id: int | None = None,
                        limit: int = 100, cursor: str | None = None) -> Page:
    """A page of agencies (keyset: the first `limit` after `cursor`), in tree order; those directly under
    the agency `parent_code` (or `parent_id`) when given."""
    after_key = decode_cursor(cursor, [str, int])
    query = _page_in_tree_order(limit)
    if parent_code:
        parent_id = (await get_row(parent_code))["id"]
    if parent_id is not None:
        query = query.where(Agency.parent == parent_id)
    for word in search_words(q):
        query = query.where(Agency.search_key.like(f"%{word}%"))
    if after_key is not None:
        query = query.where(after([(column_sql(column), ascending) for column, ascending in AGENCY_ORDER], after_key))
    page = page_of(await query, limit, key_of(["path", "id"]))
    return Page([agency_json(row) for row in page.items], page.next_cursor)


async def tree(within: Iterable[str] | None = None, *, at_most: int | None = None) -> list[dict[str, Any]] | None:
    """Every agency in depth-first order with its depth, for the browsable tree page; only those in the
    subtrees `within` (paths) when given. With `at_most`: None when there are more than that many."""
    if at_most is not None:
        # Far more than `at_most` is told by the paths kept for the planner (a minute old at most): reading
        # 301 whole rows to drop them was a fifth of a department head's certificates page at national size.
        await subtree.refresh_agency_paths()
        known = subtree.agencies_within(within)
        if known is not None and known > 2 * at_most:
            return None
    query = Agency.select(Agency.id, Agency.code, Agency.name, Agency.short_name, Agency.depth, Agency.path,
                          Agency.parent).order_by(Agency.path)
    if within is not None:
        condition = within_subtrees(Agency.path, within)
        if condition is None:
            return []
        query = query.where(condition)
    if at_most is not None:
        query = query.limit(at_most + 1)
    rows = await query
    if at_most is not None and len(rows) > at_most:
        return None
    # Paths sort by id text ("/1/10/" before "/1/2/"), so order siblings by code instead.
    children: dict[int | None, list[dict[str, Any]]] = {}
    for row in rows:
        children.setdefault(row["parent"], []).append(row)
    ordered: list[dict[str, Any]] = []

    def walk(parent_id: int | None) -> None:
        for row in sorted(children.get(parent_id, []), key=lambda r: r["code"]):
            row["child_count"] = len(children.get(row["id"], []))
            ordered.append(row)
            walk(row["id"])

    # The tops of what was read: the root, or the agencies whose parent lies outside the subtrees.
    ids = {row["id"] for row in rows}
    for top in sorted({row["parent"] for row in rows if row["parent"] not in ids}, key=lambda parent: parent or 0):
        walk(top)
    return ordered


# --- writes -------------------------------------------------------------------------------------


def _resolve_parent_code(data: Mapping[str, Any]) -> str | None:
    raw = data.get("parent_code")
    return raw.strip().upper() if isinstance(raw, str) and raw.strip() else None


async def _insert(code: AgencyCode, details: dict[str, str], parent: Mapping[str, Any] | None) -> dict[str, Any]:
    moment = now()
    row = Agency(
        code=code.text,
        parent=parent["id"] if parent else None,
        depth=(parent["depth"] + 1) if parent else 0,
        search_key=search_key(code.text, details["name"], details.get("short_name", "")),
        created_at=moment,
        updated_at=moment,
        **details,
    )
    await row.save()
    path = f"{parent['path'] if parent else '/'}{row.id}/"
    await Agency.update({Agency.path: path}).where(Agency.id == row.id)
    await AgencyName.insert(
        AgencyName(agency=row.id, name=details["name"], short_name=details.get("short_name", ""), valid_from=moment)
    )
    return {**row.to_dict(), "path": path, "parent_code": parent["code"] if parent else None}


async def create_agency(actor: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
    errors = validation.FieldErrors()
    code = errors.check("code", data.get("code"), parse_code)
    details = check_details(data, errors)
    parent_code = _resolve_parent_code(data)
    parent_parsed = errors.check("parent_code", parent_code, lambda v: parse_code(v, "parent_code")) if parent_code else None
    errors.raise_if_any("invalid agency")
    assert code is not None
    async with db.transaction():
        parent = None
        if parent_code:
            parent = await find_row(parent_code)
            if parent is None:
                raise Invalid(f"unknown parent agency {parent_code}", fields={"parent_code": "no such agency"},
                              field_codes={"parent_code": "no_such_agency"})
            check_child_code(code, parent_parsed)
        authorize(actor, "agency.create", parent["path"] if parent else "")
        if await find_row(code.text) is not None:
            raise Conflict(f"an agency with code {code.text} already exists")
        created = await _insert(code, details, parent)
        audit.record(actor, "agency.create", "agency", code.text, after=_audited(created))
        await _public_pages_changed()
    return await get_agency(code.text)


def _audited(row: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("code", "name", "short_name", "parent_code", "address", "tax_code", "budget_code", "email")
    return {key: row.get(key) for key in keys}


async def update_agency(actor: Principal, code: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change an agency's details. A new name closes the old one's validity and opens the new one's."""
    unknown = sorted(set(changes) - set(DETAIL_FIELDS))
    if unknown:
        raise Invalid(
            f"these fields cannot be changed here: {', '.join(unknown)}",
            fields={name: "cannot be changed here" for name in unknown},
            field_codes={name: "field_not_changeable" for name in unknown},
        )
    errors = validation.FieldErrors()
    cleaned = check_details(changes, errors, partial=True)
    errors.raise_if_any("invalid agency")
    async with db.transaction():
        row = await get_row(code)
        authorize(actor, "agency.update", row["path"])
        if await _apply_changes(actor, row, cleaned):
            await _public_pages_changed()
    return await get_agency(row["code"])


async def _public_pages_changed() -> None:
    """The public portal shows agencies: its caches learn of the change (inside the transaction)."""
    from registry.specimens import service as specimens

    await specimens.bump_publication()


async def _apply_changes(actor: Principal, row: Mapping[str, Any], cleaned: Mapping[str, str]) -> bool:
    changed = {key: value for key, value in cleaned.items() if row[key] != value}
    if not changed:
        return False
    moment = now()
    if "name" in changed or "short_name" in changed:
        await AgencyName.update({AgencyName.valid_to: moment}).where(
            (AgencyName.agency == row["id"]) & AgencyName.valid_to.is_null()
        )
        await AgencyName.insert(
            AgencyName(
                agency=row["id"],
                name=changed.get("name", row["name"]),
                short_name=changed.get("short_name", row["short_name"]),
                valid_from=moment,
            )
        )
    merged = {**row, **changed}
    await Agency.update(
        {
            **{getattr(Agency, key): value for key, value in changed.items()},
            Agency.search_key: search_key(row["code"], merged["name"], merged["short_name"]),
            Agency.updated_at: moment,
        }
    ).where(Agency.id == row["id"])
    if "name" in changed:
        # A renamed agency's organisation specimen is withdrawn; it publishes a new one (Đ6.2).
        from registry.specimens import service as specimens

        await specimens.agency_renamed(row["id"], actor=actor)
    action = "agency.rename" if "name" in changed else "agency.update"
    audit.record(
        actor, action, "agency", row["code"],
        before={key: row[key] for key in changed}, after=changed,
    )
    return True


# --- operator agency ----------------------------------------------------------------------------


async def operator_agency_code(configured: str | None) -> str | None:
    """The agency acting as DoIT: the environment's choice, else the stored setting, else the tree's root."""
    if configured:
        return configured
    stored = await RegistrySetting.select(RegistrySetting.value).where(RegistrySetting.key == OPERATOR_AGENCY_KEY).first()
    if stored and stored["value"]:
        return stored["value"]
    root = await Agency.select(Agency.code).where(Agency.parent.is_null()).order_by(Agency.id).first()
    return root["code"] if root else None


async def set_operator_agency(actor: Principal, code: str) -> None:
    authorize(actor, "settings.update")
    async with db.transaction():
        row = await get_row(code)
        current = await RegistrySetting.select().where(RegistrySetting.key == OPERATOR_AGENCY_KEY).first()
        if current and current["value"] == row["code"]:
            return
        if current:
            await RegistrySetting.update({RegistrySetting.value: row["code"], RegistrySetting.updated_at: now()}).where(
                RegistrySetting.id == current["id"]
            )
        else:
            await RegistrySetting.insert(RegistrySetting(key=OPERATOR_AGENCY_KEY, value=row["code"], updated_at=now()))
        audit.record(
            actor, "settings.update", "setting", OPERATOR_AGENCY_KEY,
            before={"value": current["value"] if current else None}, after={"value": row["code"]},
        )


# --- CSV import ---------------------------------------------------------------------------------

REQUIRED_COLUMNS = ("code", "name", "parent_code")


@dataclass
class ImportSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    codes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class _Row:
    line: int
    code: AgencyCode
    parent_code: str | None
    details: dict[str, str]


def read_csv(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """Rows of an agency CSV with their line numbers."""
    return read_rows(content, REQUIRED_COLUMNS)


# Rows per multi-row INSERT (each agency row binds about 14 values; SQLite allows 32,766 per statement).
INSERT_CHUNK = 500
IMPORT_ATTEMPTS = 3
IMPORT_LOCK_WAIT_SECONDS = 60.0


def _check_rows(records: list[tuple[int, dict[str, str]]], track: Callable) -> tuple[dict[str, _Row], list[str]]:
    """Every row's own checks (no database): CPU work, run off the event loop."""
    errors: list[str] = []
    parsed: dict[str, _Row] = {}
    for line, record in track(records, "Kiểm tra", len(records)):
        row_errors = validation.FieldErrors()
        code = row_errors.check("code", record.get("code"), parse_code)
        details = check_details(record, row_errors)
        parent_code = _resolve_parent_code(record)
        if parent_code:
            row_errors.check("parent_code", parent_code, lambda v: parse_code(v, "parent_code"))
        if code is not None and code.text in parsed:
            row_errors.add("code", f"duplicate of line {parsed[code.text].line}",
                               field_code=("duplicate_line", {"line": parsed[code.text].line}))
        for name, message in row_errors.errors.items():
            errors.append(f"line {line} {name}: {message}")
        if not row_errors.errors and code is not None:
            parsed[code.text] = _Row(line, code, parent_code, details)
    return parsed, errors


async def _agency_snapshot() -> tuple[dict[str, dict[str, Any]], tuple[Any, ...]]:
    """Every agency by code, and a fingerprint of the table that any insert or update changes."""
    existing = {row["code"]: row for row in await Agency.select(*SELECT_COLUMNS)}
    return existing, await _table_fingerprint()


async def _table_fingerprint() -> tuple[Any, ...]:
    rows = await Agency.raw("SELECT count(*) AS n, max(id) AS last_id, max(updated_at) AS latest FROM agency")
    return (rows[0]["n"], rows[0]["last_id"], str(rows[0]["latest"]))


async def import_csv(
    actor: Principal,
    content: bytes,
    *,
    progress: Callable[[Iterable[Any], str, int], Iterable[Any]] | None = None,
) -> ImportSummary:
    """Create or update every agency of the file, or nothing: all errors are reported together.

    Everything is parsed, checked and prepared first, without the write lock (the CPU work off the event
    loop); the write lock is then held only for the writes, done in bulk. Should the agencies change in
    between (another import, an edit), the check is redone against the new state."""
    authorize(actor, "agency.import")
    track = progress or (lambda items, _label, _total: items)
    records = await asyncio.to_thread(read_csv, content)
    if not records:
        raise Invalid("the file has no agency rows", code="empty_file")
    parsed, row_errors = await asyncio.to_thread(_check_rows, records, track)
    for _attempt in range(IMPORT_ATTEMPTS):
        existing, fingerprint = await _agency_snapshot()
        errors = row_errors + _check_parents(actor, parsed, existing)
        if errors:
            raise Invalid(f"{len(errors)} error(s), nothing imported: " + "; ".join(errors), code="invalid_file")
        plan = await asyncio.to_thread(_plan_import, parsed, existing)
        # An operator's import is deliberate and prepared: it waits longer for the lock than a click does.
        async with db.transaction(lock_wait=IMPORT_LOCK_WAIT_SECONDS):
            if await _table_fingerprint() != fingerprint:
                continue
            return await _write_import(actor, plan, existing, track)
    raise Conflict("the agencies kept changing while the file was checked; import it again", code="import_conflict")


@dataclass
class _NewAgency:
    row: _Row
    values: dict[str, Any]
    audit_after: str | None


@dataclass
class _ImportPlan:
    # New agencies by level within the file: a level's parents are of an earlier level or already exist.
    levels: list[list[_NewAgency]]
    changed: list[_Row]


def _plan_import(parsed: dict[str, _Row], existing: dict[str, dict[str, Any]]) -> _ImportPlan:
    by_level: dict[int, list[_NewAgency]] = {}
    changed = []
    for row in parsed.values():
        if row.code.text in existing:
            changed.append(row)
            continue
        values = {
            "code": row.code.text,
            "path": "",
            "search_key": search_key(row.code.text, row.details["name"], row.details.get("short_name", "")),
            **{name: row.details.get(name, "") for name in DETAIL_FIELDS},
        }
        after = audit.canonical_json(_audited({**row.details, "code": row.code.text, "parent_code": row.parent_code}))
        by_level.setdefault(_depth_in_file(row, parsed), []).append(_NewAgency(row, values, after))
    return _ImportPlan(levels=[by_level[level] for level in sorted(by_level)], changed=changed)


async def _write_import(actor: Principal, plan: _ImportPlan, existing: dict[str, dict[str, Any]],
                        track: Callable) -> ImportSummary:
    """Inside the write transaction: new agencies in bulk, level by level, then the changed ones."""
    summary = ImportSummary()
    moment = now()
    known = {code: {"id": row["id"], "depth": row["depth"]} for code, row in existing.items()}
    for level in plan.levels:
        for start in range(0, len(level), INSERT_CHUNK):
            chunk = level[start : start + INSERT_CHUNK]
            rows = []
            for item in chunk:
                parent = known.get(item.row.parent_code) if item.row.parent_code else None
                rows.append({**item.values, "parent": parent["id"] if parent else None,
                             "depth": parent["depth"] + 1 if parent else 0, "created_at": moment, "updated_at": moment})
            inserted = await db.bulk_insert(Agency, rows, returning=("id", "code"))
            ids = {entry["code"]: entry["id"] for entry in inserted}
            await db.bulk_insert(AgencyName, [
                {"agency": ids[item.values["code"]], "name": item.values["name"],
                 "short_name": item.values["short_name"], "valid_from": moment, "valid_to": None}
                for item in chunk
            ])
            for item, values in zip(chunk, rows, strict=True):
                known[item.values["code"]] = {"id": ids[item.values["code"]], "depth": values["depth"]}
            audit.record_many(actor, "agency.create", "agency", [(item.values["code"], None, item.audit_after) for item in chunk])
            summary.created += len(chunk)
            summary.codes.extend(item.values["code"] for item in chunk)
        # Each new agency's path is its parent's path (already set: the parent is of an earlier level or
        # was there before) followed by its own id.
        await Agency.raw(
            "UPDATE agency SET path = COALESCE((SELECT parent_row.path FROM agency AS parent_row "
            "WHERE parent_row.id = agency.parent), '/') || CAST(agency.id AS TEXT) || '/' WHERE path = ''"
        )
    for row in track(plan.changed, "Ghi", len(plan.changed)):
        if await _apply_changes(actor, existing[row.code.text], row.details):
            summary.updated += 1
        else:
            summary.unchanged += 1
        summary.codes.append(row.code.text)
    if summary.created or summary.updated:
        await _public_pages_changed()
    return summary


def _check_parents(actor: Principal, parsed: dict[str, _Row], existing: dict[str, dict[str, Any]]) -> list[str]:
    errors = []
    for row in parsed.values():
        current = existing.get(row.code.text)
        if row.parent_code is None:
            if current is not None and current["parent_code"] is not None:
                errors.append(f"line {row.line} parent_code: is {current['parent_code']} in the registry")
            elif current is None and not allowed(actor, "agency.create", ""):
                errors.append(f"line {row.line} parent_code: required (only the command line creates a root)")
            continue
        parent = parsed.get(row.parent_code) or existing.get(row.parent_code)
        if parent is None:
            errors.append(f"line {row.line} parent_code: unknown agency {row.parent_code}")
            continue
        try:
            check_child_code(row.code, parse_code(row.parent_code))
        except Invalid as error:
            errors.append(f"line {row.line} code: {next(iter(error.fields.values()))}")
        if current is not None and current["parent_code"] != row.parent_code:
            errors.append(
                f"line {row.line} parent_code: {row.code.text} sits under {current['parent_code']}; "
                "moving agencies is a reorganisation, not an import"
            )
    errors.extend(_cycles(parsed))
    if not errors:
        errors.extend(_scope_errors(actor, parsed, existing))
    return errors


def _scope_errors(actor: Principal, parsed: dict[str, _Row], existing: dict[str, dict[str, Any]]) -> list[str]:
    """Each new agency must hang under an agency the actor may extend; each changed one must be theirs."""
    errors = []
    for row in parsed.values():
        current = existing.get(row.code.text)
        if current is not None:
            if not allowed(actor, "agency.update", current["path"]):
                errors.append(f"line {row.line} code: {row.code.text} is outside your scope")
            continue
        ancestor = row.parent_code
        while ancestor in parsed and ancestor not in existing:
            ancestor = parsed[ancestor].parent_code
        path = existing[ancestor]["path"] if ancestor in existing else ""
        if row.parent_code and not allowed(actor, "agency.create", path):
            errors.append(f"line {row.line} parent_code: {row.parent_code} is outside your scope")
    return errors


def _cycles(parsed: dict[str, _Row]) -> list[str]:
    errors = []
    for start in parsed.values():
        seen = {start.code.text}
        parent = start.parent_code
        while parent in parsed:
            if parent in seen:
                errors.append(f"line {start.line} parent_code: the file's parent links form a cycle")
                break
            seen.add(parent)
            parent = parsed[parent].parent_code
    return errors


def _depth_in_file(row: _Row, parsed: dict[str, _Row]) -> int:
    depth, parent = 0, row.parent_code
    while parent in parsed:
        depth, parent = depth + 1, parsed[parent].parent_code
    return depth


def _parents_first(parsed: dict[str, _Row]) -> list[_Row]:
    """Rows sorted by how many of their ancestors are in the file too (cycles were rejected before)."""
    return sorted(parsed.values(), key=lambda row: _depth_in_file(row, parsed))


async def within(paths: list[str], limit: int = 2000) -> list[dict[str, Any]]:
    """Agencies in any of the subtrees at `paths` (for pickers scoped to a user's roles)."""
    condition = within_subtrees(Agency.path, paths)
    if condition is None:
        return []
    rows = await Agency.select(Agency.code, Agency.name, Agency.depth, Agency.path).where(condition).order_by(Agency.path).limit(limit)
    return rows


async def names_of(codes: Iterable[str]) -> dict[str, str]:
    """code → current name, for pages that name agencies (never show a bare code to a person)."""
    wanted = sorted({code for code in codes if code})
    if not wanted:
        return {}
    rows = await Agency.select(Agency.code, Agency.name).where(Agency.code.is_in(wanted))
    return {row["code"]: row["name"] for row in rows}


async def paths_of(codes: Iterable[str]) -> dict[str, str]:
    """code → materialized path, for scope checks on data that names agencies by code."""
    wanted = sorted({code for code in codes if code})
    if not wanted:
        return {}
    rows = await Agency.select(Agency.code, Agency.path).where(Agency.code.is_in(wanted))
    return {row["code"]: row["path"] for row in rows}
