"""iCal feeds over HTTP: what each feed shows, as real calendar clients read it, and the caching
a subscribed client relies on (ETag, Last-Modified, 304, HEAD, private feeds)."""

from datetime import UTC, datetime, timedelta

import httpx
import icalendar
import pytest
from sqlalchemy import insert

from booking.api.feeds import RenderedFeeds
from booking.models import ClassBooking
from tests.clients.oracles import ical_occurrences, icaljs_occurrences
from tests.factories import Factory, at

WINDOW = (datetime.fromisoformat("2027-02-01T00:00:00+00:00"), datetime.fromisoformat("2027-05-01T00:00:00+00:00"))


@pytest.fixture
async def feeds(transport):
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
async def world(make, as_user):
    """A weekly series of four Monday evenings: the second session moved to Tuesday, the third cancelled."""
    room = await make.space(name="Reading room")
    group = await make.organisation(name="望潮合唱团")
    organiser = await as_user("organiser", organisation_id=group["id"])
    body = Factory.booking_body(
        room["id"],
        group["id"],
        at(1, 19),
        at(1, 21),
        title="Choir practice",
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
    )
    series = (await organiser.post("/bookings", json=body)).json()
    path = f"/bookings/{series['id']}/occurrences"
    second, third = series["occurrences"][1]["id"], series["occurrences"][2]["id"]
    moved = await organiser.post(f"{path}/{second}/move", json={"starts_at": at(9, 18), "ends_at": at(9, 20)})
    assert moved.status_code == 200, moved.text
    assert (await organiser.post(f"{path}/{third}/cancel")).status_code == 200
    return {"room": room, "group": group, "organiser": organiser, "series": series}


def utc(local: str) -> str:
    return datetime.fromisoformat(local).astimezone(UTC).isoformat()


def expected(*pairs: tuple[str, str], status: str = "CONFIRMED") -> list[tuple[str, str, str]]:
    return [(utc(start), utc(end), status) for start, end in pairs]


async def test_a_space_feed_frees_cancelled_sessions_and_shows_moved_ones(feeds, world):
    response = await feeds.get(f"/feeds/spaces/{world['room']['id']}.ics")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"].startswith("public")
    body = response.content
    assert not body.startswith(b"\xef\xbb\xbf") and b"\r\n" in body
    clients = {"ical.js": icaljs_occurrences(body, *WINDOW), "ical": ical_occurrences(body, *WINDOW)}
    want = sorted(expected((at(1, 19), at(1, 21)), (at(9, 18), at(9, 20)), (at(22, 19), at(22, 21))))
    for name, seen in clients.items():
        assert seen == want, name
    text = body.decode()
    assert "望潮合唱团" in text  # who holds the room is public; what they do there is not shown
    assert "Choir practice" not in text


async def test_an_organisation_feed_shows_the_cancelled_session_as_cancelled(feeds, world):
    body = (await feeds.get(f"/feeds/organisations/{world['group']['id']}.ics")).content

    want = sorted(
        expected((at(1, 19), at(1, 21)), (at(9, 18), at(9, 20)), (at(22, 19), at(22, 21)))
        + expected((at(15, 19), at(15, 21)), status="CANCELLED")
    )
    assert icaljs_occurrences(body, *WINDOW) == want
    assert ical_occurrences(body, *WINDOW) == want
    assert "Choir practice" in body.decode()


async def test_class_and_teacher_feeds_show_the_class_sessions(feeds, engine, make, world):
    teacher = (
        await make.client.post("/teachers", json={"name": "王老师", "organisation_id": world["group"]["id"]})
    ).json()
    offer = (
        await make.client.post(
            "/classes",
            json={
                "title": "合唱基础",
                "organisation_id": world["group"]["id"],
                "term_start": "2027-03-01",
                "term_end": "2027-03-31",
            },
        )
    ).json()
    async with engine.begin() as connection:
        await connection.execute(
            insert(ClassBooking).values(
                booking_id=world["series"]["id"], class_id=offer["id"], teacher_id=teacher["id"], session_index=0
            )
        )

    class_feed = (await feeds.get(f"/feeds/classes/{offer['id']}.ics")).content
    teacher_feed = (await feeds.get(f"/feeds/teachers/{teacher['id']}.ics")).content

    assert len(icaljs_occurrences(class_feed, *WINDOW)) == 4
    assert icaljs_occurrences(teacher_feed, *WINDOW) == icaljs_occurrences(class_feed, *WINDOW)
    assert "王老师" not in teacher_feed.decode()  # a public feed names nobody


async def test_unchanged_feeds_are_byte_identical_and_304_on_revalidation(feeds, world):
    path = f"/feeds/spaces/{world['room']['id']}.ics"
    first = await feeds.get(path)
    second = await feeds.get(path)

    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    not_modified = await feeds.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == first.headers["etag"]
    assert not_modified.headers["last-modified"] == first.headers["last-modified"]


async def test_a_change_gives_a_new_etag_and_a_fresh_200(feeds, world, clock):
    path = f"/feeds/organisations/{world['group']['id']}.ics"
    before = await feeds.get(path)
    booking = world["series"]
    clock.now += timedelta(minutes=5)
    assert (
        await world["organiser"].patch(f"/bookings/{booking['id']}", json={"title": "Choir concert"})
    ).status_code == 200

    after = await feeds.get(path, headers={"If-None-Match": before.headers["etag"]})

    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    master = next(c for c in icalendar.Calendar.from_ical(after.content).walk("VEVENT") if "RECURRENCE-ID" not in c)
    old = next(c for c in icalendar.Calendar.from_ical(before.content).walk("VEVENT") if "RECURRENCE-ID" not in c)
    assert master["UID"] == old["UID"]
    assert int(master["SEQUENCE"]) > int(old["SEQUENCE"])
    assert master.decoded("LAST-MODIFIED") > old.decoded("LAST-MODIFIED")


async def test_if_modified_since_and_head(feeds, world):
    path = f"/feeds/spaces/{world['room']['id']}.ics"
    full = await feeds.get(path)
    modified = full.headers["last-modified"]

    assert (await feeds.get(path, headers={"If-Modified-Since": modified})).status_code == 304
    assert (await feeds.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})).status_code == 200
    assert (await feeds.get(path, headers={"If-Modified-Since": "yesterday"})).status_code == 200
    stale_tag = await feeds.get(path, headers={"If-None-Match": '"other"', "If-Modified-Since": modified})
    assert stale_tag.status_code == 200  # If-None-Match wins
    head = await feeds.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == full.headers["etag"]


async def test_unknown_feeds_are_404(feeds, world):
    for path in ("/feeds/spaces/9999.ics", "/feeds/spaces/abc.ics", "/feeds/rooms/1.ics", "/feeds/spaces/1"):
        assert (await feeds.get(path)).status_code == 404, path


async def test_feed_links_offer_https_and_webcal(make, anonymous, world):
    links = await anonymous.get(f"/feeds/spaces/{world['room']['id']}")

    assert links.status_code == 200
    assert links.json()["https"] == f"http://testserver/feeds/spaces/{world['room']['id']}.ics"
    assert links.json()["webcal"] == f"webcal://testserver/feeds/spaces/{world['room']['id']}.ics"
    assert (await anonymous.get("/feeds/spaces/9999")).status_code == 404


async def test_a_private_feed_is_revocable_and_not_an_api_key(feeds, anonymous, world):
    organiser = world["organiser"]
    issued = await organiser.post("/feeds/private")
    assert issued.status_code == 201
    https = issued.json()["https"]
    path = https.removeprefix("http://testserver")
    assert issued.json()["webcal"].startswith("webcal://") and len(https) <= 256

    response = await feeds.get(path)
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("private")
    assert len(icaljs_occurrences(response.content, *WINDOW)) == 4
    token = path.removeprefix("/feeds/private/").removesuffix(".ics")
    as_key = await anonymous.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert as_key.status_code == 401

    reissued = (await organiser.post("/feeds/private")).json()["https"].removeprefix("http://testserver")
    assert (await feeds.get(path)).status_code == 404
    assert (await feeds.get(reissued)).status_code == 200
    tokens = (await organiser.get("/auth/tokens")).json()
    live = [t for t in tokens if t["kind"] == "feed" and t["revoked_at"] is None]
    assert (await organiser.post(f"/auth/tokens/{live[0]['id']}/revoke")).status_code == 200
    assert (await feeds.get(reissued)).status_code == 404


async def test_the_window_bounds_a_feed(feeds, make, world, clock):
    far = (clock.now + timedelta(days=400)).replace(hour=11).isoformat()
    far_end = (clock.now + timedelta(days=400)).replace(hour=12).isoformat()
    response = await make.client.post(
        "/bookings", json=Factory.booking_body(world["room"]["id"], world["group"]["id"], far, far_end)
    )
    assert response.status_code == 201

    body = (await feeds.get(f"/feeds/organisations/{world['group']['id']}.ics")).content

    assert f"booking-{response.json()['id']}@" not in body.decode()


async def test_a_cancelled_booking_stays_cancelled_for_a_while_then_leaves(feeds, world, clock):
    path = f"/feeds/organisations/{world['group']['id']}.ics"
    series = world["series"]
    before = await feeds.get(path)
    clock.now += timedelta(minutes=1)
    assert (await world["organiser"].post(f"/bookings/{series['id']}/cancel")).status_code == 200

    cancelled = await feeds.get(path)
    master = next(c for c in icalendar.Calendar.from_ical(cancelled.content).walk("VEVENT") if "RECURRENCE-ID" not in c)
    old = next(c for c in icalendar.Calendar.from_ical(before.content).walk("VEVENT") if "RECURRENCE-ID" not in c)
    assert master["STATUS"] == "CANCELLED" and int(master["SEQUENCE"]) > int(old["SEQUENCE"])
    assert {status for *_, status in icaljs_occurrences(cancelled.content, *WINDOW)} == {"CANCELLED"}

    clock.now += timedelta(days=31)
    gone = await feeds.get(path)
    assert f"booking-{series['id']}@" not in gone.content.decode()
    space_feed = await feeds.get(f"/feeds/spaces/{world['room']['id']}.ics")
    assert f"booking-{series['id']}@" not in space_feed.content.decode()  # a place's feed just frees the time


def test_the_rendering_cache_keeps_one_rendering_per_feed_within_its_bounds():
    cache, moment = RenderedFeeds(max_feeds=2, max_bytes=10), datetime(2027, 1, 1, tzinfo=UTC)

    cache.put("spaces/1", "v1", b"12345", '"a"', moment)
    assert cache.get("spaces/1", "v1") == (b"12345", '"a"', moment)
    assert cache.get("spaces/1", "v2") is None  # the data changed: render again
    cache.put("spaces/1", "v2", b"123", '"b"', moment)  # replaces, never piles up
    assert cache.get("spaces/1", "v1") is None
    cache.put("spaces/2", "v1", b"1234567", '"c"', moment)
    cache.put("spaces/3", "v1", b"1", '"d"', moment)  # over two feeds: the least recently used goes
    assert cache.get("spaces/1", "v2") is None
    cache.put("spaces/4", "v1", b"1234", '"e"', moment)  # over ten bytes: so does the next
    assert cache.get("spaces/2", "v1") is None and cache.get("spaces/4", "v1") is not None
