"""Residents' learning: who they are, what they applied for, whether they came, and the audit of it.

The seats of a class are counted on its enrolment policy (``enrolled``); a CHECK keeps the count
within ``seats`` and every change of it is a conditional UPDATE, so no interleaving of requests
can oversell a class on either database.
"""

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Column, Index, String, text
from sqlmodel import Field, SQLModel

from booking.models.base import JSONList, UTCDateTime


class Resident(SQLModel, table=True):
    """The learner profile on a resident's account. The ID number is kept only as a salted
    SHA-256 and its last four digits (PIPL art. 28)."""

    __tablename__ = "residents"

    user_id: int = Field(foreign_key="users.id", primary_key=True, ondelete="CASCADE")
    public_id: str = Field(max_length=36, unique=True)  # the learner id in exports (a UUID)
    display_name: str = Field(max_length=200)
    home_region_id: int = Field(foreign_key="regions.id", index=True, ondelete="RESTRICT")
    birth_year: int
    phone: str | None = Field(default=None, max_length=30)
    id_type: str = Field(default="resident_id_card", max_length=30)
    id_salt: str | None = Field(default=None, max_length=32)
    id_hash: str | None = Field(default=None, max_length=64)
    id_last4: str | None = Field(default=None, max_length=4)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ResidentAgent(SQLModel, table=True):
    """An account (a family member's) that the resident lets act for them."""

    __tablename__ = "resident_agents"

    resident_id: int = Field(foreign_key="residents.user_id", primary_key=True, ondelete="CASCADE")
    agent_user_id: int = Field(foreign_key="users.id", primary_key=True, index=True, ondelete="CASCADE")
    created_at: datetime = Field(sa_type=UTCDateTime)


class EnrolmentMode(StrEnum):
    lottery = "lottery"  # applications in a window, then a published, re-computable draw
    first_come = "first_come"  # seats taken in commit order


class Tier(StrEnum):
    """Priority tiers a policy orders; an applicant's tier is the first one that applies."""

    preferred_region = "preferred_region"  # lives in one of the class's preferred regions
    new_to_class = "new_to_class"  # not enrolled in this class (same title and organisation) last term
    everyone = "everyone"


DEFAULT_TIERS = [Tier.preferred_region.value, Tier.new_to_class.value, Tier.everyone.value]


class Outcome(StrEnum):
    """What staff decided for a class below ``min_learners`` after its draw."""

    kept = "kept"
    cancelled = "cancelled"


class EnrolmentPolicy(SQLModel, table=True):
    """How a class gives out its seats, and the seat count the database guards."""

    __tablename__ = "enrolment_policies"
    __table_args__ = (
        CheckConstraint("enrolled >= 0 AND enrolled <= seats", name="ck_enrolment_seats"),
        CheckConstraint("opens_at < closes_at", name="ck_enrolment_window"),
    )

    class_id: int = Field(foreign_key="classes.id", primary_key=True, ondelete="CASCADE")
    opens_at: datetime = Field(sa_type=UTCDateTime)
    closes_at: datetime = Field(sa_type=UTCDateTime)
    seats: int
    enrolled: int = 0
    mode: EnrolmentMode = Field(default=EnrolmentMode.lottery, sa_type=String(20))
    tiers: list[str] = Field(default_factory=lambda: list(DEFAULT_TIERS), sa_column=Column(JSONList, nullable=False))
    term_limit: int = 3  # classes a resident may hold per term (enrolled or applied)
    min_learners: int = 0
    min_age: int | None = None
    max_age: int | None = None
    completion_percent: int = 80  # attended share of planned minutes that completes the class
    # The lottery's secret, SHA-256 committed when the window opens and revealed at the draw.
    seed: str = Field(max_length=64)
    seed_commitment: str = Field(max_length=64)
    drawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: Outcome | None = Field(default=None, sa_type=String(20))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ApplicationState(StrEnum):
    applied = "applied"  # in a lottery's window, waiting for the draw
    enrolled = "enrolled"  # holds a seat
    waitlisted = "waitlisted"  # drawn after the seats, in rank order
    withdrawn = "withdrawn"
    cancelled = "cancelled"  # the class was cancelled


HOLDING = (ApplicationState.applied.value, ApplicationState.enrolled.value, ApplicationState.waitlisted.value)


class Channel(StrEnum):
    self = "self"
    agent = "agent"  # a family member's account the resident named
    counter = "counter"  # staff of the class's organisation


class Application(SQLModel, table=True):
    """A resident's application to a class; one live application per resident and class."""

    __tablename__ = "applications"
    __table_args__ = (
        Index(
            "uq_applications_live",
            "class_id",
            "resident_id",
            unique=True,
            sqlite_where=text("state IN ('applied', 'enrolled', 'waitlisted')"),
            postgresql_where=text("state IN ('applied', 'enrolled', 'waitlisted')"),
        ),
        Index("ix_applications_resident_term", "resident_id", "term_start"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=36, unique=True)  # what the published draw lists
    class_id: int = Field(foreign_key="classes.id", index=True, ondelete="CASCADE")
    resident_id: int = Field(foreign_key="residents.user_id", ondelete="CASCADE")
    term_start: date
    state: ApplicationState = Field(sa_type=String(20))
    tier: int = 0  # index into the policy's tiers, fixed when applying
    rank: int | None = None  # place in the draw (1 = first), or commit order for first_come
    channel: Channel = Field(sa_type=String(10))
    actor_user_id: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class AttendanceStatus(StrEnum):
    present = "present"
    late = "late"
    left_early = "left_early"
    absent = "absent"


class Attendance(SQLModel, table=True):
    """The ledger: one row per resident and class session, with the minutes they attended."""

    __tablename__ = "attendance"
    __table_args__ = (Index("uq_attendance_session_resident", "occurrence_id", "resident_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="occurrences.id", ondelete="CASCADE")
    class_id: int = Field(foreign_key="classes.id", index=True, ondelete="CASCADE")
    resident_id: int = Field(foreign_key="residents.user_id", index=True, ondelete="CASCADE")
    session_date: date
    status: AttendanceStatus = Field(sa_type=String(20))
    minutes: int
    recorded_by: int | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    channel: str = Field(default="teacher", max_length=20)  # teacher | self_checkin
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class SessionCode(SQLModel, table=True):
    """The six-digit code a teacher shows for residents to check themselves in to one session."""

    __tablename__ = "session_codes"

    occurrence_id: int = Field(foreign_key="occurrences.id", primary_key=True, ondelete="CASCADE")
    code: str = Field(max_length=6)
    created_at: datetime = Field(sa_type=UTCDateTime)


class LearningEvent(SQLModel, table=True):
    """The audit trail of residents' learning: applications, draws, seats, attendance edits."""

    __tablename__ = "learning_events"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)  # applied, withdrawn, enrolled, waitlisted, promoted, drawn, ...
    class_id: int = Field(index=True)  # no foreign keys: the trail outlives what it talks about
    application_id: int | None = Field(default=None, index=True)
    resident_id: int | None = None
    occurrence_id: int | None = None
    actor_user_id: int | None = None
    channel: str | None = Field(default=None, max_length=20)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONList, nullable=False))
    at: datetime = Field(sa_type=UTCDateTime)
