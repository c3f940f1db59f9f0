"""Posted forms: read once, CSRF-checked, and where a form may send the visitor back to."""

from typing import Any

from litestar import Request

from booking.web.visitor import Visitor, check_form


async def posted(request: Request, visitor: Visitor) -> dict[str, Any]:
    form = dict((await request.form()).items())
    check_form(request, visitor, form)
    return form


def safe_back(path: Any, default: str = "/") -> str:
    """A path on this site (never another host: ``//host`` and ``\\\\host`` are refused)."""
    if not isinstance(path, str) or not path.startswith("/") or path.startswith(("//", "/\\")) or len(path) > 2000:
        return default
    return path
