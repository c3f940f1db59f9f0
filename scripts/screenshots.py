"""Screenshots of the main pages at a phone's width, in standard mode and in 长辈模式, for the README.

Run the demo first (``./scripts/serve``), then, with the test dependencies installed::

    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:8000] [--out docs/screenshots]

It signs in as the demo resident (``resident-li``) for the resident's pages and drives Debian's
Chromium through Playwright, as the browser tests do.
"""

import argparse
import asyncio
import shutil
from pathlib import Path

from playwright.async_api import Page, async_playwright

PHONE = {"width": 375, "height": 812}
RESIDENT = ("resident-li", "resident-li-demo-2027")


async def first_link(page: Page, url: str, selector: str) -> str:
    await page.goto(url)
    href = await page.locator(selector).first.get_attribute("href")
    return href.split("?")[0]


async def shoot(url: str, out: Path) -> list[Path]:
    taken = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        for mode, elder in (("standard", "0"), ("elder", "1")):
            context = await browser.new_context(viewport=PHONE, locale="zh-CN")
            await context.add_cookies([{"name": "vs_elder", "value": elder, "url": url}])
            page = await context.new_page()
            a_class = await first_link(page, f"{url}/classes", "a.card-link[href^='/classes/']")
            a_venue = await first_link(page, f"{url}/", "a.card-link[href^='/venues/']")
            pages = {"map": "/", "classes": "/classes", "class": a_class, "venue": a_venue, "signin": "/signin"}
            for name, path in pages.items():
                await page.goto(url + path)
                taken.append(out / f"{name}-{mode}.png")
                await page.screenshot(path=taken[-1], full_page=True)
            await page.fill("#username", RESIDENT[0])
            await page.fill("#password", RESIDENT[1])
            await page.click("form[action='/signin'] button[type=submit]")
            await page.wait_for_url(f"{url}/me/classes")
            for name, path in {"my-classes": "/me/classes", "my-record": "/me/record"}.items():
                await page.goto(url + path)
                taken.append(out / f"{name}-{mode}.png")
                await page.screenshot(path=taken[-1], full_page=True)
            await context.close()
        await browser.close()
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the demo runs")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(args.url.rstrip("/"), args.out)):
        print(path)


if __name__ == "__main__":
    main()
