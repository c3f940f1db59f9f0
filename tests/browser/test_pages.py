"""Every page in a real browser, in both languages and both modes, on a phone (320 px) and a
desktop (1280 px): axe-core finds no WCAG 2.2 AA violation, and what axe does not measure is
measured in the page: text size, line spacing, target size, reflow and a visible focus.

Standard mode: no text under 14 px, every target at least 44×44 px. 长辈模式: no text under 18 px,
every target at least 60×60 px, base text 22 px. Line height at least 1.3 everywhere. (One
database is enough here: the pages' content comes from services tested on both.)"""

import pytest

from tests.browser.checks import (
    axe_violations,
    focus_visible,
    horizontal_overflow,
    small_targets,
    small_text,
    tight_lines,
)
from tests.browser.site import LANGUAGES, MODES, WIDTHS, sign_in_in, visit
from tests.web.site import RESIDENT, post_form, sign_in

PUBLIC = ("/", "/classes", "/classes/{offer}", "/venues/{venue}?week=2027-03-01", "/signin", "/no-such-page")
SIGNED_IN = ("/me/classes", "/me/record", "/me/calendar")


async def measure(page, elder: bool, width: int) -> dict[str, object]:
    found = {
        "axe": await axe_violations(page),
        "small text": await small_text(page, 18 if elder else 14),
        "tight lines": await tight_lines(page, 1.3),
        "small targets": await small_targets(page, 60 if elder else 44),
    }
    if width == 320:
        found["overflows 320 px"] = await horizontal_overflow(page)
    return {name: problems for name, problems in found.items() if problems}


async def check_everywhere(browser, url: str, path: str, *, signed_in: bool = False) -> None:
    problems = {}
    for lang in LANGUAGES:
        for elder in MODES:
            context = await visit(browser, url, lang=lang, elder=elder)
            page = await context.new_page()
            if signed_in:
                await sign_in_in(page, url)
            for width in WIDTHS:
                await page.set_viewport_size({"width": width, "height": 800})
                await page.goto(url + path)
                base = await page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
                assert base == (22 if elder else 17)
                found = await measure(page, elder, width)
                if found:
                    problems[(lang, "elder" if elder else "standard", width)] = found
            await context.close()
    assert problems == {}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", PUBLIC)
async def test_public_pages_pass_in_every_mode_language_and_width(path, browser, live_server, live_site):
    await check_everywhere(
        browser, live_server.url, path.format(offer=live_site.world.offer, venue=live_site.world.venue)
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", SIGNED_IN)
async def test_resident_pages_pass_in_every_mode_language_and_width(path, browser, live_server, live_site):
    await sign_in(live_site.pages, RESIDENT["username"], RESIDENT["password"])  # a seat: the pages have content
    await post_form(live_site.pages, "/me/classes", f"/classes/{live_site.world.offer}/apply", {})
    await check_everywhere(browser, live_server.url, path, signed_in=True)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_focus_is_always_visible(browser, live_server, live_site):
    for elder in MODES:
        context = await visit(browser, live_server.url, elder=elder)
        page = await context.new_page()
        for path in ("/", "/classes", f"/classes/{live_site.world.offer}", "/signin"):
            await page.goto(live_server.url + path)
            assert await focus_visible(page, max_tabs=30) == [], path
        await context.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_a_wrong_mail_address_is_shown_plainly_and_its_link_leads_to_the_field(browser, live_server, live_site):
    problems = {}
    for elder in MODES:
        context = await visit(browser, live_server.url, elder=elder)
        page = await context.new_page()
        await sign_in_in(page, live_server.url)
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 800})
            await page.goto(f"{live_server.url}/me/calendar")
            await page.fill("#email", "li xiuying@qq")
            async with page.expect_navigation():
                await page.click("button[name=action][value=save]")
            assert (await page.title()).startswith("错误：")
            found = await measure(page, elder, width)
            if found:
                problems[("elder" if elder else "standard", width)] = found
            await page.click(".error-summary a")
            assert await page.evaluate("document.activeElement.id") == "email"
        await context.close()
    assert problems == {}
