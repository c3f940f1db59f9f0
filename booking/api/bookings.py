from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, QueryParameter

from booking.api.deps import Now, PageParams, Session
from booking.models import BookingState
from booking.schemas.bookings import BookingCreate, BookingPublic, OnConflict, SessionAdd, SessionMove
from booking.schemas.common import Page, aware
from booking.services import bookings, sessions
from booking.services.bookings import BookingFilter


class BookingController(Controller):
    path = "/bookings"
    tags = ["bookings"]

    @post("/", status_code=201)
    async def request_booking(
        self,
        session: Session,
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
        """
        if on_conflict is not None:
            data = data.model_copy(update={"on_conflict": on_conflict})
        stored = await bookings.request_booking_once(session, data, idempotency_key=idempotency_key, now=now)
        headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
        return Response(content=stored.body, status_code=stored.status_code, headers=headers)

    @get("/")
    async def list_bookings(
        self,
        session: Session,
        page: PageParams,
        space_id: FromQuery[int | None] = None,
        organisation_id: FromQuery[int | None] = None,
        booking_state: Annotated[BookingState | None, QueryParameter(name="state", required=False)] = None,
        start: Annotated[datetime | None, QueryParameter(description="only bookings that end after this")] = None,
        end: Annotated[datetime | None, QueryParameter(description="only bookings that start before this")] = None,
    ) -> Page[BookingPublic]:
        """Bookings, filtered; ``space_id`` matches every booking occupying any part of the space."""
        where = BookingFilter(
            space_id=space_id,
            organisation_id=organisation_id,
            state=booking_state,
            start=aware("start", start),
            end=aware("end", end),
        )
        items, total = await bookings.list_bookings(session, page, where)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/{booking_id:int}")
    async def get_booking(self, session: Session, booking_id: FromPath[int]) -> BookingPublic:
        return await bookings.get_booking(session, booking_id)

    @post("/{booking_id:int}/cancel", status_code=200)
    async def cancel_booking(self, session: Session, now: Now, booking_id: FromPath[int]) -> BookingPublic:
        return await bookings.cancel_booking(session, booking_id, now=now)

    @post("/{booking_id:int}/occurrences/{occurrence_id:int}/cancel", status_code=200)
    async def cancel_session(
        self,
        session: Session,
        now: Now,
        booking_id: FromPath[int],
        occurrence_id: FromPath[int],
        following: Annotated[bool, QueryParameter(description="also cancel every later session")] = False,
    ) -> BookingPublic:
        """Cancel one session of a booking (every leaf of it), or with ``following`` it and all later ones."""
        return await sessions.cancel_session(session, booking_id, occurrence_id, following=following, now=now)

    @post("/{booking_id:int}/occurrences/{occurrence_id:int}/move", status_code=200)
    async def move_session(
        self,
        session: Session,
        now: Now,
        booking_id: FromPath[int],
        occurrence_id: FromPath[int],
        data: JSONBody[SessionMove],
    ) -> BookingPublic:
        """Move one session to another time and/or space, checked like a new booking."""
        return await sessions.move_session(session, booking_id, occurrence_id, data, now=now)

    @post("/{booking_id:int}/occurrences", status_code=200)
    async def add_session(
        self, session: Session, now: Now, booking_id: FromPath[int], data: JSONBody[SessionAdd]
    ) -> BookingPublic:
        """Re-add a date of the series that was skipped or cancelled."""
        return await sessions.add_session(session, booking_id, data, now=now)
