"""Booking core: regions, organisations, venues, spaces, bookings, occurrences, idempotency keys.

The no-double-booking rule lives in the database on both dialects: an exclusion constraint
on PostgreSQL and triggers on SQLite (which serialises writers, so the check and the write
happen under one lock).

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from booking.models.base import JSONList, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copy of booking.models.SLOT_HOLDING_STATES as of this revision.
HOLDING = "('confirmed', 'completed')"

SQLITE_OVERLAP_CHECK = f"""
    SELECT RAISE(ABORT, 'booking_conflict')
    WHERE EXISTS (
        SELECT 1 FROM occurrences AS o
        WHERE o.space_id = NEW.space_id
          AND o.id IS NOT NEW.id
          AND o.state IN {HOLDING}
          AND o.blocked_start_at < NEW.blocked_end_at
          AND NEW.blocked_start_at < o.blocked_end_at
    );
"""


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, index=True),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("regions.id", ondelete="RESTRICT"), index=True),
        sa.CheckConstraint("level IN ('district', 'town', 'community')", name="regions_level"),
    )
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("region_id", sa.Integer, sa.ForeignKey("regions.id", ondelete="RESTRICT"), index=True),
    )
    op.create_table(
        "venues",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column(
            "region_id", sa.Integer, sa.ForeignKey("regions.id", ondelete="RESTRICT"), nullable=False, index=True
        ),
        sa.Column(
            "owner_id",
            sa.Integer,
            sa.ForeignKey("organisations.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        sa.Column("address", sa.String(500), nullable=False, server_default=""),
        sa.Column("latitude", sa.Float),
        sa.Column("longitude", sa.Float),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
        sa.CheckConstraint("latitude IS NULL OR (latitude BETWEEN -90 AND 90)", name="venues_latitude"),
        sa.CheckConstraint("longitude IS NULL OR (longitude BETWEEN -180 AND 180)", name="venues_longitude"),
    )
    op.create_table(
        "spaces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("venue_id", sa.Integer, sa.ForeignKey("venues.id", ondelete="RESTRICT"), nullable=False, index=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="RESTRICT"), index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("features", JSONList, nullable=False),
        sa.Column("buffer_before_min", sa.Integer, nullable=False, server_default="0"),
        sa.Column("buffer_after_min", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("capacity >= 0", name="spaces_capacity"),
        sa.CheckConstraint("buffer_before_min >= 0 AND buffer_after_min >= 0", name="spaces_buffers"),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name="spaces_not_own_parent"),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="RESTRICT"), nullable=False, index=True),
        sa.Column(
            "organisation_id",
            sa.Integer,
            sa.ForeignKey("organisations.id", ondelete="RESTRICT"),
            nullable=False,
            index=True,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("attendees", sa.Integer, nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(20), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="bookings_positive_duration"),
        sa.CheckConstraint("attendees >= 1", name="bookings_attendees"),
    )
    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "booking_id", sa.Integer, sa.ForeignKey("bookings.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("blocked_start_at", UTCDateTime, nullable=False),
        sa.Column("blocked_end_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name="occurrences_positive_duration"),
        sa.CheckConstraint(
            "blocked_start_at <= starts_at AND blocked_end_at >= ends_at", name="occurrences_blocked_covers"
        ),
    )
    op.create_index("ix_occurrences_space_blocked", "occurrences", ["space_id", "blocked_start_at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(100), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response", JSONList),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE occurrences ADD CONSTRAINT occurrences_no_overlap EXCLUDE USING gist "
            "(space_id WITH =, tstzrange(blocked_start_at, blocked_end_at, '[)') WITH &&) "
            f"WHERE (state IN {HOLDING})"
        )
    else:
        op.execute(
            "CREATE TRIGGER occurrences_no_overlap_insert BEFORE INSERT ON occurrences "
            f"WHEN NEW.state IN {HOLDING} BEGIN {SQLITE_OVERLAP_CHECK} END"
        )
        op.execute(
            "CREATE TRIGGER occurrences_no_overlap_update "
            "BEFORE UPDATE OF state, space_id, blocked_start_at, blocked_end_at ON occurrences "
            f"WHEN NEW.state IN {HOLDING} BEGIN {SQLITE_OVERLAP_CHECK} END"
        )


def downgrade() -> None:
    for table in ("idempotency_keys", "occurrences", "bookings", "spaces", "venues", "organisations", "regions"):
        op.drop_table(table)
