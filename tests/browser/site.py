"""How the browser tests open the site: a browser context per language, mode, width and script
setting, and signing in as the page tests' resident."""

from playwright.async_api import Browser, BrowserContext

from tests.web.site import RESIDENT

WIDTHS = (320, 1280)
MODES = (False, True)  # elder mode off, on
LANGUAGES = ("zh", "en")


async def visit(
    browser: Browser, url: str, *, lang: str = "zh", elder: bool = False, width: int = 1280, javascript: bool = True
) -> BrowserContext:
    """A fresh browser with the language and mode already chosen (as the switch leaves them)."""
    context = await browser.new_context(
        viewport={"width": width, "height": 800},
        locale="zh-CN" if lang == "zh" else "en-GB",
        java_script_enabled=javascript,
    )
    await context.add_cookies(
        [
            {"name": "vs_lang", "value": lang, "url": url},
            {"name": "vs_elder", "value": "1" if elder else "0", "url": url},
        ]
    )
    return context


async def sign_in_in(page, url: str) -> None:
    await page.goto(f"{url}/signin")
    await page.fill("#username", RESIDENT["username"])
    await page.fill("#password", RESIDENT["password"])
    await page.click("form[action='/signin'] button[type=submit]")
    await page.wait_for_url(f"{url}/me/classes")
