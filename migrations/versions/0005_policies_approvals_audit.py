"""Booking policies, approvals, check-in, the audit trail and the outbox.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from booking.models.base import JSONList, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NON_NEGATIVE = (
    "min_duration_min",
    "max_duration_min",
    "lead_time_min",
    "horizon_days",
    "cancellation_notice_min",
    "max_bookings_per_week",
    "max_minutes_per_week",
    "max_bookings_per_month",
    "max_minutes_per_month",
    "checkin_opens_before_min",
    "checkin_closes_after_min",
)


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("venue_id", sa.Integer, sa.ForeignKey("venues.id", ondelete="CASCADE"), unique=True),
        sa.Column("space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE"), unique=True),
        sa.Column("approval", sa.String(10)),
        *(sa.Column(name, sa.Integer) for name in NON_NEGATIVE[:4]),
        sa.Column("slot_step_min", sa.Integer),
        *(sa.Column(name, sa.Integer) for name in NON_NEGATIVE[4:9]),
        sa.Column("allowed_organisation_ids", JSONList),
        sa.Column("allowed_organisation_kinds", JSONList),
        sa.Column("checkin_required", sa.Boolean),
        *(sa.Column(name, sa.Integer) for name in NON_NEGATIVE[9:]),
        sa.CheckConstraint("(venue_id IS NULL) <> (space_id IS NULL)", name="policies_one_holder"),
        sa.CheckConstraint("approval IN ('auto', 'manual')", name="policies_approval"),
        sa.CheckConstraint("slot_step_min > 0", name="policies_slot_step"),
        *(sa.CheckConstraint(f"{name} >= 0", name=f"policies_{name}") for name in NON_NEGATIVE),
    )
    op.create_table(
        "booking_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("booking_id", sa.Integer, sa.ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("occurrence_ids", JSONList, nullable=False),
        sa.Column("from_state", sa.String(20)),
        sa.Column("to_state", sa.String(20)),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_booking_events_booking_id", "booking_events", ["booking_id", "id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("topic", sa.String(50), nullable=False),
        sa.Column("booking_id", sa.Integer, nullable=False, index=True),
        sa.Column("payload", JSONList, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, index=True),
    )
    # Plain ADD COLUMNs: on SQLite a batch rebuild would drop the no-overlap triggers.
    op.add_column("bookings", sa.Column("requested_by_id", sa.Integer))
    op.add_column("bookings", sa.Column("version", sa.Integer, nullable=False, server_default="1"))
    op.add_column("occurrences", sa.Column("checked_in_at", UTCDateTime))
    op.add_column("allocations", sa.Column("region_id", sa.Integer))
    # The manager's queue and the no-show sweep look occurrences up by state and time.
    op.create_index("ix_occurrences_state_starts", "occurrences", ["state", "starts_at"])


def downgrade() -> None:
    op.drop_index("ix_occurrences_state_starts", "occurrences")
    op.drop_column("allocations", "region_id")
    op.drop_column("occurrences", "checked_in_at")
    op.drop_column("bookings", "version")
    op.drop_column("bookings", "requested_by_id")
    for table in ("outbox", "booking_events", "policies"):
        op.drop_table(table)
