"""Per-request dependencies: the transaction, the clock, the page, and who is asking."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.handlers import BaseRouteHandler
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import NotFound, Unauthorized
from booking.rules.permissions import ANONYMOUS, Actor
from booking.services.accounts import actor_for_token
from booking.services.common import MAX_ID, MAX_OFFSET, MAX_PAGE_SIZE, PageRequest
from booking.services.guards import SIGN_IN

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
    offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET, description="items to skip")] = 0,
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


def provide_actor(request: Request) -> Actor:
    """Who is asking, as the guard ``authenticate`` found them: anonymous without a token."""
    return request.state.get("actor", ANONYMOUS)


async def authenticate(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """The API's guard, run before anything of the request is read (its body included), so every
    route treats credentials alike:

    - an Authorization header that is not a bearer token, or a token that is unknown, expired or
      revoked, is 401 on every route, public reads included (never anonymous);
    - a request that changes something needs a token (401 first, whatever its body).

    A route marked ``opt={"anonymous": True}`` (signing in) needs no caller and ignores the header.

    The guard looks the token up once (``actor`` is what it found), except for a handler that takes
    the token itself (``token``): the booking and application paths check it inside their one read.
    """
    if handler.opt.get("anonymous"):
        return
    token = provide_token(connection)  # type: ignore[arg-type]  # only its headers are read
    if token is None:
        if connection.scope["method"] not in READ_METHODS:
            raise Unauthorized(SIGN_IN)
        return
    if "token" in handler.parsed_fn_signature.parameters:
        return
    state = connection.app.state
    async with state.read_sessions() as session:
        connection.state.actor = await actor_for_token(session, token, now=state.clock())


def ids_in_range(connection: ASGIConnection, _handler: BaseRouteHandler) -> None:
    """An id in the path beyond what the database can hold names nothing: 404 before any query
    (which would otherwise fail on the number itself)."""
    for name, value in connection.path_params.items():
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            raise NotFound(name.removesuffix("_id").replace("_", " "), value)


DEPENDENCIES = {
    "session": Provide(provide_session),
    "now": Provide(provide_now, sync_to_thread=False),
    "page": Provide(provide_page, sync_to_thread=False),
    "token": Provide(provide_token, sync_to_thread=False),
    "actor": Provide(provide_actor, sync_to_thread=False),
}

# Annotations that mark a handler parameter as one of the dependencies above.
Session = NamedDependency[AsyncSession]
Now = NamedDependency[datetime]
PageParams = NamedDependency[PageRequest]
Caller = NamedDependency[Actor]
BearerToken = NamedDependency[str | None]
