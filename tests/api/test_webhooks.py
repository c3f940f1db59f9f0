"""Webhooks on both databases: registering (no URL inside the network, the secret shown once),
deliveries signed per Standard Webhooks (checked with that project's own verifier), retried with
backoff in order per booking, dead after a day with their last error, the guard again at delivery
time, and the delivery log."""

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from standardwebhooks.webhooks import Webhook

from booking.jobs import Deliverer
from booking.models import OutboxMessage, WebhookDelivery, WebhookEndpoint
from integrations import fetch as fetching
from tests.api.test_operations import sample
from tests.factories import at


class Receiver(ThreadingHTTPServer):
    """A webhook receiver on 127.0.0.1: records what it is sent, answers ``statuses`` in turn
    (then 200)."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/venueshare"

    def topics(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.server.statuses.pop(0) if self.server.statuses else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver(monkeypatch) -> Iterator[Receiver]:
    """The receiver, which the URL guard lets through in this test only (it is on loopback)."""
    monkeypatch.setattr(fetching, "public_address", lambda address: address == "127.0.0.1")
    yield from receiving()


@pytest.fixture
def internal_receiver() -> Iterator[Receiver]:
    """The receiver, with the URL guard as it is."""
    yield from receiving()


def receiving() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def deliverer(engine, clock) -> Deliverer:
    return Deliverer(async_sessionmaker(engine, expire_on_commit=False), clock)


async def register(client, url: str, **fields) -> dict:
    response = await client.post("/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def deliveries(client, endpoint: dict) -> list[dict]:
    response = await client.get(f"/webhooks/{endpoint['id']}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def counts(engine) -> tuple[int, int]:
    async with engine.connect() as connection:
        return (
            await connection.scalar(select(func.count()).select_from(WebhookEndpoint)),
            await connection.scalar(select(func.count()).select_from(WebhookDelivery)),
        )


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/hook", "https://10.0.0.1/hook", "http://[::1]/hook", "file:///etc/passwd", "ftp://x.org/h"],
)
async def test_a_url_inside_the_network_is_refused_and_nothing_is_kept(client, engine, url):
    response = await client.post("/webhooks", json={"url": url})

    assert (response.status_code, response.json()["code"]) == (422, "url_not_allowed"), response.text
    assert await counts(engine) == (0, 0)


async def test_the_secret_is_shown_once_and_only_staff_register(client, as_user, make, receiver, engine):
    org = await make.organisation()
    endpoint = await register(client, receiver.url, organisation_id=org["id"], topics=["booking.cancelled"])
    organiser = await as_user("organiser", organisation_id=org["id"])
    staff = await as_user("venue_manager", organisation_id=org["id"])

    assert endpoint["secret"].startswith("whsec_")
    listed = (await client.get("/webhooks")).json()["items"]
    assert [item["id"] for item in listed] == [endpoint["id"]] and "secret" not in listed[0]
    assert (
        await organiser.post("/webhooks", json={"url": receiver.url, "organisation_id": org["id"]})
    ).status_code == 403
    assert (await staff.post("/webhooks", json={"url": receiver.url, "organisation_id": org["id"]})).status_code == 201
    assert (await staff.post("/webhooks", json={"url": receiver.url})).status_code == 403  # the district's: admins
    assert (await staff.get(f"/webhooks/{endpoint['id']}/deliveries")).status_code == 200
    unknown_topic = await client.post("/webhooks", json={"url": receiver.url, "topics": ["booking.sold"]})
    assert (unknown_topic.status_code, unknown_topic.json()["code"]) == (422, "invalid_request")
    assert await counts(engine) == (2, 0)


async def test_a_booking_is_delivered_signed_as_standard_webhooks_verify(
    client, make, org, room, receiver, deliverer, engine
):
    endpoint = await register(client, receiver.url)
    booked = (await make.book(room["id"], org["id"], at(1, 9), at(1, 10))).json()

    assert await deliverer.deliver() == 1

    [(headers, body)] = receiver.received
    message = Webhook(endpoint["secret"]).verify(body, headers)  # raises unless signed right and recent
    async with engine.connect() as connection:
        outbox_id = await connection.scalar(select(OutboxMessage.id))
    assert headers["webhook-id"] == f"msg_{outbox_id}"
    assert message["type"] == "booking.confirmed"
    assert (message["data"]["booking_id"], message["data"]["organisation_id"]) == (booked["id"], org["id"])
    [log] = await deliveries(client, endpoint)
    assert (log["state"], log["attempts"], log["last_status"], log["topic"]) == (
        "delivered",
        1,
        200,
        "booking.confirmed",
    )
    assert await deliverer.deliver() == 0  # at least once, and not again once delivered


async def test_a_failed_delivery_is_retried_with_backoff_and_the_next_of_its_booking_waits(
    client, make, org, room, receiver, deliverer, clock
):
    endpoint = await register(client, receiver.url)
    booked = (await make.book(room["id"], org["id"], at(1, 9), at(1, 10))).json()
    assert (await make.client.post(f"/bookings/{booked['id']}/cancel")).status_code == 200
    receiver.statuses = [500]

    await deliverer.deliver()
    await deliverer.deliver()  # nothing is due: the first waits its backoff, the second its turn

    assert receiver.topics() == ["booking.confirmed"]
    first, second = sorted(await deliveries(client, endpoint), key=lambda d: d["message_id"])
    assert (first["state"], first["attempts"], first["last_status"]) == ("pending", 1, 500)
    assert first["last_error"] == "the endpoint answered 500"
    assert (second["state"], second["attempts"]) == ("pending", 0)

    clock.now += timedelta(seconds=6)  # past the first backoff (5 s)
    await deliverer.deliver()

    assert receiver.topics() == ["booking.confirmed", "booking.confirmed", "booking.cancelled"]
    assert {d["state"] for d in await deliveries(client, endpoint)} == {"delivered"}


async def test_after_a_day_of_failures_a_delivery_is_dead_and_the_next_goes(
    client, make, org, room, receiver, deliverer, clock
):
    endpoint = await register(client, receiver.url)
    booked = (await make.book(room["id"], org["id"], at(1, 9), at(1, 10))).json()
    assert (await make.client.post(f"/bookings/{booked['id']}/cancel")).status_code == 200
    receiver.statuses = [503] * 1000

    for _ in range(40):
        await deliverer.deliver()
        first = min(await deliveries(client, endpoint), key=lambda d: d["message_id"])
        if first["state"] == "dead":
            break
        clock.now += timedelta(hours=1, seconds=1)

    assert (first["state"], first["last_status"], first["last_error"]) == ("dead", 503, "the endpoint answered 503")
    assert 10 <= first["attempts"] <= 40  # 5 s doubling to an hour apart, for a day
    assert "booking.cancelled" in receiver.topics()  # the next of the booking went once the first was dead
    metrics = (await client.get("http://testserver/metrics")).text
    assert sample(metrics, "venueshare_webhook_deliveries", state="dead") == 1


async def test_an_organisation_hears_of_its_own_bookings_and_topics_only(client, make, org, room, receiver, deliverer):
    other = await make.organisation(name="另一个组织")
    await register(client, receiver.url, organisation_id=org["id"], topics=["booking.cancelled"])
    theirs = (await make.book(room["id"], other["id"], at(1, 9), at(1, 10))).json()
    ours = (await make.book(room["id"], org["id"], at(1, 11), at(1, 12))).json()
    for booking in (theirs, ours):
        assert (await make.client.post(f"/bookings/{booking['id']}/cancel")).status_code == 200

    await deliverer.deliver()

    assert [json.loads(body)["data"]["booking_id"] for _, body in receiver.received] == [ours["id"]]
    assert receiver.topics() == ["booking.cancelled"]


async def test_the_url_is_checked_again_when_delivering(client, make, org, room, receiver, deliverer, monkeypatch):
    endpoint = await register(client, receiver.url)
    await make.book(room["id"], org["id"], at(1, 9), at(1, 10))
    monkeypatch.setattr(fetching, "public_address", lambda address: False)  # its name now points inside

    await deliverer.deliver()

    assert receiver.received == []
    [log] = await deliveries(client, endpoint)
    assert (log["state"], log["last_status"]) == ("pending", None)
    assert "not a public address" in log["last_error"]


async def test_deleting_an_endpoint_stops_its_deliveries(client, make, org, room, receiver, deliverer, engine):
    endpoint = await register(client, receiver.url)
    assert (await client.delete(f"/webhooks/{endpoint['id']}")).status_code == 204
    await make.book(room["id"], org["id"], at(1, 9), at(1, 10))

    await deliverer.deliver()

    assert receiver.received == [] and await counts(engine) == (0, 0)
    assert (await client.get(f"/webhooks/{endpoint['id']}/deliveries")).status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"webhooks_to_internal_network": True}])
async def test_an_operator_may_allow_receivers_on_the_internal_network(
    client, make, org, room, internal_receiver, engine, clock
):
    endpoint = await register(client, internal_receiver.url)  # loopback: refused unless allowed
    await make.book(room["id"], org["id"], at(1, 9), at(1, 10))
    strict = Deliverer(async_sessionmaker(engine, expire_on_commit=False), clock)
    allowing = Deliverer(async_sessionmaker(engine, expire_on_commit=False), clock, internal=True)

    await strict.deliver()  # a process not allowed to reaches nothing inside
    assert internal_receiver.received == []
    clock.now += timedelta(seconds=6)
    await allowing.deliver()

    assert internal_receiver.topics() == ["booking.confirmed"]
    assert [d["state"] for d in await deliveries(client, endpoint)] == ["delivered"]
