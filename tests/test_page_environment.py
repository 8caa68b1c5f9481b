"""The pages' Jinja environment reads `row.name` from a dict by key without the AttributeError Jinja's own
raises first, and writes escaped values without wrapping each in Markup (registry/app.py, PageEnvironment),
and answers exactly as Jinja does."""

from __future__ import annotations

from collections import OrderedDict

import jinja2
import pytest
from markupsafe import Markup

from registry.app import PageEnvironment

TEMPLATES = {
    "key": "{{ row.name }}",
    "missing": "{{ row.absent is defined }}|{{ row.absent }}",
    "method named like a key": "{{ values.get('a', '-') }}|{{ values.keys is callable }}",
    "class": "{{ row.__class__.__name__ }}",
    "items": "{% for key, value in row.items() %}{{ key }}={{ value }};{% endfor %}",
    "nested": "{{ row.holder.full_name }}|{{ row.holder.absent is undefined }}",
    # What is written out, escaped or not, wherever Jinja captures it.
    "written": "<a title=\"{{ row.name }}\">{{ row.holder }}{{ row.absent }}</a>",
    "macro": "{% macro cell(v) %}<td>{{ v }}</td>{% endmacro %}{{ cell(row.name) }}{{ cell(cell(row.name)) }}",
    "set block": "{% set cells %}<b>{{ row.name }}</b>{% endset %}{{ cells }}|{{ cells|length }}",
    "filter block": "{% filter upper %}{{ row.name }}&{% endfilter %}",
    "call block": "{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}{{ row.name }}{% endcall %}",
    "concatenated": "{{ row.name ~ '<' ~ row.holder }}|{{ (row.name ~ '') | e }}",
    "safe": "{{ row.name | safe }}|{{ row.name | e }}|{{ row.name | escape | e }}",
    "numbers and none": "{{ 7 }}|{{ 2.5 }}|{{ none }}|{{ true }}|{{ [row.name] }}",
}
VALUES = [
    {"name": "<b>Nguyễn</b>", "holder": {"full_name": "Trần Thị B"}},
    {"name": "a & b \"c\" 'd' <e>", "holder": Markup("<i>đã an toàn</i>")},
    # A dict may hold keys named like its methods (a form's fields are whatever was posted).
    {"get": "posted", "keys": "posted", "items": "posted", "a": 1, "name": None},
    OrderedDict(name="ordered", holder=None),
    {},
]


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("row", VALUES, ids=["row", "characters to escape", "method names", "dict subclass", "empty"])
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


def test_values_are_written_escaped_without_a_markup_object_each() -> None:
    """The point of PageTemplate: what `{{ … }}` writes is escaped text, not a Markup object (half of a
    table's rendering went into making them)."""
    template = PageEnvironment(autoescape=True).from_string("{{ v }}")
    escape = template.root_render_func.__globals__["escape"]
    assert type(escape("<b>")) is str and escape("<b>") == "&lt;b&gt;"
    assert escape(Markup("<b>")) == "<b>" and escape(3) == "3"
    assert template.render(v="<b>&") == "&lt;b&gt;&amp;"
