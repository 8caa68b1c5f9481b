"""The public portal in a real browser (issue 10, point 7): Debian's Chromium, driven by Playwright,
against a live `registry serve --demo`. Someone types a name without diacritics and finds the agency, its
page shows the specimen images and certificate details, and the page of a past moment shows what was
published then. No sign-in, no JavaScript needed."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw

from registry.timeutil import now
from tests.helpers import registry_command
from tests.live_server import LiveServer, clean_env

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 30_000
CITY = "000.00.21.H49"


def browser_unavailable(reason: str) -> None:
    if os.environ.get("REGISTRY_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (REGISTRY_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


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
    with LiveServer(cwd=tmp_path_factory.mktemp("portal"), args=["--demo"], env=clean_env()) as live:
        yield live


@pytest.fixture
async def page(browser, server):
    # A phone's viewport: the portal must read well there.
    context = await browser.new_context(locale="vi-VN", viewport={"width": 390, "height": 844}, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = await context.new_page()
    page.requested = []  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requested.append(request.url))  # type: ignore[attr-defined]
    yield page
    await context.close()


def token_for(server: LiveServer, username: str) -> str:
    done = subprocess.run([*registry_command(), "token", "create", username], cwd=server.cwd, env=server.env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout.strip()


def new_seal() -> bytes:
    image = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((20, 20, 180, 180), outline=(210, 10, 20, 255), width=14)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def images_loaded(page) -> list[int]:
    return await page.eval_on_selector_all(
        "img.specimen-image", "images => images.map(i => i.complete ? i.naturalWidth : 0)")


async def test_search_without_diacritics_finds_the_agency_and_its_specimens(page, server: LiveServer) -> None:
    await page.goto(f"{server.url}/")
    await page.get_by_label("Tên hoặc mã cơ quan").fill("uy ban nhan dan thanh pho ha long")
    await page.get_by_role("button", name="Tìm kiếm").click()
    await page.get_by_role("link", name="Ủy ban nhân dân thành phố Hạ Long").first.click()
    await page.wait_for_url(f"{server.url}/agencies/{CITY}")
    assert await page.locator("html").get_attribute("lang") == "vi"
    assert await page.get_by_role("heading", level=1).inner_text() == "Ủy ban nhân dân thành phố Hạ Long"
    widths = await images_loaded(page)
    assert len(widths) == 2 and all(width > 0 for width in widths)
    text = await page.locator("main").inner_text()
    assert "Phạm Đức Trưởng" in text and "Chủ tịch UBND thành phố" in text
    for label in ("Chủ thể chứng thư số", "Số hiệu (serial)", "Tổ chức cấp", "Hiệu lực", "Dấu vân tay SHA-256",
                  "Còn hiệu lực", "vanthu.halong@quangninh.gov.vn"):
        assert label in text, label
    subjects = await page.get_by_test_id("cert-subject").all_inner_texts()
    assert any("Phạm Đức Trưởng" in subject for subject in subjects)
    # Readable on a phone: nothing wider than the screen.
    assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    # A leader found by name, without diacritics, too.
    await page.goto(f"{server.url}/?q=pham duc truong")
    assert "Lãnh đạo: Phạm Đức Trưởng" in await page.get_by_test_id("results").inner_text()
    assert all(url.startswith(server.url) for url in page.requested)


async def test_a_past_moment_shows_what_was_published_then(page, server: LiveServer) -> None:
    public = httpx.get(f"{server.url}/api/v1/public/agencies/{CITY}", timeout=30).json()
    old_seal = next(s for s in public["specimens"] if s["kind"] == "org")
    clerk, operator = token_for(server, "vanthu"), token_for(server, "vanhanh")
    created = httpx.post(f"{server.url}/api/v1/specimens", headers={"Authorization": f"Bearer {clerk}"}, timeout=30,
                         data={"kind": "org", "agency_code": CITY, "certificate": old_seal["certificate"]["fingerprint"]},
                         files={"image": ("dau.png", new_seal(), "image/png")})
    assert created.status_code == 201, created.text
    published = httpx.post(f"{server.url}/api/v1/specimens/{created.json()['id']}/publish", timeout=30,
                           headers={"Authorization": f"Bearer {operator}"})
    assert published.status_code == 200, published.text
    new_id = created.json()["id"]

    # Now: the new seal. The moment the old one was published: the old one, marked as such.
    await page.goto(f"{server.url}/agencies/{CITY}")
    sources = await page.eval_on_selector_all("img.specimen-image", "images => images.map(i => i.getAttribute('src'))")
    assert f"/specimens/{new_id}/image.png" in sources and f"/specimens/{old_seal['id']}/image.png" not in sources
    await page.goto(f"{server.url}/agencies/{CITY}?at={httpx.QueryParams({'x': old_seal['published_at']})['x']}")
    assert "Đang xem những gì được công bố vào ngày" in await page.get_by_test_id("at-notice").inner_text()
    sources = await page.eval_on_selector_all("img.specimen-image", "images => images.map(i => i.getAttribute('src'))")
    assert f"/specimens/{old_seal['id']}/image.png" in sources and f"/specimens/{new_id}/image.png" not in sources
    assert all(width > 0 for width in await images_loaded(page))
    # The date form, without JavaScript: the day before, nothing was published yet.
    await page.goto(f"{server.url}/agencies/{CITY}")
    yesterday = (now() - timedelta(days=1)).date().isoformat()
    await page.get_by_label("Xem những gì được công bố vào ngày").fill(yesterday)
    await page.get_by_role("button", name="Xem", exact=True).click()
    await page.wait_for_url(f"{server.url}/agencies/{CITY}?at={yesterday}")
    assert "Chưa có mẫu chữ ký số của cơ quan được công bố vào ngày này" in await page.locator("main").inner_text()
    # The history keeps both, the old one superseded.
    await page.goto(f"{server.url}/agencies/{CITY}/history")
    text = await page.locator("main").inner_text()
    assert "Đã được thay thế" in text and "Đang công bố" in text
