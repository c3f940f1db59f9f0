"""Teachers, community classes, allocations (solver runs), and which bookings hold a class.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from booking.models.base import JSONList, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teachers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, server_default="staff"),
        sa.Column("organisation_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="RESTRICT")),
        sa.Column("skills", JSONList, nullable=False),
        sa.Column("availability", JSONList, nullable=False),
        sa.Column("max_minutes_per_week", sa.Integer, nullable=False),
        sa.Column("home_region_id", sa.Integer, sa.ForeignKey("regions.id", ondelete="RESTRICT")),
        sa.Column("refused_venue_ids", JSONList, nullable=False),
        sa.CheckConstraint("max_minutes_per_week >= 0", name="teachers_max_minutes"),
    )
    op.create_table(
        "classes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("category", sa.String(100), nullable=False, server_default=""),
        sa.Column("target_group", sa.String(100), nullable=False, server_default=""),
        sa.Column(
            "organisation_id", sa.Integer, sa.ForeignKey("organisations.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("term_start", sa.Date, nullable=False),
        sa.Column("term_end", sa.Date, nullable=False),
        sa.Column("sessions_per_week", sa.Integer, nullable=False),
        sa.Column("session_minutes", sa.Integer, nullable=False),
        sa.Column("learners", sa.Integer, nullable=False),
        sa.Column("required_features", JSONList, nullable=False),
        sa.Column("required_kind", sa.String(40)),
        sa.Column("required_skill", sa.String(100)),
        sa.Column("fixed_teacher_id", sa.Integer, sa.ForeignKey("teachers.id", ondelete="RESTRICT")),
        sa.Column("preferred_region_ids", JSONList, nullable=False),
        sa.Column("allowed_windows", JSONList, nullable=False),
        sa.Column("cohorts", JSONList, nullable=False),
        sa.CheckConstraint("term_end >= term_start", name="classes_term"),
        sa.CheckConstraint("sessions_per_week BETWEEN 1 AND 7", name="classes_sessions"),
        sa.CheckConstraint("session_minutes > 0 AND learners > 0", name="classes_positive"),
    )
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("term_start", sa.Date, nullable=False),
        sa.Column("term_end", sa.Date, nullable=False),
        sa.Column("class_ids", JSONList, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("time_limit_s", sa.Float, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("weights", JSONList, nullable=False),
        sa.Column("locks", JSONList, nullable=False),
        sa.Column("forbids", JSONList, nullable=False),
        sa.Column("progress", JSONList),
        sa.Column("result", JSONList),
        sa.Column("commit_report", JSONList),
        sa.Column("error", sa.String(2000)),
        sa.Column("cancel_requested", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("allocations.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
    )
    op.create_table(
        "class_bookings",
        sa.Column("booking_id", sa.Integer, sa.ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="RESTRICT"), nullable=False, index=True),
        sa.Column(
            "teacher_id", sa.Integer, sa.ForeignKey("teachers.id", ondelete="RESTRICT"), nullable=False, index=True
        ),
        sa.Column("allocation_id", sa.Integer, sa.ForeignKey("allocations.id", ondelete="SET NULL")),
        sa.Column("session_index", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("class_bookings", "allocations", "classes", "teachers"):
        op.drop_table(table)
