"""The message catalogue (issue 7, point 6): every code an error of the registry can carry has a Vietnamese
message, and the pages people see for representative failures carry the catalogue's Vietnamese, never the
API's English."""

from __future__ import annotations

import ast
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest

from registry import messages
from registry.errors import Conflict, Forbidden, Invalid, NotFound, RegistryError
from registry.http import STATUS_CODES
from tests.helpers import CITY, CITY_FINANCE, Province, new_personal, sign_in

REGISTRY_DIR = Path(__file__).resolve().parent.parent / "registry"
CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
# Letters only Vietnamese writes (with their diacritics), upper and lower case.
VIETNAMESE_LETTERS = re.compile(
    "[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.IGNORECASE
)
# Functions and tables that hand out (reason, code, ...) tuples instead of raising themselves.
TUPLE_SOURCES = {"refusal": 0, "_der_length_problem": 1, "OTHER_LABELS": 1, "_PRIVATE_KEY": 1, "_CSR": 1}


def _strings(node: ast.AST) -> list[str]:
    """The string constants an expression can evaluate to (`"a" if x else "b"`, `x or "c"`...)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return [text for value in node.values for text in _strings(value)]
    if isinstance(node, ast.Tuple) and node.elts:
        # (code, params) as given to field_code(s)
        return _strings(node.elts[0])
    return []


def _tuple_element(node: ast.AST, index: int) -> list[str]:
    if isinstance(node, ast.Tuple) and len(node.elts) > index:
        return _strings(node.elts[index])
    return []


def raised_codes() -> dict[str, str]:
    """Every error code written in the registry's source, with where it was first seen: `code=` and
    `field_code(s)=` arguments, classes' `default_code`, `code = ...` assignments, the codes of the input
    checks (`_refuse`, `invalid`, `_pattern`), the tuples that helpers return, and the codes of framework errors."""
    found: dict[str, str] = {}

    def note(texts: list[str], where: str) -> None:
        for text in texts:
            if CODE.match(text):
                found.setdefault(text, where)

    for path in sorted(REGISTRY_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        relative = path.relative_to(REGISTRY_DIR.parent)
        for node in ast.walk(tree):
            where = f"{relative}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    if keyword.arg in ("code", "field_code"):
                        note(_strings(keyword.value), where)
                    elif keyword.arg == "field_codes":
                        if isinstance(keyword.value, ast.Dict):
                            note([t for value in keyword.value.values for t in _strings(value)], where)
                        elif isinstance(keyword.value, ast.DictComp):
                            note(_strings(keyword.value.value), where)
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name == "_refuse" and len(node.args) >= 3:
                    note(_strings(node.args[2]), where)
                if name == "invalid" and len(node.args) >= 2:
                    note(_strings(node.args[1]), where)
                if name == "_pattern" and len(node.args) >= 4:
                    note(_strings(node.args[3]), where)
            elif isinstance(node, ast.Assign):
                targets = [getattr(target, "id", None) for target in node.targets]
                if "default_code" in targets or "code" in targets:
                    note(_strings(node.value), where)
                for target in targets:
                    if target in TUPLE_SOURCES:
                        values = node.value.values if isinstance(node.value, ast.Dict) else [node.value]
                        for value in values:
                            note(_tuple_element(value, TUPLE_SOURCES[target]), where)
            elif isinstance(node, ast.FunctionDef) and node.name in TUPLE_SOURCES:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Return) and inner.value is not None:
                        note(_tuple_element(inner.value, TUPLE_SOURCES[node.name]), where)
                    elif isinstance(inner, ast.Assign) and isinstance(inner.value, ast.Tuple):
                        note(_tuple_element(inner.value, TUPLE_SOURCES[node.name]), where)
    for status, code in STATUS_CODES.items():
        found.setdefault(code, f"registry/http.py STATUS_CODES[{status}]")
    return found


def test_every_message_is_vietnamese_and_well_formed() -> None:
    assert len(messages.CATALOGUE) > 100
    for code, text in messages.CATALOGUE.items():
        assert CODE.match(code), code
        assert text.strip() == text and text[0].isupper() or text[0] in "{«", (code, text)
        assert VIETNAMESE_LETTERS.search(text), f"{code}: {text!r} has no Vietnamese letter"
        # Placeholders are plain names (the raiser's params), and every one renders without them.
        names = [name for _literal, name, _spec, _conv in string.Formatter().parse(text) if name is not None]
        assert all(name.isidentifier() for name in names), (code, names)
        rendered = messages.message(code)
        assert rendered is not None and "{" not in rendered and "}" not in rendered, (code, rendered)


def test_the_scan_finds_the_codes_it_should() -> None:
    """The scan below is not vacuous: it sees codes of every kind of source."""
    found = raised_codes()
    for code in ("own_request", "not_found", "text_too_long", "certificate_revoked", "pem_private_key",
                 "der_truncated", "invalid_email", "duplicate_line", "nul_character", "method_not_allowed",
                 "no_such_agency", "decisions_refused"):
        assert code in found, code
    assert len(found) > 100


def test_every_code_raised_in_the_code_base_has_a_message() -> None:
    missing = {code: where for code, where in raised_codes().items() if code not in messages.CATALOGUE}
    assert not missing, "codes without a Vietnamese message:\n" + "\n".join(
        f"  {code} ({where})" for code, where in sorted(missing.items()))


@pytest.mark.parametrize("error", [
    RegistryError("something broke", code="no_such_code_anywhere"),
    Invalid("bad", code="no_such_code_anywhere", fields={"x": "is wrong in English"}),
    Forbidden("your roles do not allow that"),
    NotFound("no such thing"),
    Conflict("it moved on"),
])
def test_an_unknown_code_falls_back_to_vietnamese_never_to_the_english_detail(error: RegistryError) -> None:
    text = messages.message_for(error)
    assert VIETNAMESE_LETTERS.search(text) and error.detail not in text
    for field, shown in messages.field_messages(error).items():
        assert VIETNAMESE_LETTERS.search(shown) and error.fields[field] not in shown


def test_messages_fill_in_the_raisers_values() -> None:
    error = Invalid("renewal refused", code="state_changed", params={"id": 7, "state": "Đã duyệt", "action": "Rút lại"})
    assert messages.message_for(error) == "Yêu cầu #7 đang ở trạng thái «Đã duyệt», không thể «Rút lại» nữa."
    error = Invalid("x", fields={"validity_years": "1 to 5 years"}, field_codes={"validity_years": ("validity_years_range", {"max": 5})})
    assert messages.field_messages(error) == {"validity_years": "Từ 1 đến 5 năm."}


# --- pages ----------------------------------------------------------------------------------------

# Words of the API's English messages; none may reach the text of a page.
ENGLISH = re.compile(
    r"\b(the|is|are|not|no|must|may|your|you|required|invalid|missing|wrong|expected|characters|"
    r"certificate|request|file|agency|person|token|only|already|cannot|unknown|between|digits)\b",
    re.IGNORECASE,
)


MACHINE_OR_HIDDEN = ("script", "style", "code")


class _MainText(HTMLParser):
    """The text a person reads in a page's <main>: scripts and styles left out, and machine text too
    (<code>: serials, usernames, an API key's random prefix, which may well spell "is")."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.skip = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "main":
            self.depth += 1
        elif tag in MACHINE_OR_HIDDEN:
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.depth -= 1
        elif tag in MACHINE_OR_HIDDEN:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if self.depth > 0 and not self.skip:
            self.parts.append(data)


def main_text(html: str) -> str:
    parser = _MainText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def test_main_text_reads_prose_not_machine_text() -> None:
    html = "<nav>Menu</nav><main>Khóa <code>rgt_Ab-is</code> <script>let is</script>is it</main>"
    assert main_text(html) == "Khóa is it"
    assert ENGLISH.findall(main_text(html)) == ["is"]


def assert_no_english(html: str, *english: str) -> str:
    text = main_text(html)
    assert text, html[:500]
    for phrase in english:
        assert phrase not in text, (phrase, text)
    found = ENGLISH.findall(text)
    assert not found, f"English words {found} in: {text}"
    return text


async def test_error_pages_and_refused_forms_show_no_english(client, province: Province) -> None:
    csrf = await sign_in(client, "city_clerk")
    api = province.auth("city_clerk")

    # 404: a request that does not exist (the API says so in English).
    page = await client.get("/requests/999999")
    problem = await client.get("/api/v1/cert-requests/999999", headers=api)
    assert page.status_code == problem.status_code == 404
    text = assert_no_english(page.text, problem.json()["detail"])
    assert "Không có yêu cầu số 999999." in text

    # 403: a form posted without its CSRF token.
    page = await client.post("/people/new", data={"full_name": "Trần Văn B", "agency_code": CITY})
    assert page.status_code == 403
    assert_no_english(page.text, "CSRF")

    # 403: a page the clerk's role does not reach.
    page = await client.get("/admin/audit")
    assert page.status_code == 403
    assert_no_english(page.text, "audit.read")

    # 422: a request form with mistakes comes back with each field's message in Vietnamese.
    body = new_personal(CITY_FINANCE, id_number="12345", email="not-an-email", date_of_birth="1890-01-01")
    form = {key: value for key, value in body.items() if key != "kind"}
    page = await client.post("/requests/new/new_personal", data={**form, "_csrf": csrf})
    problem = await client.post("/api/v1/cert-requests", json=body, headers=api)
    assert page.status_code == problem.status_code == 422
    english = [error["message"] for error in problem.json()["errors"]]
    text = assert_no_english(page.text, problem.json()["detail"], *english)
    assert "Số CCCD gồm đúng 12 chữ số." in text and "Địa chỉ thư điện tử không hợp lệ." in text

    # 422: a file that is not a certificate, uploaded through the page (as an operator).
    await client.post("/logout", data={"_csrf": csrf})
    csrf = await sign_in(client, "operator")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    page = await client.post("/certificates/import", data={"_csrf": csrf}, files={"file": ("a.png", png)})
    problem = await client.post("/api/v1/certificates", content=png, headers=province.auth("operator"))
    assert page.status_code == problem.status_code == 422
    text = assert_no_english(page.text, problem.json()["detail"])
    assert "Tệp không phải chứng thư số mà là ảnh PNG." in text



def _placeholders(code: str) -> set[str]:
    return {name for _literal, name, _spec, _conv in string.Formatter().parse(messages.CATALOGUE.get(code, "")) if name}


def test_raisers_give_the_values_their_messages_name() -> None:
    """An error raised with a literal code gives, as `params`, every value its message names (else a
    person would read "…" where a number or a name belongs)."""
    lacking = []
    for path in sorted(REGISTRY_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            keywords = {keyword.arg: keyword.value for keyword in node.keywords}
            codes = _strings(keywords["code"]) if "code" in keywords else []
            if not codes or "fields" in keywords and not _placeholders(codes[0]):
                continue
            given = keywords.get("params")
            if given is not None and not isinstance(given, ast.Dict):
                continue  # built elsewhere: not checkable here
            names = {key.value for key in given.keys if isinstance(key, ast.Constant)} if given is not None else set()
            for code in codes:
                missing = _placeholders(code) - names
                if missing:
                    lacking.append(f"{path.relative_to(REGISTRY_DIR.parent)}:{node.lineno} {code} lacks {sorted(missing)}")
    assert not lacking, "\n".join(lacking)


async def test_the_pages_each_role_reaches_show_no_english(client, province: Province) -> None:
    """Every page reachable by links from a user's own page, for one user of each role (up to 40 each)."""
    english_pages = []
    for username in ("admin", "operator", "city_clerk", "city_head", "city_staff"):
        client.cookies.clear()
        await sign_in(client, username)
        seen: set[str] = set()
        queue = ["/me", "/"]
        while queue and len(seen) < 40:
            url = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            response = await client.get(url)
            if not response.headers.get("content-type", "").startswith("text/html"):
                continue
            found = sorted({word.lower() for word in ENGLISH.findall(main_text(response.text))})
            if found:
                english_pages.append(f"{username} {url}: {found}")
            queue.extend(href for href in re.findall(r'href="(/[^"#?]*)"', response.text)
                         if not href.startswith(("/static", "/logout")) and href not in seen)
        assert len(seen) >= 5, (username, seen)
    assert not english_pages, "\n".join(english_pages)
