import httpx
import pytest

from tests.web.site import Site, build_site


@pytest.fixture
async def site(make, as_user, engine, clock, client, transport) -> Site:
    built = await build_site(make, as_user, engine, clock, client, "http://testserver", transport)
    yield built
    await built.pages.aclose()


@pytest.fixture
def page_client(transport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
