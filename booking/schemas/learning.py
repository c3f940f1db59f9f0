"""Attendance, self check-in and learning records."""

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from booking.models import AttendanceStatus


class AttendanceMark(SQLModel):
    """One line of a roll call. ``minutes`` is required for late and left_early (at most the
    session's length); present means the whole session and absent none, so for them it may be
    left out or must say just that."""

    resident_id: int
    status: AttendanceStatus
    minutes: int | None = Field(default=None, ge=0)


class RollEntry(SQLModel):
    resident_id: int
    display_name: str
    enrolled: bool = Field(description="false: no longer enrolled, but attendance was recorded")
    status: AttendanceStatus | None = None
    minutes: int | None = None
    channel: str | None = Field(default=None, description="teacher (roll call) or self_checkin")
    recorded_at: datetime | None = None


class SessionRoll(SQLModel):
    class_id: int
    session_date: date = Field(description="the session's local date at its venue")
    starts_at: datetime
    ends_at: datetime
    state: str
    session_minutes: int
    editable_until: datetime = Field(description="attendance is locked from then on")
    entries: list[RollEntry]


class SessionCodePublic(SQLModel):
    class_id: int
    session_date: date
    code: str = Field(description="six digits the teacher shows; residents check in with it")
    opens_at: datetime = Field(description="check-in opens (15 minutes before the start)")
    closes_at: datetime = Field(description="check-in closes (30 minutes after the start)")


class CheckIn(SQLModel):
    code: str = Field(min_length=1, max_length=20)


class CheckedIn(SQLModel):
    class_id: int
    session_date: date
    status: AttendanceStatus
    minutes: int
    channel: str


class CreditScheme(SQLModel):
    hours_per_credit: float
    points_per_hour: float
    rounding: str = Field(description="down_to_half, down_to_tenth or nearest_tenth")


class LearningRecordPublic(SQLModel):
    """A learner's record of one class in its term. Rates are fractions (0.8 = 80 %); the
    attendance rate counts only sessions that have started, completion the whole term."""

    record_id: str = Field(description="a stable URN, also the id of the class's badge")
    class_id: int
    class_title: str
    category: str
    organisation_id: int
    organisation_name: str
    venues: list[str]
    term_start: date
    term_end: date
    sessions_planned: int
    sessions_held: int
    planned_minutes: int
    attended_minutes: int
    planned_hours: float
    attended_hours: float
    attendance_rate: float | None = Field(description="attended / held minutes; null before the first session")
    completion_percent: int
    completed: bool
    completed_on: date | None = Field(description="local date of the session that completed the class")
    credits: float
    points: float
    scheme: CreditScheme


class MyLearningRecord(SQLModel):
    resident_id: str = Field(description="your learner id (a UUID), as in exports")
    display_name: str
    records: list[LearningRecordPublic]
