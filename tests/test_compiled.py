"""Queries built once (registry/compiled.py) give exactly the rows Piccolo's own queries give."""

from __future__ import annotations

import pytest
from piccolo.columns.combination import WhereRaw
from piccolo.query import OrderByRaw

from registry.agencies import service as agencies
from registry.agencies.tables import Agency
from registry.certs.service import LIST_COLUMNS
from registry.certs.tables import Certificate
from registry.compiled import Compiled, JoinedSelect, Value, frozen_condition
from tests.helpers import CITY, CITY_FINANCE, DOIT, ROOT, add_certificate


async def test_a_compiled_query_gives_the_rows_of_the_piccolo_query(province) -> None:
    by_code = Compiled(lambda: Agency.select(*agencies.SELECT_COLUMNS).where(Agency.code == Value("code")).first())
    for code in (ROOT, CITY, CITY_FINANCE, DOIT):
        expected = await Agency.select(*agencies.SELECT_COLUMNS).where(Agency.code == code).first()
        assert expected is not None
        assert await by_code.run(code=code) == expected
    assert await by_code.run(code="000.00.99.H49") is None
    children = Compiled(lambda: Agency.select(Agency.code).where(Agency.parent.code == Value("parent")).order_by(Agency.code))
    assert await children.run(parent=ROOT) == await Agency.select(Agency.code).where(
        Agency.parent.code == ROOT).order_by(Agency.code)


async def test_a_compiled_query_refuses_rows_post_processed_in_python(province) -> None:
    as_json = Compiled(lambda: Agency.select(Agency.code).where(Agency.code == Value("code")).output(load_json=True))
    with pytest.raises(TypeError):
        await as_json.run(code=ROOT)


@pytest.fixture
async def certificates(ca, province) -> list[str]:
    return [
        await add_certificate(ca, province, "city_clerk", CITY),
        await add_certificate(ca, province, "city_staff", CITY_FINANCE, days_left=20),
        await add_certificate(ca, province, None, DOIT, days_left=200),
        await add_certificate(ca, province, "operator", DOIT, name="Nguyễn Văn {A}"),
    ]


def piccolo_query(conditions, order, limit):
    query = Certificate.select(*LIST_COLUMNS).limit(limit)
    for column, ascending in order:
        query = query.order_by(OrderByRaw(column) if isinstance(column, str) else column, ascending=ascending)
    for condition in conditions:
        query = query.where(condition)
    return query


@pytest.mark.parametrize("conditions", [
    lambda: [],
    lambda: [Certificate.agency.code == CITY],
    lambda: [Certificate.holder.is_not_null(), Certificate.agency.path.like("/%")],
    # A join the listed columns do not make (the holder's agency): answered by Piccolo's own query.
    lambda: [Certificate.holder.agency.code == CITY_FINANCE],
])
async def test_a_joined_select_gives_the_rows_of_the_piccolo_query(certificates, conditions) -> None:
    order = [("\"certificate\".\"search_key\" || ''", True), (Certificate.not_after, False), (Certificate.id, True)]
    listed = JoinedSelect(Certificate, lambda: LIST_COLUMNS)
    for limit in (1, 2, 10):
        rows = await listed.run(conditions(), order, limit)
        assert rows == await piccolo_query(conditions(), order, limit)
    assert len(await listed.run(conditions(), order, 10)) >= 1


async def test_names_looked_up_through_two_keys_and_from_the_same_table_match_the_joins(client, province, certificates,
                                                                                     ca) -> None:
    """The lookups PostgreSQL reads joined names with (a request's decider's name, through their account; a
    certificate's successor, in the certificate table itself) give what the joins give."""
    from registry.certs.requests import CERT_FLOW
    from registry.certs.tables import CertRequest
    from tests.helpers import approved_cert_request, new_personal

    approved = await approved_cert_request(client, province, new_personal())
    older, newer = certificates[0], certificates[1]
    successor = await Certificate.select(Certificate.id).where(Certificate.fingerprint == newer).first()
    await Certificate.update({Certificate.superseded_by: successor["id"]}).where(Certificate.fingerprint == older)

    certificate_order = [(Certificate.search_key, True), (Certificate.id, True)]
    listed = await JoinedSelect(Certificate, lambda: LIST_COLUMNS).run([], certificate_order, 10)
    assert listed == await piccolo_query([], certificate_order, 10)
    assert {row["superseded_by_fingerprint"] for row in listed if row["fingerprint"] == older} == {newer}

    request_order = [(CertRequest.id, True)]
    query = CertRequest.select(*CERT_FLOW.select_columns).order_by(CertRequest.id).limit(10)
    requests = await JoinedSelect(CertRequest, lambda: CERT_FLOW.select_columns).run([], request_order, 10)
    assert requests == await query
    decided = next(row for row in requests if row["id"] == approved)
    assert decided["decided_by_name"] and decided["requester_name"] and decided["agency_code"] == CITY_FINANCE


async def test_only_plain_paths_are_written_into_a_statement(province) -> None:
    """A subtree's path goes into PostgreSQL's statement text only when it is digits and slashes."""
    from registry import db, subtree
    from registry.certs.tables import CertRequest

    await subtree.refresh_agency_paths()
    plain = subtree.within_subtrees(CertRequest.agency.path, ["/1/2/"])
    odd = subtree.within_subtrees(CertRequest.agency.path, ["/1/2'/"])
    trailing = subtree.within_subtrees(CertRequest.agency.path, ["/1/2/\n"])
    plain_sql, plain_args = plain.querystring.compile_string(db.current_engine().engine_type)
    for condition in (odd, trailing):
        sql, args = condition.querystring.compile_string(db.current_engine().engine_type)
        assert "'/1/2" not in sql and any(str(arg).startswith("/1/2") for arg in args)
    if db.is_sqlite():
        assert plain_args  # SQLite asks a range with parameters, plans nothing ahead
    else:
        assert "'/1/2/%'" in plain_sql and not plain_args


@pytest.mark.parametrize("condition", [
    lambda: Certificate.agency.is_null() | (Certificate.holder.is_not_null() & Certificate.not_after.is_not_null()),
    lambda: Certificate.common_name.like("%{A}%"),
    lambda: Certificate.id.is_in([1, 2, 3]) | Certificate.kind.not_in(["ca"]),
])
async def test_a_frozen_condition_gives_the_rows_of_the_condition(certificates, condition) -> None:
    frozen = frozen_condition(condition())
    assert isinstance(frozen, WhereRaw)
    expected = await Certificate.select(Certificate.id).where(condition()).order_by(Certificate.id)
    # Kept and used again, alone and beside other conditions.
    for _ in range(2):
        assert await Certificate.select(Certificate.id).where(frozen).order_by(Certificate.id) == expected
    listed = JoinedSelect(Certificate, lambda: LIST_COLUMNS)
    order = [(Certificate.id, True)]
    assert await listed.run([frozen, Certificate.id > 0], order, 10) == await listed.run(
        [condition(), Certificate.id > 0], order, 10)


def test_a_condition_on_a_joined_table_is_not_frozen() -> None:
    condition = Certificate.agency.code == CITY
    assert frozen_condition(condition) is condition
