"""A record's JSON reads its details and writes its url the quick way, with the answers of the slow one."""

from __future__ import annotations

import json
import math

import pytest

from registry.certs.requests import CERT_FLOW
from registry.workflow import engine


@pytest.mark.parametrize("text", [
    '{"detail": "Sinh tự động", "count": 3, "nested": {"list": [1, 2.5, null, true]}}',
    '{"a": 123456789012345678901234567890}',
    '{"a": 1, "a": 2}',
    '{"a": 1e400}',  # json reads infinity; msgspec refuses
    '{"a": NaN}',  # json.dumps writes NaN for a float nan
    '{"a": "\\ud800"}',  # a lone surrogate
    "[]",
])
def test_details_read_as_json_reads_them(text: str) -> None:
    expected = json.loads(text)
    read = engine._details(text)
    if text == '{"a": NaN}':
        assert math.isnan(read["a"])
    else:
        assert read == expected and type(read) is type(expected)


@pytest.mark.parametrize("text", [None, ""])
def test_no_details_read_as_an_empty_object(text: str | None) -> None:
    assert engine._details(text) == {}


def test_a_records_url_is_its_page_path_with_its_id() -> None:
    for record_id in (1, 42, 1_000_000):
        assert CERT_FLOW.url(record_id) == CERT_FLOW.page_path.format(id=record_id) == f"/requests/{record_id}"
    braced = engine.Flow(name="x", label="x", table=CERT_FLOW.table, machine=CERT_FLOW.machine, kind_labels={},
                         page_path="/x/{{literal}}/{id}/tail")
    assert braced.url(7) == braced.page_path.format(id=7) == "/x/{literal}/7/tail"
