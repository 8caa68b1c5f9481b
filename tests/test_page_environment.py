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
    escape = template.root_render_func.__wrapped__.__globals__["escape"]
    assert type(escape("<b>")) is str and escape("<b>") == "&lt;b&gt;"
    assert escape(Markup("<b>")) == "<b>" and escape(3) == "3"
    assert template.render(v="<b>&") == "&lt;b&gt;&amp;"


# Pages extend a base, fill and extend its blocks, include tables and import macros.
FAMILY = {
    "base.html": "<title>{% block title %}Sổ đăng ký{% endblock %}</title>"
                 "<main>{% block content %}{% endblock %}</main><footer>{% block footer %}©{% endblock %}</footer>"
                 "{{ self.title() }}",
    "section.html": "{% extends 'base.html' %}{% block title %}{{ super() }} · {{ heading }}{% endblock %}"
                    "{% block content %}<section>{% block body %}{% endblock %}</section>{% endblock %}",
    "_rows.html": "{% for r in rows %}<tr><td>{{ r.name }}</td><td>{{ r.holder }}</td></tr>"
                  "{% else %}<tr><td>Không có</td></tr>{% endfor %}",
    "macros.html": "{% macro badge(text) %}<span class=\"badge\">{{ text }}</span>{% endmacro %}"
                   "{% set LABELS = {'a': 'Một'} %}",
    "page.html": "{% extends 'section.html' %}{% from 'macros.html' import badge, LABELS %}"
                 "{% block body %}{{ badge(heading) }}{{ LABELS['a'] }}<table>{% include '_rows.html' %}</table>"
                 "{% include 'missing.html' ignore missing %}"
                 "{% for r in rows %}{% block cell scoped %}<i>{{ r.name }}</i>{% endblock %}{% endfor %}"
                 "{% endblock %}{% block footer %}{{ super() }} 2026{% endblock %}",
    "list.html": "{% extends 'base.html' %}{% block content %}{% for r in rows %}<p>{{ r.name }}</p>{% endfor %}"
                 "{% endblock %}",
    "imported.html": "{% import 'macros.html' as m %}{% set inner %}{% include '_rows.html' %}{% endset %}"
                     "{{ m.badge(inner|length) }}{{ inner }}",
}


@pytest.mark.parametrize("name", ["page.html", "section.html", "list.html", "imported.html", "_rows.html"])
@pytest.mark.parametrize("row", VALUES, ids=["row", "characters to escape", "method names", "dict subclass", "empty"])
def test_pages_made_of_several_templates_render_as_with_jinja(name: str, row: dict) -> None:
    """Extended blocks, `super()`, `self.…()`, includes and imports write what Jinja writes, now that each
    template and block hands its output up joined."""
    context = {"heading": "<Danh sách>", "rows": [row, row] if row else []}

    def rendered(environment_class: type[jinja2.Environment]) -> str:
        environment = environment_class(loader=jinja2.DictLoader(FAMILY), autoescape=True)
        return environment.get_template(name).render(**context)

    page = rendered(PageEnvironment)
    assert page == rendered(jinja2.Environment)
    assert page  # every one of them writes something


def test_each_template_and_block_hands_its_output_up_in_one_piece() -> None:
    """A page of 100 rows wrote some 3,000 pieces, each handed up through the include, the block and two
    roots before the page joined them; now each level hands up one."""
    environment = PageEnvironment(loader=jinja2.DictLoader(FAMILY), autoescape=True)
    page = environment.get_template("page.html")
    context = page.new_context({"heading": "x", "rows": [{"name": str(n)} for n in range(100)]})
    assert len(list(page.root_render_func(context))) == 1
    listing = environment.get_template("list.html")
    rows = {"rows": [{"name": str(n)} for n in range(50)]}
    assert len(list(listing.blocks["content"](listing.new_context(rows)))) == 1
    # Jinja's own: a piece per literal and per value, handed up one at a time.
    plain = jinja2.Environment(loader=jinja2.DictLoader(FAMILY), autoescape=True).get_template("page.html")
    assert len(list(plain.root_render_func(plain.new_context(context.get_all())))) > 300
    plain_listing = plain.environment.get_template("list.html")
    assert len(list(plain_listing.blocks["content"](plain_listing.new_context(rows)))) > 100
