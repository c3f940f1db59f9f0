"""Per-request dependencies: the transaction, the clock, the page, and who is asking."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import Unauthorized
from booking.rules.permissions import ANONYMOUS, Actor
from booking.services.accounts import actor_for_token
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
    limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="page size")] = 50,
    offset: Annotated[int, QueryParameter(ge=0, description="items to skip")] = 0,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset)


def provide_token(request: Request) -> str | None:
    """The bearer token sent; None without an Authorization header; 401 for another kind of header."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token>")
    return token.strip()


async def provide_actor(
    token: NamedDependency[str | None], session: NamedDependency[AsyncSession], now: NamedDependency[datetime]
) -> Actor:
    """Anonymous without an Authorization header; a bad, expired or revoked token is 401, never anonymous."""
    if token is None:
        return ANONYMOUS
    return await actor_for_token(session, token, now=now)


DEPENDENCIES = {
    "session": Provide(provide_session),
    "now": Provide(provide_now, sync_to_thread=False),
    "page": Provide(provide_page, sync_to_thread=False),
    "token": Provide(provide_token, sync_to_thread=False),
    "actor": Provide(provide_actor),
}

# Annotations that mark a handler parameter as one of the dependencies above.
Session = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
PageParams = NamedDependency[PageRequest]
Caller = NamedDependency[Actor]
BearerToken = NamedDependency[str | None]
