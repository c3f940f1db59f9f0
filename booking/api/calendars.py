"""Opening hours of venues and spaces, and closures."""

from datetime import datetime
from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from booking.api.deps import Caller, Now, PageParams, Session
from booking.models import Closure
from booking.schemas.calendars import ClosureCreate, ClosurePublic, OpeningHoursPublic, OpeningWindows
from booking.schemas.common import Page, aware
from booking.services import calendars
from booking.services.common import get_or_404


class OpeningHoursController(Controller):
    tags = ["opening hours"]

    @get("/spaces/{space_id:int}/opening-hours")
    async def get_space_hours(self, session: Session, space_id: FromPath[int]) -> OpeningHoursPublic:
        """The hours that apply to the space: its own, else its venue's (``source`` says which)."""
        return await calendars.space_opening_hours(session, space_id)

    @put("/spaces/{space_id:int}/opening-hours")
    async def put_space_hours(
        self, session: Session, actor: Caller, space_id: FromPath[int], data: JSONBody[OpeningWindows]
    ) -> OpeningHoursPublic:
        """Replace the space's own weekly windows; an empty list falls back to the venue's."""
        return await calendars.set_opening_hours(session, actor, space_id=space_id, windows=data)

    @get("/venues/{venue_id:int}/opening-hours")
    async def get_venue_hours(self, session: Session, venue_id: FromPath[int]) -> OpeningHoursPublic:
        return await calendars.venue_opening_hours(session, venue_id)

    @put("/venues/{venue_id:int}/opening-hours")
    async def put_venue_hours(
        self, session: Session, actor: Caller, venue_id: FromPath[int], data: JSONBody[OpeningWindows]
    ) -> OpeningHoursPublic:
        """Replace the venue's weekly windows, which its spaces inherit unless they keep their own."""
        return await calendars.set_opening_hours(session, actor, venue_id=venue_id, windows=data)


class ClosureController(Controller):
    path = "/closures"
    tags = ["closures"]

    @post("/")
    async def create_closure(
        self, session: Session, actor: Caller, now: Now, data: JSONBody[ClosureCreate]
    ) -> ClosurePublic:
        return await calendars.create_closure(session, actor, data, now=now)

    @get("/")
    async def list_closures(
        self,
        session: Session,
        page: PageParams,
        venue_id: FromQuery[int | None] = None,
        space_id: FromQuery[int | None] = None,
        start: Annotated[datetime | None, QueryParameter(description="only closures that end after this")] = None,
        end: Annotated[datetime | None, QueryParameter(description="only closures that start before this")] = None,
    ) -> Page[ClosurePublic]:
        """Closures; ``space_id`` includes its venue's, its parents' and its parts'."""
        items, total = await calendars.list_closures(
            session, page, venue_id=venue_id, space_id=space_id, start=aware("start", start), end=aware("end", end)
        )
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/{closure_id:int}")
    async def get_closure(self, session: Session, closure_id: FromPath[int]) -> ClosurePublic:
        return ClosurePublic.model_validate(await get_or_404(session, Closure, closure_id))

    @delete("/{closure_id:int}")
    async def delete_closure(self, session: Session, actor: Caller, closure_id: FromPath[int]) -> None:
        await calendars.delete_closure(session, actor, closure_id)
