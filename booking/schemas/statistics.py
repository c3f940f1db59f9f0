"""Participation statistics for staff: what one term of residents' learning amounted to, per region
and per venue, as JSON and as a spreadsheet-friendly CSV.

Definitions (every figure of a region covers its whole subtree):

- classes_offered: classes of the term (``term_start`` equal to the one asked for) with at least one
  class booking that still stands (pending, confirmed or completed). A class belongs to the region of
  the venue of each space it is booked in; a class booked in two communities counts in both, and once
  in the town above them.
- seats: the seats of those classes' enrolment policies (a class without a policy has none).
- applicants: distinct residents with an application to those classes in any state but withdrawn.
- enrolled: applications to those classes in state enrolled (a resident in two classes counts twice).
- hours_delivered: the minutes of those classes' held sessions, over 60. A session is held when it is
  confirmed or completed (not cancelled, released or moved away) and has ended.
- attendance_rate: minutes attended by enrolled residents in held sessions, divided by the sum over the
  classes of (enrolled × planned minutes of held sessions); a weighted share from 0 to 1, or null while
  nothing has been held. Minutes are as recorded, not capped.
- learners_*: distinct enrolled residents by age in the term's year (term year − birth year):
  under 18, 18 to 59, 60 and over.
- first_time_learners: distinct enrolled residents with no enrolment in any earlier term.

Per venue, over the term's local days (``term_start`` to ``term_end``):

- open_hours: when at least one of its spaces is open: opening hours minus closures and public
  holidays, as the booking rules apply them (a space without hours is open round the clock).
- booked_hours: confirmed or completed sessions starting in the term, each session once (a session
  over a divisible space counts once, not once per part).
- used_hours: those sessions that someone checked in to, or with an attendance row not marked absent.
"""

from datetime import date, datetime

from sqlmodel import SQLModel

from booking.models import RegionLevel
from integrations import spreadsheet


class RegionParticipation(SQLModel):
    region_id: int
    name: str
    level: RegionLevel
    parent_id: int | None
    classes_offered: int
    seats: int
    applicants: int
    enrolled: int
    attendance_rate: float | None
    hours_delivered: float
    learners_under_18: int
    learners_18_to_59: int
    learners_60_plus: int
    first_time_learners: int


class VenueUsage(SQLModel):
    venue_id: int
    name: str
    region_id: int
    open_hours: float
    booked_hours: float
    used_hours: float


class ParticipationReport(SQLModel):
    """One term's figures; ``as_of`` is the instant sessions had to have ended by to count as held."""

    region_id: int | None  # None: the whole district
    term_start: date
    term_end: date
    as_of: datetime
    regions: list[RegionParticipation]
    venues: list[VenueUsage]


# ---- CSV ------------------------------------------------------------------------------------------

# English column names, the same words as the JSON fields, so one glossary serves both; the BOM
# makes spreadsheet programs read the (often Chinese) names of regions and venues as UTF-8.
# ``in_region_id`` is a region row's parent and a venue row's region.
REGION_COLUMNS = (
    "classes_offered",
    "seats",
    "applicants",
    "enrolled",
    "attendance_rate",
    "hours_delivered",
    "learners_under_18",
    "learners_18_to_59",
    "learners_60_plus",
    "first_time_learners",
)
VENUE_COLUMNS = ("open_hours", "booked_hours", "used_hours")
CSV_HEADER = ("kind", "id", "name", "level", "in_region_id", *REGION_COLUMNS, *VENUE_COLUMNS)


def _number(value: float | int | None, places: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:.{places}f}" if places else str(value)


def _region_cells(row: RegionParticipation) -> list[str]:
    figures = [_number(getattr(row, column)) for column in REGION_COLUMNS]
    figures[REGION_COLUMNS.index("attendance_rate")] = _number(row.attendance_rate, 4)
    figures[REGION_COLUMNS.index("hours_delivered")] = _number(row.hours_delivered, 2)
    identity = ["region", str(row.region_id), spreadsheet.text(row.name), row.level, _number(row.parent_id)]
    return identity + figures + [""] * len(VENUE_COLUMNS)


def _venue_cells(row: VenueUsage) -> list[str]:
    figures = [_number(getattr(row, column), 2) for column in VENUE_COLUMNS]
    return (
        ["venue", str(row.venue_id), spreadsheet.text(row.name), "", str(row.region_id)]
        + [""] * len(REGION_COLUMNS)
        + figures
    )


def participation_csv(report: ParticipationReport) -> bytes:
    """The report as CSV: regions, then venues."""
    rows = [*map(_region_cells, report.regions), *map(_venue_cells, report.venues)]
    return spreadsheet.csv_bytes(CSV_HEADER, rows)
