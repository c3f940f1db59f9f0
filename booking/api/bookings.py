from datetime import datetime

from litestar import Controller, Response, get, post
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from booking.models import BookingState
from booking.schemas.bookings import BookingCreate, BookingPublic
from booking.schemas.common import Instant, Page
from booking.services import bookings
from booking.services.bookings import BookingFilter
from booking.services.common import PageRequest


class BookingController(Controller):
    path = "/bookings"
    tags = ["bookings"]

    @post("/", status_code=201)
    async def request_booking(
        self,
        session: AsyncSession,
        now: datetime,
        data: BookingCreate,
        idempotency_key: str | None = Parameter(header="Idempotency-Key", default=None, required=False),
    ) -> Response[BookingPublic]:
        """Book a space. The same Idempotency-Key with the same body replays the first answer."""
        stored = await bookings.request_booking_once(session, data, idempotency_key=idempotency_key, now=now)
        headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
        return Response(content=stored.body, status_code=stored.status_code, headers=headers)

    @get("/")
    async def list_bookings(
        self,
        session: AsyncSession,
        page: PageRequest,
        space_id: int | None = None,
        organisation_id: int | None = None,
        booking_state: BookingState | None = Parameter(query="state", default=None, required=False),
        start: Instant | None = Parameter(default=None, description="only bookings that end after this"),
        end: Instant | None = Parameter(default=None, description="only bookings that start before this"),
    ) -> Page[BookingPublic]:
        """Bookings, filtered; ``space_id`` matches every booking occupying any part of the space."""
        where = BookingFilter(space_id=space_id, organisation_id=organisation_id, state=booking_state, start=start, end=end)
        items, total = await bookings.list_bookings(session, page, where)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/{booking_id:int}")
    async def get_booking(self, session: AsyncSession, booking_id: int) -> BookingPublic:
        return await bookings.get_booking(session, booking_id)

    @post("/{booking_id:int}/cancel", status_code=200)
    async def cancel_booking(self, session: AsyncSession, now: datetime, booking_id: int) -> BookingPublic:
        return await bookings.cancel_booking(session, booking_id, now=now)
