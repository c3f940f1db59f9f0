"""Mail to people, from the outbox: who is told of what, each mail rendered once when its message
is fanned out, and what its sending ended in. Sending happens outside any transaction
(``booking/jobs.py``, ``Deliverer``).

Who gets a mail (people who gave an address; no address, no mail):
- a request approved (``booking.confirmed`` from pending) or rejected: whoever asked for it;
- sessions cancelled, moved or added again, a booking cancelled or released: whoever asked for it
  and the residents enrolled in its class;
- a waitlist place turned into a seat (``enrolment.promoted``): that resident; a class cancelled
  (``enrolment.cancelled``): each resident it had.

Each mail is in Chinese, then English, and carries an invitation for the person's calendar (iMIP):
REQUEST for what is new or moved, CANCEL for what is cancelled, with the UID the event has in
the person's own feed. A rejected request, never in their calendar, gets a mail without one.

Mails to a person about one booking go in the order they were written; each is retried as a
webhook delivery is (``outbox.retry_in`` until ``outbox.GIVE_UP_AFTER``), except that a
recipient or message the server refuses for good (5xx) is dead at once.
"""

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.config import Settings
from booking.models import (
    Application,
    ApplicationState,
    Booking,
    BookingState,
    ClassBooking,
    CommunityClass,
    DeliveryState,
    MailDelivery,
    Occurrence,
    Organisation,
    OutboxMessage,
    User,
)
from booking.rules import dates
from booking.services import feeds, outbox
from integrations.ical import Event, FeedError, Method, Person, invitation
from integrations.mail import Mailbox, SmtpServer, compose

log = logging.getLogger("venueshare.mail")

MAX_SESSIONS_LISTED = 5  # a mail lists this many sessions, then how many more
SESSION_CHANGES = {"cancelled", "released", "moved", "added"}
ENDED = {BookingState.cancelled.value, BookingState.released.value}
_PRIVATE = feeds.Scope(feeds.PRIVATE, "", None)


@dataclass(frozen=True, slots=True)
class Mailer:
    """Where mail goes out, and from whom; ``None`` from settings without an SMTP server."""

    server: SmtpServer
    sender: Mailbox

    @classmethod
    def from_settings(cls, settings: Settings) -> "Mailer | None":
        if not settings.smtp_url:
            return None
        return cls(SmtpServer.from_url(settings.smtp_url), Mailbox.parse(settings.mail_from))


@dataclass(frozen=True, slots=True)
class _Words:
    """What a mail says, in Chinese and in English."""

    title: str
    subject: tuple[str, str]  # before the title
    news: tuple[str, str]
    reason: str = ""

    def subject_line(self) -> str:
        return f"{self.subject[0]}：{self.title} | {self.subject[1]}: {self.title}"


@dataclass(frozen=True, slots=True)
class _Letter:
    user_id: int
    to: Mailbox
    booking_id: int
    content: str


# ---- fan-out: outbox messages become mails ------------------------------------------------------------


async def fan_out(session: AsyncSession, messages: Sequence[OutboxMessage], sender: Mailbox, *, now: datetime) -> int:
    """The mails of these outbox messages, rendered and waiting to be sent; how many."""
    rows = []
    for message in messages:
        try:
            letters = await _letters(session, message, sender, now=now)
        except FeedError as error:  # data no calendar can take: logged, and the other messages go on
            log.error("no mail for outbox message %s: %s", message.id, error)
            continue
        for letter in letters:
            rows.append(
                {
                    "message_id": message.id,
                    "user_id": letter.user_id,
                    "booking_id": letter.booking_id,
                    "topic": message.topic,
                    "to_address": letter.to.address,
                    "content": letter.content,
                    "state": DeliveryState.pending,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if rows:
        await session.execute(MailDelivery.__table__.insert(), rows)
    return len(rows)


async def _letters(session: AsyncSession, message: OutboxMessage, sender: Mailbox, *, now: datetime) -> list[_Letter]:
    topic, payload = message.topic, message.payload
    if topic.startswith("booking.") and message.booking_id is not None:
        kind = topic.removeprefix("booking.")
        if kind == "confirmed" and payload.get("from_state") != BookingState.pending.value:
            return []  # booked directly: the booker knows
        if kind not in SESSION_CHANGES | {"confirmed", "rejected"}:
            return []
        booking = await session.get(Booking, message.booking_id)
        if booking is None:
            return []
        people = await _people(session, [booking.requested_by_id])
        if kind in SESSION_CHANGES:
            people += await _enrolled(session, booking.id)
        words, method, concerned = await _booking_news(session, booking, kind, payload)
        return await _write(session, message, sender, people, [booking], words, method, concerned, now=now)
    if topic in ("enrolment.promoted", "enrolment.cancelled") and payload.get("resident_id") is not None:
        offer = await session.get(CommunityClass, message.class_id)
        if offer is None:
            return []
        people = await _people(session, [payload["resident_id"]])
        bookings = list(
            await session.scalars(
                select(Booking)
                .join(ClassBooking, ClassBooking.booking_id == Booking.id)
                .where(ClassBooking.class_id == offer.id)
                .order_by(Booking.starts_at, Booking.id)
            )
        )
        if topic == "enrolment.promoted":
            words = _Words(
                offer.title,
                ("候补转为正式名额", "A seat is yours"),
                ("您已从候补名单转为正式学员。", "You moved up from the waitlist: the seat is yours."),
            )
            live = [b for b in bookings if b.state not in ENDED]
            return await _write(session, message, sender, people, live, words, Method.request, (), now=now)
        words = _Words(
            offer.title,
            ("课程已取消", "Class cancelled"),
            ("这门课程已取消，所有课次都不再上课。", "This class is cancelled: none of its sessions will take place."),
        )
        return await _write(session, message, sender, people, bookings, words, Method.cancel, (), now=now)
    return []


async def _booking_news(
    session: AsyncSession, booking: Booking, kind: str, payload: dict
) -> tuple[_Words, Method | None, tuple[datetime, ...]]:
    """What to say of a booking's change, the invitation's method, and the original starts of the
    sessions it is about (none: the whole booking)."""
    title, reason = booking.title, payload.get("reason") or ""
    if kind == "confirmed":
        news = ("您的场地申请已获批准。", "Your request was approved.")
        return _Words(title, ("申请已批准", "Request approved"), news, reason), Method.request, ()
    if kind == "rejected":
        news = ("很抱歉，您的场地申请未获批准。", "Sorry: your request was not approved.")
        return _Words(title, ("申请未获批准", "Request not approved"), news, reason), None, ()
    concerned = tuple(
        await session.scalars(
            select(Occurrence.original_starts_at).where(Occurrence.id.in_(payload.get("occurrence_ids") or [-1]))
        )
    )
    if kind in ("moved", "added"):
        news = {
            "moved": ("有课次改了时间或地点，新的安排如下。", "A session moved; this is how it stands now."),
            "added": ("有课次重新加回了安排。", "A session was added back."),
        }[kind]
        subject = {"moved": ("时间变更", "Session moved"), "added": ("新增课次", "Session added")}[kind]
        return _Words(title, subject, news, reason), Method.request, concerned
    if payload.get("to_state") in ENDED:
        news = ("整个预订已取消，以下课次都不再进行。", "The whole booking is cancelled.")
        return _Words(title, ("已取消", "Cancelled"), news, reason), Method.cancel, ()
    news = ("以下课次已取消。", "These sessions are cancelled.")
    return _Words(title, ("课次取消", "Session cancelled"), news, reason), Method.cancel, concerned


async def _people(session: AsyncSession, user_ids: Sequence[int | None]) -> list[tuple[int, Mailbox]]:
    ids = [user_id for user_id in user_ids if user_id is not None]
    rows = await session.execute(
        select(User.id, User.display_name, User.username, User.email).where(
            User.id.in_(ids), User.email.is_not(None), User.is_active
        )
    )
    return [(user_id, Mailbox(name or username, email)) for user_id, name, username, email in rows]


async def _enrolled(session: AsyncSession, booking_id: int) -> list[tuple[int, Mailbox]]:
    """The residents enrolled in the class whose session this booking is."""
    residents = (
        select(Application.resident_id)
        .join(ClassBooking, ClassBooking.class_id == Application.class_id)
        .where(ClassBooking.booking_id == booking_id, Application.state == ApplicationState.enrolled)
    )
    return await _people(session, list(await session.scalars(residents)))


async def _write(
    session: AsyncSession,
    message: OutboxMessage,
    sender: Mailbox,
    people: list[tuple[int, Mailbox]],
    bookings: list[Booking],
    words: _Words,
    method: Method | None,
    concerned: tuple[datetime, ...],
    *,
    now: datetime,
) -> list[_Letter]:
    """One mail per person and booking (an iTIP message is about one event), or one without an
    invitation when there is no booking to speak of. ``concerned``: the original starts of the
    sessions the news is about (a CANCEL cancels just those); none, the whole booking."""
    if not people:
        return []
    events = await feeds.events_of(session, bookings, _PRIVATE) if bookings else {}
    organisers = await _organisation_names(session, {b.organisation_id for b in bookings})
    letters, seen = [], set()
    for user_id, to in people:
        if user_id in seen:
            continue
        seen.add(user_id)
        for booking in bookings or [None]:
            event = events.get(booking.id) if booking is not None else None
            attachment = None
            if event is not None and method is not None:
                organizer = Person(organisers[booking.organisation_id], sender.address)
                named = dataclasses.replace(event, organizer=organizer, attendee=Person(to.name, to.address))
                attachment = invitation(named, method, concerned if method is Method.cancel else ())
            text = _text(words, to, event, concerned, now=now)
            booking_id = booking.id if booking is not None else 0
            content = compose(
                sender=sender,
                to=to,
                subject=words.subject_line(),
                text=text,
                message_id=f"<mail-{message.id}-{user_id}-{booking_id}@{sender.address.rpartition('@')[2]}>",
                date=now,
                invitation=attachment,
                method=method.value if method is not None else None,
            )
            letters.append(_Letter(user_id, to, booking_id, content))
    return letters


async def _organisation_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        (await session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids)))).all()
    )


def _text(words: _Words, to: Mailbox, event: Event | None, concerned: tuple[datetime, ...], *, now: datetime) -> str:
    """The mail's text: Chinese, then English; the sessions concerned in the venue's time."""
    parts = []
    for lang, greeting, index in (("zh", f"{to.name}，您好：", 0), ("en", f"Dear {to.name},", 1)):
        lines = [greeting, "", words.news[index], "", words.title]
        if event is not None:
            lines += [event.location, *_sessions(event, concerned, lang, now=now)]
        if words.reason:
            lines += ["", ("原因：" if lang == "zh" else "Reason: ") + words.reason]
        if event is not None:
            lines += ["", "日历邀请见附件 invite.ics。" if lang == "zh" else "Your calendar invitation is attached."]
        parts.append("\n".join(lines))
    return "\n\n----\n\n".join(parts) + "\n"


def _sessions(event: Event, concerned: tuple[datetime, ...], lang: str, *, now: datetime) -> list[str]:
    """The sessions the news is about (else those still to come), each as the venue's clock has it;
    a moved one also says when it was."""
    zone = ZoneInfo(event.timezone)
    if concerned:
        chosen = [s for s in event.sessions if s.original_start in set(concerned)]
    else:
        chosen = [s for s in event.sessions if s.end > now] or list(event.sessions[-1:])
    shown = []
    for s in chosen[:MAX_SESSIONS_LISTED]:
        line = "· " + dates.span(s.start.astimezone(zone), s.end.astimezone(zone), lang)
        if s.start != s.original_start:
            was = dates.moment(s.original_start.astimezone(zone), lang)
            line += f"（原定 {was}）" if lang == "zh" else f" (was {was})"
        shown.append(line)
    more = len(chosen) - len(shown)
    if more > 0:
        shown.append(f"…另有 {more} 次" if lang == "zh" else f"… and {more} more")
    return shown


# ---- sending: what is due, and what an attempt ended in --------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    mail_id: int
    to_address: str
    content: str
    attempts: int
    created_at: datetime


async def take_due(session: AsyncSession, *, now: datetime, limit: int = 50) -> list[Due]:
    """The mails whose turn it is (none earlier to their person about their booking pending),
    hidden from other senders for ``LEASE``."""
    stmt = (
        select(MailDelivery)
        .where(outbox.due(MailDelivery, "id", "user_id", "booking_id", now=now))
        .order_by(MailDelivery.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    taken = list(await session.scalars(stmt))
    await outbox.lease(session, MailDelivery, [m.id for m in taken], now=now)
    return [Due(m.id, m.to_address, m.content, m.attempts, m.created_at) for m in taken]


async def record_attempt(
    session: AsyncSession, due: Due, *, error: str | None, permanent: bool = False, now: datetime
) -> DeliveryState:
    """What sending a mail ended in: sent (``error`` None), to be retried, or dead."""
    attempts = due.attempts + 1
    if error is None:
        values = {"state": DeliveryState.delivered, "sent_at": now, "last_error": None}
    else:
        values = outbox.after_failure(attempts, due.created_at, now=now, error=error, permanent=permanent)
    await session.execute(
        update(MailDelivery).where(MailDelivery.id == due.mail_id).values(attempts=attempts, **values)
    )
    return values["state"]
