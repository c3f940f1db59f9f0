"""Webhooks: endpoints, the fan-out of outbox messages into deliveries, and the delivery log.

Sending happens outside any transaction (``booking/jobs.py``, ``Deliverer``); this module keeps
the state: which deliveries are due, and what an attempt ended in.

- An endpoint of an organisation is told of the bookings it makes, of bookings in the venues it
  owns and of its classes; the district's endpoint (no organisation) of everything. ``topics``
  narrows that to some topics (``booking.confirmed``, ``enrolment.promoted``…); empty means all.
- Deliveries to one endpoint about one booking (or one class) go in the order they were written:
  one waits while an earlier one is pending. Each is retried on the outbox's schedule
  (``outbox.retry_in`` for ``outbox.GIVE_UP_AFTER``); then it is dead, kept with its last error,
  and the next one of its subject goes.
"""

import asyncio
import functools
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import NotFound, TooManyEndpoints, UrlNotAllowed
from booking.models import (
    Booking,
    CommunityClass,
    DeliveryState,
    OutboxMessage,
    Space,
    Venue,
    WebhookDelivery,
    WebhookEndpoint,
)
from booking.rules.permissions import Actor, administers
from booking.schemas.webhooks import DeliveryPublic, EndpointCreate, EndpointCreated, EndpointPublic
from booking.services import outbox
from booking.services.common import PageRequest, page_of
from booking.services.guards import administered_organisations, allow, organisation_region, require_signed_in
from integrations import fetch, webhooks

MAX_ENDPOINTS = 20  # per organisation (and for the district)


async def _may_manage(session: AsyncSession, actor: Actor, organisation_id: int | None) -> bool:
    if organisation_id is None:
        return actor.everywhere
    region_id = await organisation_region(session, organisation_id)
    return organisation_id in actor.managed or administers(actor, region_id)


async def check_url(url: str, *, internal: bool = False) -> None:
    """Refuse a URL that reaches inside the network (the calendar import's rule; ``internal``: the
    operator allows that), 422."""
    try:
        await asyncio.to_thread(functools.partial(fetch.resolve, url, internal=internal))
    except fetch.UrlNotAllowed as error:
        raise UrlNotAllowed(error.detail) from error
    except fetch.FetchError as error:
        raise UrlNotAllowed(f"{error.detail}: give a URL this server can reach") from error


async def create_endpoint(
    session: AsyncSession, actor: Actor, data: EndpointCreate, *, now: datetime, internal: bool = False
) -> EndpointCreated:
    allow(actor, await _may_manage(session, actor, data.organisation_id), "register webhooks for it")
    await check_url(data.url, internal=internal)
    registered = await session.scalar(
        select(func.count()).where(WebhookEndpoint.organisation_id.is_not_distinct_from(data.organisation_id))
    )
    if registered >= MAX_ENDPOINTS:
        raise TooManyEndpoints(f"at most {MAX_ENDPOINTS} endpoints each; delete one first")
    endpoint = WebhookEndpoint(
        **data.model_dump(), secret=webhooks.new_secret(), created_by_id=actor.user_id, created_at=now
    )
    session.add(endpoint)
    await session.flush()
    return EndpointCreated(**EndpointPublic.model_validate(endpoint).model_dump(), secret=endpoint.secret)


async def endpoint_for(session: AsyncSession, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    require_signed_in(actor)
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not await _may_manage(session, actor, endpoint.organisation_id):
        raise NotFound("webhook endpoint", endpoint_id)
    return endpoint


async def list_endpoints(session: AsyncSession, actor: Actor, page: PageRequest) -> tuple[list[EndpointPublic], int]:
    allow(actor, actor.is_admin or bool(actor.managed), "see webhook endpoints")
    stmt = select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    if not actor.everywhere:
        stmt = stmt.where(
            or_(
                WebhookEndpoint.organisation_id.in_(actor.managed),
                WebhookEndpoint.organisation_id.in_(administered_organisations(actor)),
            )
        )
    rows, total = await page_of(session, stmt, page)
    return [EndpointPublic.model_validate(row) for row in rows], total


async def delete_endpoint(session: AsyncSession, actor: Actor, endpoint_id: int) -> None:
    await session.delete(await endpoint_for(session, actor, endpoint_id))
    await session.flush()


async def list_deliveries(
    session: AsyncSession, actor: Actor, endpoint_id: int, page: PageRequest
) -> tuple[list[DeliveryPublic], int]:
    """An endpoint's delivery log, newest first."""
    await endpoint_for(session, actor, endpoint_id)
    stmt = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.message_id.desc())
    )
    rows, total = await page_of(session, stmt, page)
    return [DeliveryPublic.model_validate(row) for row in rows], total


# ---- fan-out: outbox messages become deliveries -----------------------------------------------------


async def fan_out(session: AsyncSession, messages: list[OutboxMessage], *, now: datetime) -> int:
    """One delivery of each outbox message (``outbox.take_new``) per interested endpoint; how many."""
    if not messages:
        return 0
    endpoints = list(await session.scalars(select(WebhookEndpoint)))
    concerned = await _organisations_concerned(session, messages)
    rows = [
        {
            "endpoint_id": endpoint.id,
            "message_id": message.id,
            "topic": message.topic,
            "subject": _subject(message),
            "payload": message.payload,
            "state": DeliveryState.pending,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for message in messages
        for endpoint in endpoints
        if (endpoint.organisation_id is None or endpoint.organisation_id in concerned[message.id])
        and (not endpoint.topics or message.topic in endpoint.topics)
    ]
    if rows:
        await session.execute(WebhookDelivery.__table__.insert(), rows)
    return len(rows)


def _subject(message: OutboxMessage) -> str:
    return f"booking:{message.booking_id}" if message.booking_id is not None else f"class:{message.class_id}"


async def _organisations_concerned(session: AsyncSession, messages: list[OutboxMessage]) -> dict[int, set[int]]:
    """Per message: the organisation that booked and the one that owns the venue, or the class's."""
    booking_ids = {m.booking_id for m in messages if m.booking_id is not None}
    class_ids = {m.class_id for m in messages if m.class_id is not None}
    of_booking: dict[int, set[int]] = {}
    if booking_ids:
        rows = await session.execute(
            select(Booking.id, Booking.organisation_id, Venue.owner_id)
            .join(Space, Space.id == Booking.space_id)
            .join(Venue, Venue.id == Space.venue_id)
            .where(Booking.id.in_(booking_ids))
        )
        of_booking = {booking_id: {booker, owner} for booking_id, booker, owner in rows}
    of_class: dict[int, set[int]] = {}
    if class_ids:
        rows = await session.execute(
            select(CommunityClass.id, CommunityClass.organisation_id).where(CommunityClass.id.in_(class_ids))
        )
        of_class = {class_id: {organisation_id} for class_id, organisation_id in rows}
    return {
        m.id: of_booking.get(m.booking_id, set()) if m.booking_id is not None else of_class.get(m.class_id, set())
        for m in messages
    }


# ---- sending: what is due, and what an attempt ended in --------------------------------------------


@dataclass(frozen=True, slots=True)
class Due:
    delivery_id: int
    message_id: int
    url: str
    secret: str
    body: bytes
    attempts: int
    created_at: datetime


async def take_due(session: AsyncSession, *, now: datetime, limit: int = 50) -> list[Due]:
    """The deliveries whose turn it is (none earlier of their subject pending for their endpoint),
    hidden from other senders for ``LEASE``."""
    stmt = (
        select(WebhookDelivery, WebhookEndpoint.url, WebhookEndpoint.secret)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(outbox.due(WebhookDelivery, "message_id", "endpoint_id", "subject", now=now))
        .order_by(WebhookDelivery.message_id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=WebhookDelivery, skip_locked=True)
    taken = (await session.execute(stmt)).all()
    await outbox.lease(session, WebhookDelivery, [delivery.id for delivery, _, _ in taken], now=now)
    return [
        Due(
            delivery.id,
            delivery.message_id,
            url,
            secret,
            body_of(delivery),
            delivery.attempts,
            delivery.created_at,
        )
        for delivery, url, secret in taken
    ]


def body_of(delivery: WebhookDelivery) -> bytes:
    """What is posted: the topic, when it happened, and the message's payload."""
    return json.dumps(
        {
            "type": delivery.topic,
            "timestamp": delivery.payload.get("at") or delivery.created_at.isoformat(),
            "data": delivery.payload,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


async def record_attempt(
    session: AsyncSession, due: Due, *, status: int | None, error: str | None, now: datetime
) -> DeliveryState:
    attempts = due.attempts + 1
    if status is not None and 200 <= status < 300:
        values = {"state": DeliveryState.delivered, "delivered_at": now, "last_error": None}
    else:
        values = outbox.after_failure(
            attempts, due.created_at, now=now, error=error or f"the endpoint answered {status}"
        )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == due.delivery_id)
        .values(attempts=attempts, last_status=status, **values)
    )
    return values["state"]
