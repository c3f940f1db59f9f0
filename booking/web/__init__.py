"""The web pages: server-rendered HTML on the same app and services as the API."""

from pathlib import Path

from litestar import Request, Router
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from booking.api.deps import Now, Session
from booking.web.public import PublicPages
from booking.web.resident import AccountPages, ResidentPages
from booking.web.visitor import Visitor, visitor_of

STATIC = Path(__file__).parent / "static"


async def provide_visitor(request: Request, session: Session, now: Now) -> Visitor:
    return await visitor_of(request, session, now)


def pages() -> list:
    """The pages' routers: the pages themselves and their stylesheet and script."""
    return [
        Router(
            path="/",
            route_handlers=[PublicPages, AccountPages, ResidentPages],
            dependencies={"visitor": Provide(provide_visitor)},
            include_in_schema=False,
        ),
        create_static_files_router(path="/static", directories=[STATIC], include_in_schema=False),
    ]
