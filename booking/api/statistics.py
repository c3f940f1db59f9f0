"""Participation statistics for district administrators, as JSON and as CSV."""

from datetime import date

from litestar import Controller, Response, get
from litestar.params import FromQuery

from booking.api.deps import Caller, Now, Session
from booking.schemas.statistics import ParticipationReport, participation_csv
from booking.services import statistics

CSV = "text/csv"  # Litestar adds "; charset=utf-8"


class StatisticsController(Controller):
    path = "/statistics"
    tags = ["statistics"]

    @get("/participation")
    async def participation(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        term_start: FromQuery[date],
        region_id: FromQuery[int | None] = None,
    ) -> ParticipationReport:
        """One term's classes, seats, learners and attendance per region of the subtree, and each
        venue's open, booked and used hours; without ``region_id``, the whole district's."""
        return await statistics.participation(session, actor, region_id=region_id, term_start=term_start, now=now)

    @get("/participation.csv", media_type=CSV)
    async def participation_csv(
        self,
        session: Session,
        actor: Caller,
        now: Now,
        term_start: FromQuery[date],
        region_id: FromQuery[int | None] = None,
    ) -> Response[bytes]:
        """The same figures as a CSV download (UTF-8 with BOM, CRLF): region rows, then venue rows."""
        report = await statistics.participation(session, actor, region_id=region_id, term_start=term_start, now=now)
        name = f"participation-{term_start.isoformat()}-{region_id if region_id is not None else 'district'}.csv"
        return Response(
            content=participation_csv(report),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
