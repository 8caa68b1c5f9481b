"""A real browser on the public verify page of a live `registry serve --demo`: without signing in, a visitor
uploads a certificate file and reads the verdict in Vietnamese; a file that is no certificate comes back as the
page with its reason, never JSON. Works without JavaScript (it is switched off here)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import Name, NameAttribute
from cryptography.x509.oid import NameOID

from registry.devca.ca import load_or_create
from tests.live_server import LiveServer, clean_env
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, browser_unavailable

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
async def playwright_api():
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        browser_unavailable("the playwright package is not installed: pip install -e '.[test]'")
    async with async_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
async def browser(playwright_api):
    browser = await playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    await browser.close()


@pytest.fixture(scope="module")
def server(playwright_api, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(cwd=tmp_path_factory.mktemp("browser-verify"), args=["--demo"], env=clean_env()) as live:
        yield live


async def test_a_visitor_uploads_a_certificate_and_reads_the_verdict(browser, server: LiveServer, tmp_path) -> None:
    # A certificate from the demo's test CA, which the demo's trust store holds with its CRL.
    ca = load_or_create(server.cwd / "var", server.url)
    issued = ca.issue(Name([NameAttribute(NameOID.COUNTRY_NAME, "VN"), NameAttribute(NameOID.COMMON_NAME, "Lê Thị Kiểm Tra")]),
                      not_before=datetime.now(UTC) - timedelta(days=2), days=365)
    certificate = tmp_path / "le-thi-kiem-tra.cer"
    certificate.write_bytes(issued.public_bytes(serialization.Encoding.DER))
    garbage = tmp_path / "khong-phai.cer"
    garbage.write_bytes("Đây không phải chứng thư".encode())

    context = await browser.new_context(locale="vi-VN", java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    try:
        await page.goto(f"{server.url}/")
        await page.get_by_role("navigation", name="Điều hướng chính").get_by_role("link", name="Kiểm tra chứng thư").click()
        await page.wait_for_url(f"{server.url}/verify")
        assert await page.get_by_role("heading", name="Kiểm tra chứng thư số").is_visible()

        await page.get_by_label("Tệp chứng thư số (PEM hoặc DER)").set_input_files(str(certificate))
        await page.get_by_role("button", name="Kiểm tra").click()
        verdict = page.locator("#verdict")
        await verdict.wait_for()
        assert await verdict.locator("[data-status]").get_attribute("data-status") == "valid"
        text = await verdict.inner_text()
        assert "Hợp lệ" in text and "Lê Thị Kiểm Tra" in text and "thử nghiệm" in text
        assert "/" in text and "+07:00" not in text  # dates the Vietnamese way, dd/mm/yyyy

        await page.get_by_label("Tệp chứng thư số (PEM hoặc DER)").set_input_files(str(garbage))
        response_holder = []
        page.on("response", lambda response: response_holder.append(response))
        await page.get_by_role("button", name="Kiểm tra").click()
        error = page.locator("#verify-error")
        await error.wait_for()
        assert "Không kiểm tra được" in await error.inner_text()
        assert any(r.headers.get("content-type", "").startswith("text/html") for r in response_holder if r.url.endswith("/verify"))
    finally:
        await context.close()
