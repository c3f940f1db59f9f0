"""Calendar imports: an .ics upload or URL becomes closures of a venue or a space."""

from typing import Annotated

from litestar import Controller, Request, Response, post
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath, QueryParameter
from pydantic import ValidationError

from booking.api.deps import Caller, Now, Session
from booking.errors import CalendarTooLarge, InvalidRequest, UnsupportedMediaType
from booking.models import ClosureReason
from booking.schemas.imports import MAX_URL_LENGTH, ImportReport, UrlImport
from booking.services import imports
from integrations.ical_import import LIMITS

CALENDAR = "text/calendar"
JSON = "application/json"
# A JSON body only carries a URL; an .ics body may be up to the import limit.
MAX_JSON_BYTES = 4 * 1024

Preview = Annotated[bool, QueryParameter(description="answer what the import would do, and write nothing")]
Reason = Annotated[ClosureReason, QueryParameter(description="the reason of the closures it creates")]
Source = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_URL_LENGTH,
        description="a name for this calendar; re-importing under the same name updates its closures "
        "(default: the URL, or upload:<calendar name>)",
    ),
]
DESCRIPTION = (
    'Send either the .ics file as ``text/calendar`` or ``application/json`` ``{"url": "https://…"}``. '
    "Recurring events are expanded within a year back and two years ahead; all-day events close whole local "
    "days. Answers what was (or, with ``preview=true``, would be) created, updated and removed, with the "
    "confirmed bookings each new or changed closure covers."
)


async def _read_body(request: Request) -> tuple[bytes | None, str | None]:
    """(ics, None) or (None, url) from the request, by its content type."""
    media_type = request.content_type[0].lower()
    if media_type not in (CALENDAR, JSON):
        sent = media_type or "nothing"
        raise UnsupportedMediaType(f"send {CALENDAR} (an .ics file) or {JSON} with a url, not {sent}")
    try:
        body = await request.body()
    except RequestEntityTooLarge as error:
        raise CalendarTooLarge(f"the calendar is larger than {LIMITS.max_bytes} bytes") from error
    if media_type == CALENDAR:
        return body, None
    if len(body) > MAX_JSON_BYTES:
        raise InvalidRequest("the JSON body carries only a url", field="body")
    try:
        return None, UrlImport.model_validate_json(body).url
    except ValidationError as error:
        raise InvalidRequest('give the calendar\'s url as {"url": "https://…"}', field="url") from error


class ImportController(Controller):
    tags = ["closures"]
    request_max_body_size = LIMITS.max_bytes

    @post("/venues/{venue_id:int}/closures/import", description=DESCRIPTION)
    async def import_venue_closures(
        self,
        request: Request,
        session: Session,
        actor: Caller,
        now: Now,
        venue_id: FromPath[int],
        preview: Preview = False,
        reason: Reason = ClosureReason.host_timetable,
        source: Source = None,
    ) -> Response[ImportReport]:
        owner = imports.Owner(venue_id=venue_id, space_id=None)
        return await self._import(request, session, actor, now, owner, preview, reason, source)

    @post("/spaces/{space_id:int}/closures/import", description=DESCRIPTION)
    async def import_space_closures(
        self,
        request: Request,
        session: Session,
        actor: Caller,
        now: Now,
        space_id: FromPath[int],
        preview: Preview = False,
        reason: Reason = ClosureReason.host_timetable,
        source: Source = None,
    ) -> Response[ImportReport]:
        owner = imports.Owner(venue_id=None, space_id=space_id)
        return await self._import(request, session, actor, now, owner, preview, reason, source)

    @staticmethod
    async def _import(request, session, actor, now, owner, preview, reason, source) -> Response[ImportReport]:
        ics, url = await _read_body(request)
        report = await imports.import_closures(
            session, actor, owner=owner, now=now, reason=reason, preview=preview, source=source, ics=ics, url=url
        )
        return Response(report, status_code=200 if preview else 201)
