"""The database restarting under a running API: requests meanwhile are 503 database_unavailable
with nothing half-done, and the API recovers by itself once the database is back."""

import asyncio

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from booking.app import create_app
from booking.background import RESTART_AFTER_S
from booking.config import Settings
from booking.models import Booking, Region
from tests.conftest import TEST_SETTINGS, bearer, issue_token, start_lifespan, stop_lifespan
from tests.factories import at
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


async def counts(engine) -> tuple[int, int]:
    """Regions besides the fixtures' own, and bookings."""
    async with engine.connect() as connection:
        regions = await connection.scalar(select(func.count()).select_from(Region).where(Region.name.like("_城")))
        return regions, await connection.scalar(select(func.count()).select_from(Booking))


async def test_requests_while_the_database_restarts_are_503_and_the_api_recovers(
    db_url, engine, clock, make, org, room
):
    direct = make_url(db_url)
    proxy = await TcpProxy(direct.host or "127.0.0.1", direct.port or 5432).start()
    app = create_app(
        Settings(database_url=direct.set(port=proxy.port).render_as_string(False), **TEST_SETTINGS), clock=clock
    )
    lifespan = await start_lifespan(app)
    token = await issue_token(db_url, clock.now, "district_admin")
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=bearer(token)
        ) as http:
            assert (await http.post("/api/v1/regions", json={"name": "东城", "level": "district"})).status_code == 201
            assert (await http.get("/api/v1/venues")).status_code == 200
            booking = make.booking_body(room["id"], org["id"], at(1, 9), at(1, 10))
            assert (await http.post("/api/v1/bookings", json=booking)).status_code == 201  # the two-statement path

            await proxy.cut()
            during = [
                await http.get("/api/v1/venues"),
                await http.post("/api/v1/regions", json={"name": "西城", "level": "district"}),
                await http.post("/api/v1/bookings", json=make.booking_body(room["id"], org["id"], at(2, 9), at(2, 10))),
                await http.get("/ready"),
            ]
            health = await http.get("/health")
            await proxy.restore()
            after = [await http.get("/api/v1/venues") for _ in range(3)]
            created = await http.post("/api/v1/regions", json={"name": "南城", "level": "district"})
            booked = await http.post(
                "/api/v1/bookings", json=make.booking_body(room["id"], org["id"], at(3, 9), at(3, 10))
            )
            ready = await http.get("/ready")
            await asyncio.sleep(RESTART_AFTER_S + 1)
            working = app.state.background.working  # the job worker came back too
    finally:
        await stop_lifespan(*lifespan)
        await proxy.stop()

    for response in during:
        assert (response.status_code, response.json()["code"]) == (503, "database_unavailable"), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert during[0].headers["retry-after"] == "5"
    assert health.status_code == 200  # the process is alive all along
    assert [response.status_code for response in after] == [200, 200, 200]
    assert (created.status_code, booked.status_code, ready.status_code) == (201, 201, 200), ready.text
    assert working
    assert await counts(engine) == (2, 2)  # nothing of the refused requests was kept
