"""The browser-test foundation: the live server, the browser, the page checks (each shown to catch
what it is for), and the API reference at /schema, which must work with no network beyond the app."""

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Route, expect

from tests.browser.checks import (
    axe_violations,
    focus_visible,
    horizontal_overflow,
    small_targets,
    small_text,
    tight_lines,
)


async def test_the_live_server_answers_health(live_server) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, trust_env=False) as http:
        response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.fixture
async def offline(browser: Browser):
    """A page whose every request to a host other than 127.0.0.1 is aborted and recorded in ``page.outside``."""
    context = await browser.new_context()
    outside: list[str] = []

    async def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", local_only)
    page = await context.new_page()
    yield page, outside
    await context.close()


async def test_the_api_reference_renders_offline_and_accessibly(live_server, offline) -> None:
    page, outside = offline
    response = await page.goto(f"{live_server.url}/schema")
    assert response is not None and response.status == 200
    await expect(page).to_have_title("venueshare API reference")
    await expect(page.get_by_role("heading", level=1)).to_have_text("venueshare API reference")
    await expect(page.get_by_role("link", name="Skip to the operations")).to_have_attribute("href", "#main")
    operations = page.locator("#main h3")
    await expect(operations.filter(has_text="/api/v1/venues").first).to_be_visible()
    contents = page.get_by_role("navigation")
    await expect(contents.get_by_role("link", name="GET /api/v1/venues", exact=True)).to_be_visible()
    assert await operations.count() > 50
    assert await page.locator("script").count() == 0
    assert await axe_violations(page) == []
    assert await small_text(page, 16) == []
    assert await tight_lines(page) == []
    assert await small_targets(page, 24) == []
    assert await focus_visible(page) == []
    await page.set_viewport_size({"width": 320, "height": 640})
    assert not await horizontal_overflow(page)
    assert await axe_violations(page) == []
    assert outside == []


async def test_the_api_reference_links_to_the_json_document(live_server, offline) -> None:
    page, outside = offline
    await page.goto(f"{live_server.url}/schema/")
    async with page.expect_response(f"{live_server.url}/schema/openapi.json") as answer:
        await page.get_by_role("link", name="The OpenAPI document (JSON)").click()
    response = await answer.value
    assert response.status == 200
    document = await response.json()
    assert document["info"]["title"] == "venueshare"
    assert "/api/v1/venues" in document["paths"]
    assert outside == []


# The checks themselves, on pages made for them: each must flag what it is for, and only that.


async def test_axe_reports_violations(browser: Browser) -> None:
    page = await browser.new_page()
    await page.set_content("<html lang='en'><title>t</title><main><img src='data:,'><p>text</p></main></html>")
    assert [violation["id"] for violation in await axe_violations(page)] == ["image-alt"]
    await page.close()


async def test_small_text_and_tight_lines(browser: Browser) -> None:
    page = await browser.new_page()
    await page.set_content(
        "<style>body { font-size: 18px; line-height: 1.5 }"
        ".sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0) }</style>"
        "<p style='font-size: 12px'>tiny words</p><p>big words</p><p><span style='font-size: 14px'>small</span></p>"
        "<p aria-hidden='true' style='font-size: 10px'>decoration</p><span class='sr' style='font-size: 10px'>sr</span>"
        "<p style='visibility: hidden; font-size: 10px'>hidden</p><p style='display: none; font-size: 10px'>gone</p>"
        "<p style='line-height: normal'>cramped</p><p style='line-height: 1.1'>tight</p>"
        "<input type='checkbox'><input value='field' style='font-size: 13px; line-height: 2'>"
    )
    assert await small_text(page, 16) == ["<p> 'tiny words' 12px", "<span> 'small' 14px", "<input> 'field' 13px"]
    assert await tight_lines(page) == ["<p> 'cramped' 21.6px/18px = 1.20", "<p> 'tight' 19.8px/18px = 1.10"]
    await page.close()


async def test_small_targets(browser: Browser) -> None:
    page = await browser.new_page()
    await page.set_content(
        "<style>body { font-size: 16px; line-height: 1.2 } .big { display: inline-block; padding: 12px }</style>"
        "<p>Read <a href='#a'>the rules</a> before booking.</p>"
        "<p><a href='#b' class='alone'>x</a></p>"
        "<p><a href='#c' class='big'>big</a></p>"
        "<button style='width: 10px; height: 10px; padding: 0'></button>"
        "<label style='display: inline-block; padding: 12px'><input type='checkbox'> with a label</label>"
        "<input type='checkbox' id='bare'>"
        "<input type='hidden' name='h'><a href='#d' style='display: none'>none</a>"
    )
    found = await small_targets(page, 24)
    assert [item.split(" ")[0] for item in found] == ["<a.alone>", "<button>", "<input>"]
    assert all("×" in item for item in found)
    await page.close()


async def test_horizontal_overflow(browser: Browser) -> None:
    page = await browser.new_page(viewport={"width": 320, "height": 640})
    await page.set_content("<p style='overflow-wrap: anywhere'>/api/v1/a/very/long/path/that/wraps/nicely/here</p>")
    assert not await horizontal_overflow(page)
    await page.set_content("<div style='width: 400px'>too wide</div>")
    assert await horizontal_overflow(page)
    await page.close()


async def test_focus_visible(browser: Browser) -> None:
    page = await browser.new_page()
    await page.set_content(
        "<button>plain</button><button style='outline: none'>hidden focus</button>"
        "<a href='#x' style='outline: none; box-shadow: 0 0 0 3px #000'>shadow</a>"
        "<input style='outline: 0' aria-label='field'>"
    )
    assert await focus_visible(page) == ["<button> 'hidden focus'", "<input> 'field'"]
    await page.close()
