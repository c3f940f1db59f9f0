"""A real browser on the real app: the app served by uvicorn on a free local port, and Debian's
Chromium driven by Playwright.

The server runs in a thread with its own event loop, so the app's database connections, allocation
runner and sweeper live there while the test drives the browser from its own loop. Playwright never
downloads a browser here: the tests use the system's ``chromium`` and fail (never skip) without it.
"""

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from litestar import Litestar
from playwright.async_api import Browser, async_playwright

from booking.app import create_app
from booking.config import Settings
from tests.conftest import TEST_SETTINGS
from tests.web.site import Site, build_site

DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class LiveServer:
    url: str  # e.g. "http://127.0.0.1:41234", no trailing slash
    app: Litestar


def find_chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return DEBIAN_CHROMIUM if os.access(DEBIAN_CHROMIUM, os.X_OK) else None


@pytest.fixture
async def live_server(db_url: str, clock, settings_overrides: dict) -> AsyncIterator[LiveServer]:
    """The app on ``http://127.0.0.1:<free port>``, answering ``/health`` before the test starts."""
    app = create_app(Settings(database_url=db_url, **(TEST_SETTINGS | settings_overrides)), clock=clock)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # log_config=None: leave the logging configuration alone (uvicorn's own would replace it process-wide).
    # ws="none": no websocket library, none of its deprecation warnings.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", log_config=None, lifespan="on", ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive():
                pytest.fail("the live server stopped while starting (see its log above)")
            if time.monotonic() > deadline:
                pytest.fail(f"the live server did not start within {START_TIMEOUT:.0f} s")
            await asyncio.sleep(0.02)
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            response = await http.get("/health")
        assert response.status_code == 200, response.text
        yield LiveServer(url=url, app=app)
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, STOP_TIMEOUT)
        listener.close()
    assert not thread.is_alive(), f"the live server did not stop within {STOP_TIMEOUT:.0f} s"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium (the system's), closed after the test. Open contexts and pages from it."""
    executable = find_chromium()
    if executable is None:
        pytest.fail(
            "The browser tests need Chromium: install Debian's package (apt-get install chromium; scripts/test "
            "does so when run as root). Playwright's own browser download is not used."
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def live_site(make, as_user, engine, clock, client, live_server) -> AsyncIterator[Site]:
    """The page tests' small world, served by the live server; its ``pages`` client talks to it."""
    site = await build_site(make, as_user, engine, clock, client, live_server.url)
    yield site
    await site.pages.aclose()
