"""Per-request dependencies: the transaction, the clock, the page."""

from collections.abc import AsyncIterator
from datetime import datetime

from litestar import Request
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from booking.services.common import MAX_PAGE_SIZE, PageRequest

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def provide_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    state = request.app.state
    maker = state.read_sessions if request.method in READ_METHODS else state.write_sessions
    async with maker() as session, session.begin():
        yield session


def provide_now(request: Request) -> datetime:
    return request.app.state.clock()


def provide_page(
    limit: int = Parameter(default=50, ge=1, le=MAX_PAGE_SIZE, description="page size"),
    offset: int = Parameter(default=0, ge=0, description="items to skip"),
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset)


DEPENDENCIES = {
    "session": Provide(provide_session),
    "now": Provide(provide_now, sync_to_thread=False),
    "page": Provide(provide_page, sync_to_thread=False),
}
