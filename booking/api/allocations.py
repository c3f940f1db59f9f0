"""Allocations: solver runs for a term of classes, their plans, and committing a plan."""

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery, JSONBody

from booking.api.deps import Caller, Now, PageParams, Session
from booking.models import AllocationStatus
from booking.schemas.common import Page
from booking.schemas.teaching import AllocationCreate, AllocationPublic
from booking.services import allocations


class AllocationController(Controller):
    path = "/allocations"
    tags = ["allocations"]

    @post("/", status_code=202)
    async def create_allocation(
        self, request: Request, session: Session, actor: Caller, now: Now, data: JSONBody[AllocationCreate]
    ) -> Response[AllocationPublic]:
        """Queue a solver run (202); poll ``GET /allocations/{id}`` for progress and the plan."""
        allocation = await allocations.create_allocation(session, actor, data, now=now)
        # handed over once the answer is sent, so after the run is committed
        solve = BackgroundTask(request.app.state.background.allocation_queued, allocation.id)
        return Response(allocation, status_code=202, background=solve)

    @get("/")
    async def list_allocations(
        self, session: Session, actor: Caller, page: PageParams, status: FromQuery[AllocationStatus | None] = None
    ) -> Page[AllocationPublic]:
        """The runs of the regions you administer, newest first."""
        items, total = await allocations.list_allocations(session, actor, page, status=status)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @get("/{allocation_id:int}")
    async def get_allocation(self, session: Session, actor: Caller, allocation_id: FromPath[int]) -> AllocationPublic:
        return await allocations.get_allocation(session, actor, allocation_id)

    @post("/{allocation_id:int}/cancel", status_code=200)
    async def cancel_allocation(
        self, session: Session, actor: Caller, now: Now, allocation_id: FromPath[int]
    ) -> AllocationPublic:
        """Cancel a queued run, or stop a running one with the best plan found so far."""
        return await allocations.cancel_allocation(session, actor, allocation_id, now=now)

    @post("/{allocation_id:int}/commit", status_code=200)
    async def commit_allocation(
        self, session: Session, actor: Caller, now: Now, allocation_id: FromPath[int]
    ) -> AllocationPublic:
        """Book the plan: one weekly series per session; ``commit_report`` lists what was booked and what not."""
        return await allocations.commit_allocation(session, actor, allocation_id, now=now)
