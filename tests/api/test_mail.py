"""Mail on both databases, sent to a real SMTP server the tests start (aiosmtpd): who is told of
what, the invitation each mail carries (read by ical.js and by Home Assistant's ``ical``) with the
UID of the person's own feed, and a server that refuses for now (retried) or for good (dead)."""

import email
import email.policy
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from ical.calendar_stream import IcsCalendarStream
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from booking.jobs import Deliverer
from booking.models import MailDelivery
from booking.services.mail import Mailer
from integrations.mail import Mailbox, SmtpServer
from tests.api.test_operations import sample
from tests.clients.oracles import icaljs_itip, icaljs_occurrences
from tests.factories import Factory, at
from tests.learning import add_resident, build_learning_world, set_policy

SENDER = Mailbox("venueshare", "noreply@venueshare.test")
WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 12, 31, tzinfo=UTC))


class Inbox:
    """aiosmtpd's handler: keeps what it accepts; ``refuse`` maps a recipient to the answers its
    RCPT gets in turn (then 250)."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.refuse: dict[str, list[str]] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        answers = self.refuse.get(address)
        if answers:
            return answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [mail for mail in self.mails if address in mail["To"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


@pytest.fixture
def mails(inbox) -> Inbox:
    return inbox[0]


@pytest.fixture
def deliverer(engine, clock, inbox) -> Deliverer:
    mailer = Mailer(SmtpServer("127.0.0.1", inbox[1], "plain"), SENDER)
    return Deliverer(async_sessionmaker(engine, expire_on_commit=False), clock, mailer=mailer)


@pytest.fixture
async def world(make, as_user, engine, clock):
    return await build_learning_world(make, as_user, engine, clock)


async def give_address(http, address: str | None) -> dict:
    response = await http.patch("/auth/me", json={"email": address})
    assert response.status_code == 200, response.text
    return response.json()


def invitation(mail: EmailMessage) -> tuple[str, bytes]:
    """The method and the bytes of a mail's ``text/calendar`` part."""
    [part] = [part for part in mail.walk() if part.get_content_type() == "text/calendar"]
    assert part.get_filename() == "invite.ics"
    return part.get_param("method"), part.get_payload(decode=True)


def text_of(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()


async def private_feed(http) -> bytes:
    link = (await http.post("/feeds/private")).json()["https"]
    response = await http.get(link)
    assert response.status_code == 200, response.text
    return response.content


def feed_uids(feed: bytes) -> set[str]:
    return set(re.findall(rb"^UID:(booking-\S+)\r$", feed, flags=re.M))


async def states(engine) -> list[tuple[str, int, str | None]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(MailDelivery.state, MailDelivery.attempts, MailDelivery.last_error).order_by(MailDelivery.id)
        )
        return [tuple(row) for row in rows]


async def enrol(engine, world, clock, people) -> None:
    """The residents hold seats in the class (first come, straight through the API)."""
    await set_policy(engine, world.offer, clock.now, mode="first_come", seats=len(people))
    for person in people:
        applied = await person.http.post(f"/classes/{world.offer}/applications", json={})
        assert applied.json()["state"] == "enrolled", applied.text


# ---- addresses ---------------------------------------------------------------------------------------


async def test_a_person_gives_changes_and_removes_their_address(client):
    organiser = client  # a district administrator: anyone signed in keeps an address of their own
    me = await give_address(organiser, "li.ming@example.cn")
    assert me["email"] == "li.ming@example.cn"
    assert (await organiser.get("/auth/me")).json()["email"] == "li.ming@example.cn"
    for bad in ("li ming@example.cn", "li.ming@localhost", "<a>@example.cn", "张@example.cn", "a@b.cn\nBcc: x@y.cn"):
        refused = await organiser.patch("/auth/me", json={"email": bad})
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_request"), bad
    assert (await organiser.get("/auth/me")).json()["email"] == "li.ming@example.cn"
    null_name = await organiser.patch("/auth/me", json={"display_name": None})
    assert null_name.status_code == 422

    assert (await give_address(organiser, None))["email"] is None
    created = await client.post(
        "/users",
        json={"username": "wang.fang", "password": "correct horse", "role": "resident", "email": "wf@example.cn"},
    )
    assert (created.status_code, created.json()["email"]) == (201, "wf@example.cn"), created.text


# ---- who is told of what ---------------------------------------------------------------------------------


@pytest.fixture
async def approvals(make, as_user):
    """A room that needs approval, its venue's manager, and an organiser who gave an address."""
    room = await make.space()
    school_id = (await make.client.get(f"/venues/{room['venue_id']}")).json()["owner_id"]
    assert (await make.client.put(f"/spaces/{room['id']}/policy", json={"approval": "manual"})).status_code == 200
    group = await make.organisation(name="太极拳队")
    organiser = await as_user("organiser", organisation_id=group["id"])
    await give_address(organiser, "taiji@example.cn")
    manager = await as_user("venue_manager", organisation_id=school_id)
    return room, group, organiser, manager


async def request(organiser, room, group, **fields) -> dict:
    body = Factory.booking_body(room["id"], group["id"], at(1, 19), at(1, 21), title="太极拳练习", **fields)
    response = await organiser.post("/bookings", json=body)
    assert (response.status_code, response.json()["state"]) == (201, "pending"), response.text
    return response.json()


async def test_an_approved_request_mails_an_invitation_with_the_uid_of_their_feed(approvals, deliverer, mails):
    room, group, organiser, manager = approvals
    asked = await request(organiser, room, group, recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"})
    assert (await manager.post(f"/bookings/{asked['id']}/approve", json={"reason": "常规团体"})).status_code == 200

    await deliverer.deliver()

    [mail] = mails.to("taiji@example.cn")
    assert mail["Subject"] == "申请已批准：太极拳练习 | Request approved: 太极拳练习"
    assert "Auto-Submitted" in mail and SENDER.address in mail["From"]
    assert "您的场地申请已获批准" in text_of(mail) and "Your request was approved" in text_of(mail)
    assert "常规团体" in text_of(mail)
    method, ics = invitation(mail)
    read = icaljs_itip(ics)
    assert method == read["method"] == "REQUEST"
    [event] = read["events"]
    feed = await private_feed(organiser)
    assert event["uid"].encode() in feed_uids(feed) and event["uid"] == f"booking-{asked['id']}@private.venueshare"
    assert event["organizer"] == f"mailto:{SENDER.address}" and event["attendee"] == "mailto:taiji@example.cn"
    assert event["sequence"] >= 1 and event["rrule"].startswith("FREQ=WEEKLY")
    # Both clients expand the invitation to the very sessions the feed shows.
    sessions = icaljs_occurrences(ics, *WINDOW)
    assert len(sessions) == 4 and sessions == icaljs_occurrences(feed, *WINDOW)
    strict = IcsCalendarStream.calendar_from_ics(ics.decode())
    assert strict.method == "REQUEST" and len(list(strict.timeline_tz(UTC).overlapping(*WINDOW))) == 4


async def test_a_rejected_request_is_mailed_with_its_reason_and_no_invitation(approvals, deliverer, mails):
    room, group, organiser, manager = approvals
    asked = await request(organiser, room, group)
    assert (await manager.post(f"/bookings/{asked['id']}/reject", json={"reason": "当晚已有活动"})).status_code == 200

    await deliverer.deliver()

    [mail] = mails.to("taiji@example.cn")
    assert mail["Subject"].startswith("申请未获批准：太极拳练习")
    assert "当晚已有活动" in text_of(mail) and "太极拳练习" in text_of(mail)
    assert not [part for part in mail.walk() if part.get_content_type() == "text/calendar"]


async def test_a_cancelled_session_mails_its_enrolled_residents_a_cancel_of_that_session(
    client, world, engine, clock, deliverer, mails
):
    with_address, without = [
        await add_resident(engine, clock.now, world.community, http=client, name=name) for name in ("李秀英", "张伟")
    ]
    await give_address(with_address.http, "lixiuying@example.cn")
    await enrol(engine, world, clock, [with_address, without])
    second = world.occurrences[1]
    cancelled = await client.post(f"/bookings/{world.booking}/occurrences/{second['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text

    await deliverer.deliver()

    assert [mail["To"] for mail in mails.mails] == ["李秀英 <lixiuying@example.cn>"]  # no address, no mail
    [mail] = mails.mails
    method, ics = invitation(mail)
    read = icaljs_itip(ics)
    assert method == read["method"] == "CANCEL"
    [event] = read["events"]
    assert event["uid"].encode() in feed_uids(await private_feed(with_address.http))
    assert (event["rid"], event["status"]) == (_utc(second["starts_at"]), "CANCELLED")
    assert event["sequence"] == cancelled.json()["version"]
    assert "2027年3月8日 周一 19:00–20:30" in text_of(mail) and "Mon 8 March 2027, 19:00–20:30" in text_of(mail)
    strict = IcsCalendarStream.calendar_from_ics(ics.decode())
    assert strict.method == "CANCEL" and [e.uid for e in strict.events] == [event["uid"]]


async def test_a_session_added_back_mails_a_request_that_holds_it(client, world, engine, clock, deliverer, mails):
    resident = await add_resident(engine, clock.now, world.community, http=client)
    await give_address(resident.http, "lixiuying@example.cn")
    await enrol(engine, world, clock, [resident])
    second = world.occurrences[1]
    assert (await client.post(f"/bookings/{world.booking}/occurrences/{second['id']}/cancel")).status_code == 200
    added = await client.post(f"/bookings/{world.booking}/occurrences", json={"starts_at": second["starts_at"]})
    assert added.status_code == 200, added.text

    await deliverer.deliver()

    cancel, request = mails.to("lixiuying@example.cn")  # in the order they happened
    assert (invitation(cancel)[0], invitation(request)[0]) == ("CANCEL", "REQUEST")
    assert request["Subject"].startswith("新增课次：书法入门")
    sessions = icaljs_occurrences(invitation(request)[1], *WINDOW)
    second_start = datetime.fromisoformat(second["starts_at"]).astimezone(UTC).isoformat()
    assert len(sessions) == 5 and (second_start, "CONFIRMED") in [(start, status) for start, _, status in sessions]
    feed = icaljs_occurrences(await private_feed(resident.http), *WINDOW)
    assert (second_start, "CONFIRMED") in [(start, status) for start, _, status in feed]  # the feed agrees


async def test_a_moved_session_mails_a_request_with_its_new_time(client, world, engine, clock, deliverer, mails):
    resident = await add_resident(engine, clock.now, world.community, http=client)
    await give_address(resident.http, "lixiuying@example.cn")
    await enrol(engine, world, clock, [resident])
    first = world.occurrences[0]
    new_start = datetime.fromisoformat(first["starts_at"]) + timedelta(days=1)
    moved = await client.post(
        f"/bookings/{world.booking}/occurrences/{first['id']}/move",
        json={"starts_at": new_start.isoformat(), "ends_at": (new_start + timedelta(minutes=90)).isoformat()},
    )
    assert moved.status_code == 200, moved.text

    await deliverer.deliver()

    [mail] = mails.to("lixiuying@example.cn")
    method, ics = invitation(mail)
    assert method == "REQUEST" and mail["Subject"].startswith("时间变更：书法入门")
    assert "· 2027年3月2日 周二 19:00–20:30（原定 2027年3月1日 周一 19:00）" in text_of(mail)
    assert "· Tue 2 March 2027, 19:00–20:30 (was Mon 1 March 2027, 19:00)" in text_of(mail)
    starts = [start for start, _, _ in icaljs_occurrences(ics, *WINDOW)]
    old_start = datetime.fromisoformat(first["starts_at"]).astimezone(UTC).isoformat()
    assert new_start.astimezone(UTC).isoformat() in starts and old_start not in starts
    assert len(starts) == 5


async def test_a_seat_from_the_waitlist_and_a_cancelled_class_are_mailed(
    client, world, engine, clock, deliverer, mails
):
    people = [
        await add_resident(engine, clock.now, world.community, http=client, name=name) for name in ("李秀英", "王芳")
    ]
    for person in people:
        await give_address(person.http, f"r{person.user_id}@example.cn")
    await set_policy(engine, world.offer, clock.now, mode="lottery", seats=1, min_learners=3)
    for person in people:
        assert (await person.http.post(f"/classes/{world.offer}/applications", json={})).status_code == 201
    clock.now += timedelta(days=8)
    assert (await client.post(f"/classes/{world.offer}/draw")).status_code == 200
    states_now = {p.user_id: (await p.http.get(f"/classes/{world.offer}/applications")).json()["state"] for p in people}
    winner = next(p for p in people if states_now[p.user_id] == "enrolled")
    waiting = next(p for p in people if states_now[p.user_id] == "waitlisted")
    await deliverer.deliver()  # the draw itself is not mailed
    assert mails.mails == []

    assert (await winner.http.delete(f"/classes/{world.offer}/applications")).status_code == 200
    await deliverer.deliver()

    [seat] = mails.to(f"r{waiting.user_id}@example.cn")
    assert seat["Subject"].startswith("候补转为正式名额：书法入门")
    method, ics = invitation(seat)
    assert method == "REQUEST" and len(icaljs_occurrences(ics, *WINDOW)) == 5

    decided = await client.post(f"/classes/{world.offer}/outcome", json={"decision": "cancelled"})
    assert decided.status_code == 200, decided.text
    await deliverer.deliver()

    *_, gone = mails.to(f"r{waiting.user_id}@example.cn")
    method, ics = invitation(gone)
    read = icaljs_itip(ics)
    assert (method, read["method"]) == ("CANCEL", "CANCEL")
    assert [(e["rid"], e["status"]) for e in read["events"]] == [(None, "CANCELLED")]  # the whole series
    assert gone["Subject"].startswith(("课程已取消", "已取消"))


async def test_no_mail_is_kept_without_an_smtp_server(client, world, engine, clock):
    resident = await add_resident(engine, clock.now, world.community, http=client)
    await give_address(resident.http, "lixiuying@example.cn")
    await enrol(engine, world, clock, [resident])
    await client.post(f"/bookings/{world.booking}/occurrences/{world.occurrences[1]['id']}/cancel")

    await Deliverer(async_sessionmaker(engine, expire_on_commit=False), clock).deliver()

    assert await states(engine) == []


# ---- a server that refuses ------------------------------------------------------------------------------


async def test_a_server_refusing_for_now_is_tried_again_and_for_good_is_dead(
    client, world, engine, clock, deliverer, mails
):
    later, never = [
        await add_resident(engine, clock.now, world.community, http=client, name=name) for name in ("李秀英", "王芳")
    ]
    await give_address(later.http, "later@example.cn")
    await give_address(never.http, "never@example.cn")
    await enrol(engine, world, clock, [later, never])
    mails.refuse = {"later@example.cn": ["451 4.3.0 try again later"], "never@example.cn": ["550 5.1.1 no such user"]}
    for occurrence in world.occurrences[1:3]:  # two mails to each, in order
        cancelled = await client.post(f"/bookings/{world.booking}/occurrences/{occurrence['id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text

    await deliverer.deliver()

    by_address = await _by_address(engine)
    assert by_address["later@example.cn"] == [("pending", 1), ("pending", 0)]  # the second waits its turn
    assert by_address["never@example.cn"] == [("dead", 1), ("delivered", 1)]  # dead at once; the next goes
    dead = [error for state, _, error in await states(engine) if state == "dead"]
    assert dead == ["the server refused never@example.cn: 550 5.1.1 no such user"]
    metrics = (await client.get("http://testserver/metrics")).text
    assert sample(metrics, "venueshare_mails", state="dead") == 1

    clock.now += timedelta(seconds=6)  # past the first backoff (5 s)
    await deliverer.deliver()

    assert (await _by_address(engine))["later@example.cn"] == [("delivered", 2), ("delivered", 1)]
    rids = [icaljs_itip(invitation(mail)[1])["events"][0]["rid"] for mail in mails.to("later@example.cn")]
    assert rids == [_utc(o["starts_at"]) for o in world.occurrences[1:3]]  # in the order they were cancelled


async def test_a_mail_server_out_of_reach_is_retried(client, world, engine, clock):
    resident = await add_resident(engine, clock.now, world.community, http=client)
    await give_address(resident.http, "lixiuying@example.cn")
    await enrol(engine, world, clock, [resident])
    await client.post(f"/bookings/{world.booking}/occurrences/{world.occurrences[1]['id']}/cancel")
    nobody = Mailer(SmtpServer("127.0.0.1", free_port(), "plain"), SENDER)  # nothing listens there

    await Deliverer(async_sessionmaker(engine, expire_on_commit=False), clock, mailer=nobody).deliver()

    [(state, attempts, error)] = await states(engine)
    assert (state, attempts) == ("pending", 1) and error.startswith("could not reach the mail server")


async def _by_address(engine) -> dict[str, list[tuple[str, int]]]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(MailDelivery.to_address, MailDelivery.state, MailDelivery.attempts).order_by(MailDelivery.id)
        )
        found: dict[str, list[tuple[str, int]]] = {}
        for address, state, attempts in rows:
            found.setdefault(address, []).append((state, attempts))
        return found


def _utc(text: str) -> str:
    """An instant as ical.js writes it."""
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
