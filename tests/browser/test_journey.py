"""A resident's whole journey in a real browser, on both databases: from the learning map to the
class, its calendar feed (read by ical.js), sign-in, applying, 我的课程 and withdrawing — once with
the mouse, once with the keyboard alone, and once more with JavaScript switched off."""

from datetime import UTC, datetime

import pytest

from tests.browser.site import visit
from tests.clients.oracles import icaljs_occurrences
from tests.web.site import RESIDENT

MARCH = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
MAX_TABS = 120


class Mouse:
    """Clicks and types where a pointer would."""

    def __init__(self, page):
        self.page = page

    async def follow(self, selector: str) -> None:
        await self.page.locator(selector).first.click()

    async def type_into(self, selector: str, text: str) -> None:
        await self.page.locator(selector).click()
        await self.page.keyboard.type(text)


class Keyboard:
    """Only Tab, Enter and typing: each control is reached by tabbing through the page in order."""

    def __init__(self, page):
        self.page = page

    async def focus(self, selector: str) -> None:
        await self.page.evaluate("document.activeElement && document.activeElement.blur()")
        for _ in range(MAX_TABS):
            await self.page.keyboard.press("Tab")
            if await self.page.evaluate("s => document.activeElement.matches(s)", selector):
                return
        pytest.fail(f"{selector} cannot be reached with the Tab key on {self.page.url}")

    async def follow(self, selector: str) -> None:
        await self.focus(selector)
        await self.page.keyboard.press("Enter")

    async def type_into(self, selector: str, text: str) -> None:
        await self.focus(selector)
        await self.page.keyboard.type(text)


async def journey(page, hand, url: str, offer: int, title: str) -> None:
    await page.goto(url + "/")
    # The map lists the venue with its classes; its link opens them in the catalogue.
    async with page.expect_navigation():
        await hand.follow("a.card-link[href^='/classes?q=']")
    assert "/classes?q=" in page.url
    async with page.expect_navigation():
        await hand.follow(f"a.card-link[href='/classes/{offer}']")
    assert page.url == f"{url}/classes/{offer}"
    assert await page.locator("h1").inner_text() == title

    # Subscribe: the webcal:// button and the address to copy name the same feed, which holds the sessions.
    webcal = await page.locator("a[href^='webcal://']").get_attribute("href")
    address = await page.locator("#feed-address").input_value()
    assert webcal.removeprefix("webcal://") == address.split("://", 1)[1]
    feed = await page.request.get(address)
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    sessions = icaljs_occurrences(await feed.body(), *MARCH)
    assert len(sessions) == 5
    assert sessions[0][:2] == ("2027-03-01T11:00:00+00:00", "2027-03-01T12:30:00+00:00")  # 19:00 Shanghai

    # Sign in from the class page and come back to it.
    async with page.expect_navigation():
        await hand.follow("a[href^='/signin?next=']")
    await hand.type_into("#username", RESIDENT["username"])
    await hand.type_into("#password", RESIDENT["password"])
    async with page.expect_navigation():
        await hand.follow("form[action='/signin'] button[type=submit]")
    assert page.url == f"{url}/classes/{offer}"

    async with page.expect_navigation():
        await hand.follow(f"form[action='/classes/{offer}/apply'] button[type=submit]")
    assert page.url.startswith(f"{url}/me/classes")
    card = page.locator("ul.cards li.card")
    assert await card.count() == 1
    assert title in await card.inner_text()
    assert "您已获得这门课的名额" in await card.inner_text()  # first come, seats left: a seat at once

    async with page.expect_navigation():
        await hand.follow(f"form[action='/classes/{offer}/withdraw'] button[type=submit]")
    assert page.url.startswith(f"{url}/me/classes")
    assert await page.locator("ul.cards li.card").count() == 0
    assert "您已退课" in await page.locator("[role=status]").first.inner_text()


@pytest.mark.parametrize("hand", [Mouse, Keyboard], ids=["mouse", "keyboard"])
async def test_a_resident_finds_subscribes_applies_and_withdraws(hand, browser, live_server, live_site):
    context = await visit(browser, live_server.url)
    page = await context.new_page()
    await journey(page, hand(page), live_server.url, live_site.world.offer, "书法入门")
    await context.close()


async def test_the_journey_works_without_javascript(browser, live_server, live_site):
    context = await visit(browser, live_server.url, javascript=False, width=320)
    page = await context.new_page()
    await journey(page, Mouse(page), live_server.url, live_site.world.offer, "书法入门")
    await context.close()
