"""A service's answer becomes its documented response type (`registry.http.typed`): every key of every item
is one the type declares, so that the served shape is the documented one."""

from __future__ import annotations

import msgspec
import pytest

from registry.http import typed


class Item(msgspec.Struct, kw_only=True):
    id: int
    name: str
    note: str | None = None


def test_a_list_of_dicts_becomes_the_documented_structs() -> None:
    items = typed([{"id": 1, "name": "Một"}, {"id": 2, "name": "Hai", "note": "ghi chú"}], list[Item])
    assert items == [Item(id=1, name="Một"), Item(id=2, name="Hai", note="ghi chú")]
    assert typed({"id": 3, "name": "Ba"}, Item) == Item(id=3, name="Ba")


@pytest.mark.parametrize("body", [
    [{"id": 1, "name": "Một"}, {"id": 2, "name": "Hai", "phone": "0912345678"}],  # not the first item only
    {"id": 1, "name": "Một", "phone": "0912345678"},
])
def test_a_key_the_type_does_not_declare_is_refused(body) -> None:
    with pytest.raises(TypeError, match=r"Item does not declare \['phone'\]"):
        typed(body, list[Item] if isinstance(body, list) else Item)


def test_a_missing_field_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        typed([{"id": 1}], list[Item])
