"""Errors as pages: a visitor who is not calling the API gets a page in their language that
says in plain words what happened and what to do next (the API keeps problem+json)."""

from litestar import Request
from litestar.response import Template

from booking.web.render import page
from booking.web.visitor import preferences

NOT_PAGES = ("/api/", "/feeds/", "/schema", "/health", "/static/")


def wants_page(request: Request) -> bool:
    return not request.url.path.startswith(NOT_PAGES)


def error_page(request: Request, status: int, code: str) -> Template:
    visitor = preferences(request)
    return page(visitor, "error.html", status=status, section="", code=code, status_code=status)
