"""Queries built once (registry/compiled.py) give exactly the rows Piccolo's own queries give."""

from __future__ import annotations

import pytest
from piccolo.query import OrderByRaw

from registry.agencies import service as agencies
from registry.agencies.tables import Agency
from registry.certs.service import LIST_COLUMNS
from registry.certs.tables import Certificate
from registry.compiled import Compiled, JoinedSelect, Value
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
