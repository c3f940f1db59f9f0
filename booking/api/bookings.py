from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import Body, FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from booking.api.deps import BearerToken, Caller, Now, PageParams, Session
from booking.models import BookingState
from booking.schemas.bookings import (
    BookingCreate,
    BookingEventPublic,
    BookingPublic,
    BookingUpdate,
    Decision,
    OnConflict,
    PendingPublic,
    SessionAdd,
    SessionMove,
)
from booking.schemas.common import Page, aware
from booking.services import approvals, bookings, checkin, events, sessions
from booking.services.bookings import BookingFilter, etag

IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", required=False, description="the ETag you read; 412 if the booking changed"),
]


def versioned(booking: BookingPublic) -> Response[BookingPublic]:
    """A booking with its version as the ETag, for the next If-Match."""
    return Response(booking, headers={"ETag": etag(booking)})


class BookingController(Controller):
    path = "/bookings"
    tags = ["bookings"]

    @post("/", status_code=201)
    async def request_booking(
        self,
        request: Request,
        token: BearerToken,
        now: Now,
        data: JSONBody[BookingCreate],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", required=False)] = None,
        on_conflict: Annotated[
            OnConflict | None, QueryParameter(description="overrides the body's on_conflict (fail | skip)")
        ] = None,
    ) -> Response[BookingPublic]:
        """Book a space once or as a series (``recurrence``).

        The same Idempotency-Key with the same body replays the first answer. With
        ``on_conflict=skip`` a series keeps the dates that can be had and lists the others in
        ``skipped``; with ``fail`` (the default) nothing is created and ``failures`` lists them.
        Where the space's policy asks for approval, the booking starts ``pending``.
        """
        if on_conflict is not None:
            data = data.model_copy(update={"on_conflict": on_conflict})
        state = request.app.state
        stored = await bookings.request_booking_with_token(
            state.write_sessions, state.driver_pool, token, data, idempotency_key=idempotency_key, now=now
        )
        headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
        if stored.status_code == 201:
            headers["ETag"] = f'"{stored.body["id"]}-{stored.body["version"]}"'
        return Response(content=stored.body, status_code=stored.status_code, headers=headers)

    @get("/")
    async def list_bookings(
        self,
        session: Session,
        actor: Caller,
        page: PageParams,
        space_id: FromQuery[int | None] = None,
        organisation_id: FromQuery[int | None] = None,
        booking_state: Annotated[BookingState | None, QueryParameter(name="state", required=False)] = None,
        start: Annotated[datetime | None, QueryParameter(description="only bookings that end after this")] = None,
        end: Annotated[datetime | None, QueryParameter(description="only bookings that start before this")] = None,
    ) -> Page[BookingPublic]:
        """The bookings you may see, filtered; ``space_id`` matches every booking occupying any part of the space."""
        where = BookingFilter(
            space_id=space_id,
            organisation_id=organisation_id,
            state=booking_state,
            start=aware("start", start),
            end=aware("end", end),
        )
        items, total = await bookings.list_bookings(session, actor, page, where)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/{booking_id:int}")
    async def get_booking(self, session: Session, actor: Caller, booking_id: FromPath[int]) -> Response[BookingPublic]:
        return versioned(await bookings.get_booking(session, actor, booking_id))

    @patch("/{booking_id:int}")
    async def update_booking(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        booking_id: FromPath[int],
        data: JSONBody[BookingUpdate],
        if_match: IfMatch = None,
    ) -> Response[BookingPublic]:
        """Change the title or attendees; with If-Match, only if nobody changed the booking since."""
        return versioned(await bookings.update_booking(session, actor, booking_id, data, if_match=if_match, now=now))

    @get("/{booking_id:int}/history")
    async def booking_history(
        self, session: Session, actor: Caller, page: PageParams, booking_id: FromPath[int]
    ) -> Page[BookingEventPublic]:
        """Every state change of the booking and its sessions: who, when, from, to, why."""
        await bookings.booking_for(session, actor, booking_id)
        items, total = await events.history(session, booking_id, page)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @post("/{booking_id:int}/cancel", status_code=200)
    async def cancel_booking(
        self, session: Session, actor: Caller, now: Now, booking_id: FromPath[int], if_match: IfMatch = None
    ) -> Response[BookingPublic]:
        return versioned(await bookings.cancel_booking(session, actor, booking_id, if_match=if_match, now=now))

    @post("/{booking_id:int}/approve", status_code=200)
    async def approve(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        booking_id: FromPath[int],
        data: Annotated[Decision | None, Body()] = None,
        if_match: IfMatch = None,
    ) -> Response[BookingPublic]:
        """Approve a pending request (its space's managers); competing pending requests are rejected."""
        reason = data.reason if data else ""
        return versioned(await approvals.approve(session, actor, booking_id, reason=reason, if_match=if_match, now=now))

    @post("/{booking_id:int}/reject", status_code=200)
    async def reject(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        booking_id: FromPath[int],
        data: JSONBody[Decision],
        if_match: IfMatch = None,
    ) -> Response[BookingPublic]:
        """Reject a pending request; the reason is required and shown to the organiser."""
        return versioned(
            await approvals.reject(session, actor, booking_id, reason=data.reason, if_match=if_match, now=now)
        )

    @post("/{booking_id:int}/check-in", status_code=200)
    async def check_in(
        self, session: Session, actor: Caller, now: Now, booking_id: FromPath[int]
    ) -> Response[BookingPublic]:
        """Check in to the session whose check-in window is open now."""
        return versioned(await checkin.check_in(session, actor, booking_id, now=now))

    @post("/{booking_id:int}/occurrences/{occurrence_id:int}/cancel", status_code=200)
    async def cancel_session(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        booking_id: FromPath[int],
        occurrence_id: FromPath[int],
        following: Annotated[bool, QueryParameter(description="also cancel every later session")] = False,
    ) -> Response[BookingPublic]:
        """Cancel one session of a booking (every leaf of it), or with ``following`` it and all later ones."""
        return versioned(
            await sessions.cancel_session(session, actor, booking_id, occurrence_id, following=following, now=now)
        )

    @post("/{booking_id:int}/occurrences/{occurrence_id:int}/move", status_code=200)
    async def move_session(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        booking_id: FromPath[int],
        occurrence_id: FromPath[int],
        data: JSONBody[SessionMove],
    ) -> Response[BookingPublic]:
        """Move one session to another time and/or space, checked like a new booking."""
        return versioned(await sessions.move_session(session, actor, booking_id, occurrence_id, data, now=now))

    @post("/{booking_id:int}/occurrences", status_code=200)
    async def add_session(
        self, session: Session, actor: Caller, now: Now, booking_id: FromPath[int], data: JSONBody[SessionAdd]
    ) -> Response[BookingPublic]:
        """Re-add a date of the series that was skipped or cancelled."""
        return versioned(await sessions.add_session(session, actor, booking_id, data, now=now))


class ApprovalController(Controller):
    path = "/approvals"
    tags = ["bookings"]

    @get("/")
    async def queue(self, session: Session, actor: Caller, page: PageParams) -> Page[PendingPublic]:
        """Pending requests for the spaces you manage, oldest first, with competing requests and conflicts."""
        items, total = await approvals.queue(session, actor, page)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)
