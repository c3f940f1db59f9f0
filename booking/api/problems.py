"""The one place that turns errors into RFC 9457 problem+json responses (and, for a visitor of the
pages, into an error page)."""

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY

from booking.db import database_unavailable, value_out_of_range
from booking.errors import VenueshareError
from booking.observability import note_problem
from booking.web.errors import error_page, wants_page

log = logging.getLogger("venueshare")

PROBLEM_JSON = "application/problem+json"

HTTP_CODES = {
    400: "malformed_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}

# Validation messages that carry their own code as "<code>: ..." (see booking/schemas/common.py),
# with the title of the problem they become; the rest of the message becomes its detail.
CODED_VALIDATION_MESSAGES = {"naive_datetime": "Invalid timestamp", "invalid_request": "Invalid request"}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    """RFC 9457 members first; extra members may add to them, never replace them."""
    note_problem(code)
    body = {**extra, "type": f"urn:venueshare:problem:{code}", "title": title, "status": status, "code": code}
    body["detail"] = detail
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON)


def on_domain_error(request: Request, error: VenueshareError) -> Response:
    if wants_page(request):
        return error_page(request, error.status, error.code)
    response = problem(error.status, error.code, error.title, error.detail, **error.extra)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="venueshare"'
    if "retry_after_s" in error.extra:
        response.headers["Retry-After"] = str(error.extra["retry_after_s"])
    return response


def on_validation_error(request: Request, error: ValidationException) -> Response:
    if wants_page(request):
        return error_page(request, 400, "invalid_request")
    errors = [
        {
            "field": item.get("key", ""),
            "source": str(getattr(item.get("source"), "value", item.get("source") or "body")),
            "message": item.get("message", ""),
        }
        for item in (error.extra if isinstance(error.extra, list) else [])
    ]
    for code, title in CODED_VALIDATION_MESSAGES.items():
        hits = [item for item in errors if item["message"].startswith(f"{code}:")]
        if hits:
            message = hits[0]["message"].split(":", 1)[1].strip()
            return problem(HTTP_422_UNPROCESSABLE_ENTITY, code, title, message, errors=hits)
    if not errors:  # the body could not be decoded at all
        return problem(400, "malformed_request", "Malformed request", error.detail)
    fields = ", ".join(item["field"] or "body" for item in errors)
    return problem(
        HTTP_422_UNPROCESSABLE_ENTITY, "invalid_request", "Invalid request", f"invalid: {fields}", errors=errors
    )


def on_http_error(request: Request, error: HTTPException) -> Response:
    code = HTTP_CODES.get(error.status_code, "http_error")
    if wants_page(request):
        return error_page(request, error.status_code, code)
    return problem(error.status_code, code, code.replace("_", " ").capitalize(), error.detail)


def on_unexpected_error(request: Request, error: Exception) -> Response:
    if database_unavailable(error):
        log.warning("database unavailable on %s %s: %r", request.method, request.url.path, error)
        if wants_page(request):
            return error_page(request, 503, "database_unavailable")
        response = problem(
            503, "database_unavailable", "Database unavailable", "the database cannot be reached; try again shortly"
        )
        response.headers["Retry-After"] = "5"
        return response
    if value_out_of_range(error):
        if wants_page(request):
            return error_page(request, 400, "invalid_request")
        detail = "a number in the request is beyond what this service stores"
        return problem(HTTP_422_UNPROCESSABLE_ENTITY, "invalid_request", "Invalid request", detail)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    if wants_page(request):
        return error_page(request, 500, "internal_error")
    return problem(500, "internal_error", "Internal server error", "the server failed; nothing was changed")


EXCEPTION_HANDLERS = {
    VenueshareError: on_domain_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_unexpected_error,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType"]
