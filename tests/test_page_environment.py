"""The pages' Jinja environment reads `row.name` from a dict by key without the AttributeError Jinja's own
raises first (registry/app.py, PageEnvironment), and answers exactly as Jinja does."""

from __future__ import annotations

from collections import OrderedDict

import jinja2
import pytest

from registry.app import PageEnvironment

TEMPLATES = {
    "key": "{{ row.name }}",
    "missing": "{{ row.absent is defined }}|{{ row.absent }}",
    "method named like a key": "{{ values.get('a', '-') }}|{{ values.keys is callable }}",
    "class": "{{ row.__class__.__name__ }}",
    "items": "{% for key, value in row.items() %}{{ key }}={{ value }};{% endfor %}",
    "nested": "{{ row.holder.full_name }}|{{ row.holder.absent is undefined }}",
}
VALUES = [
    {"name": "<b>Nguyễn</b>", "holder": {"full_name": "Trần Thị B"}},
    # A dict may hold keys named like its methods (a form's fields are whatever was posted).
    {"get": "posted", "keys": "posted", "items": "posted", "a": 1, "name": None},
    OrderedDict(name="ordered", holder=None),
    {},
]


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("row", VALUES, ids=["row", "method names", "dict subclass", "empty"])
def test_the_page_environment_answers_as_jinja_does(name: str, row: dict) -> None:
    def outcome(environment: jinja2.Environment) -> tuple[str, str]:
        try:
            return "rendered", environment.from_string(TEMPLATES[name]).render(row=row, values=row)
        except jinja2.UndefinedError as error:  # an attribute of something undefined, in both
            return "undefined", str(error)

    assert outcome(PageEnvironment(autoescape=True)) == outcome(jinja2.Environment(autoescape=True))


def test_a_key_is_read_without_asking_for_the_attribute() -> None:
    class Watched(dict):
        pass

    pages = PageEnvironment(autoescape=True)
    # An exact dict: read by key, even when missing (undefined, not an exception).
    assert pages.getattr({"name": "A"}, "name") == "A"
    assert isinstance(pages.getattr({}, "name"), jinja2.Undefined)
    # The names of dict's own attributes still mean the attribute, as in Jinja.
    assert pages.getattr({"get": "posted"}, "get") != "posted"
    # Anything else goes Jinja's way (attribute first).
    assert pages.getattr(Watched(copy="key"), "copy") != "key"
