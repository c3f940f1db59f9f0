"""Residents' learning: profiles and agents, enrolment policies with a guarded seat count,
applications, attendance, check-in codes, the learning audit trail; organisations' credit
schemes; the outbox also carries messages about classes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from booking.models.base import JSONList, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LIVE = sa.text("state IN ('applied', 'enrolled', 'waitlisted')")


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("public_id", sa.String(36), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("home_region_id", sa.Integer, sa.ForeignKey("regions.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("birth_year", sa.Integer, nullable=False),
        sa.Column("phone", sa.String(30)),
        sa.Column("id_type", sa.String(30), nullable=False, server_default="resident_id_card"),
        sa.Column("id_salt", sa.String(32)),
        sa.Column("id_hash", sa.String(64)),
        sa.Column("id_last4", sa.String(4)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("birth_year BETWEEN 1900 AND 2100", name="ck_residents_birth_year"),
    )
    op.create_index("ix_residents_home_region_id", "residents", ["home_region_id"])
    op.create_table(
        "resident_agents",
        sa.Column("resident_id", sa.Integer, sa.ForeignKey("residents.user_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("agent_user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_resident_agents_agent_user_id", "resident_agents", ["agent_user_id"])
    op.create_table(
        "enrolment_policies",
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("opens_at", UTCDateTime, nullable=False),
        sa.Column("closes_at", UTCDateTime, nullable=False),
        sa.Column("seats", sa.Integer, nullable=False),
        sa.Column("enrolled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("mode", sa.String(20), nullable=False, server_default="lottery"),
        sa.Column("tiers", JSONList, nullable=False),
        sa.Column("term_limit", sa.Integer, nullable=False, server_default="3"),
        sa.Column("min_learners", sa.Integer, nullable=False, server_default="0"),
        sa.Column("min_age", sa.Integer),
        sa.Column("max_age", sa.Integer),
        sa.Column("completion_percent", sa.Integer, nullable=False, server_default="80"),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("seed_commitment", sa.String(64), nullable=False),
        sa.Column("drawn_at", UTCDateTime),
        sa.Column("outcome", sa.String(20)),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("enrolled >= 0 AND enrolled <= seats", name="ck_enrolment_seats"),
        sa.CheckConstraint("opens_at < closes_at", name="ck_enrolment_window"),
        sa.CheckConstraint("mode IN ('lottery', 'first_come')", name="ck_enrolment_mode"),
        sa.CheckConstraint("term_limit >= 1 AND min_learners >= 0", name="ck_enrolment_limits"),
        sa.CheckConstraint("completion_percent BETWEEN 1 AND 100", name="ck_enrolment_completion"),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("public_id", sa.String(36), nullable=False, unique=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("resident_id", sa.Integer, sa.ForeignKey("residents.user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("term_start", sa.Date, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("tier", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rank", sa.Integer),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint(
            "state IN ('applied', 'enrolled', 'waitlisted', 'withdrawn', 'cancelled')", name="ck_applications_state"
        ),
        sa.CheckConstraint("channel IN ('self', 'agent', 'counter')", name="ck_applications_channel"),
    )
    op.create_index("ix_applications_class_id", "applications", ["class_id"])
    op.create_index("ix_applications_resident_term", "applications", ["resident_id", "term_start"])
    op.create_index(
        "uq_applications_live",
        "applications",
        ["class_id", "resident_id"],
        unique=True,
        sqlite_where=LIVE,
        postgresql_where=LIVE,
    )
    op.create_table(
        "attendance",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("occurrence_id", sa.Integer, sa.ForeignKey("occurrences.id", ondelete="CASCADE"), nullable=False),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("resident_id", sa.Integer, sa.ForeignKey("residents.user_id", ondelete="CASCADE"), nullable=False),
        sa.Column("session_date", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("minutes", sa.Integer, nullable=False),
        sa.Column("recorded_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("channel", sa.String(20), nullable=False, server_default="teacher"),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("minutes >= 0", name="ck_attendance_minutes"),
        sa.CheckConstraint("status IN ('present', 'late', 'left_early', 'absent')", name="ck_attendance_status"),
    )
    op.create_index("uq_attendance_session_resident", "attendance", ["occurrence_id", "resident_id"], unique=True)
    op.create_index("ix_attendance_class_id", "attendance", ["class_id"])
    op.create_index("ix_attendance_resident_id", "attendance", ["resident_id"])
    op.create_table(
        "session_codes",
        sa.Column("occurrence_id", sa.Integer, sa.ForeignKey("occurrences.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "learning_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("class_id", sa.Integer, nullable=False),
        sa.Column("application_id", sa.Integer),
        sa.Column("resident_id", sa.Integer),
        sa.Column("occurrence_id", sa.Integer),
        sa.Column("actor_user_id", sa.Integer),
        sa.Column("channel", sa.String(20)),
        sa.Column("detail", JSONList, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_learning_events_class_id", "learning_events", ["class_id"])
    op.create_index("ix_learning_events_application_id", "learning_events", ["application_id"])
    # Plain ADD COLUMNs on organisations: on SQLite a batch rebuild would fail on the foreign keys to it.
    op.add_column("organisations", sa.Column("hours_per_credit", sa.Float, nullable=False, server_default="16"))
    op.add_column("organisations", sa.Column("points_per_hour", sa.Float, nullable=False, server_default="1"))
    op.add_column(
        "organisations", sa.Column("credit_rounding", sa.String(20), nullable=False, server_default="down_to_half")
    )
    op.add_column("teachers", sa.Column("display_name", sa.String(100), nullable=False, server_default=""))
    # SQLite adds a column with a REFERENCES clause in place, but Alembic would ask for a rebuild.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE teachers ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE SET NULL")
    else:
        op.add_column("teachers", sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")))
    op.create_index("uq_teachers_user_id", "teachers", ["user_id"], unique=True)
    # Nothing refers to the outbox, so SQLite may rebuild it to drop NOT NULL.
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("booking_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("class_id", sa.Integer))
        batch.create_index("ix_outbox_class_id", ["class_id"])


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE booking_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_class_id")
        batch.drop_column("class_id")
        batch.alter_column("booking_id", existing_type=sa.Integer, nullable=False)
    op.drop_index("uq_teachers_user_id", "teachers")
    with op.batch_alter_table("teachers", recreate="never") as batch:
        batch.drop_column("user_id")
        batch.drop_column("display_name")
    with op.batch_alter_table("organisations", recreate="never") as batch:
        for name in ("credit_rounding", "points_per_hour", "hours_per_credit"):
            batch.drop_column(name)
    for table in (
        "learning_events",
        "session_codes",
        "attendance",
        "applications",
        "enrolment_policies",
        "resident_agents",
        "residents",
    ):
        op.drop_table(table)
