"""Opening hours, closures, public holidays per venue, booking series, and the space tree.

``space_tree`` is the closure table of divisible spaces (every ancestor/descendant pair,
each space paired with itself), so "what holds this space" is a join, not a recursive walk.
``occurrences.original_starts_at`` is a session's place in its series; a moved session keeps it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from booking.models.base import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opening_hours",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("venue_id", sa.Integer, sa.ForeignKey("venues.id", ondelete="CASCADE"), index=True),
        sa.Column("space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE"), index=True),
        sa.Column("weekday", sa.Integer, nullable=False),
        sa.Column("opens_min", sa.Integer, nullable=False),
        sa.Column("closes_min", sa.Integer, nullable=False),
        sa.Column("valid_from", sa.Date),
        sa.Column("valid_until", sa.Date),
        sa.CheckConstraint("(venue_id IS NULL) <> (space_id IS NULL)", name="opening_hours_one_owner"),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name="opening_hours_weekday"),
        sa.CheckConstraint(
            "0 <= opens_min AND opens_min < closes_min AND closes_min <= 1440", name="opening_hours_span"
        ),
    )
    op.create_table(
        "closures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("venue_id", sa.Integer, sa.ForeignKey("venues.id", ondelete="CASCADE")),
        sa.Column("space_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE")),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("start_date", sa.Date),
        sa.Column("end_date", sa.Date),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("(venue_id IS NULL) <> (space_id IS NULL)", name="closures_one_owner"),
        sa.CheckConstraint("ends_at > starts_at", name="closures_positive_duration"),
    )
    op.create_index("ix_closures_venue_starts", "closures", ["venue_id", "starts_at"])
    op.create_index("ix_closures_space_starts", "closures", ["space_id", "starts_at"])
    op.create_table(
        "space_tree",
        sa.Column("ancestor_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("descendant_id", sa.Integer, sa.ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("depth", sa.Integer, nullable=False),
    )
    op.create_index("ix_space_tree_descendant", "space_tree", ["descendant_id", "ancestor_id"])
    op.execute(
        """
        INSERT INTO space_tree (ancestor_id, descendant_id, depth)
        WITH RECURSIVE pairs(ancestor_id, descendant_id, depth) AS (
            SELECT id, id, 0 FROM spaces
            UNION ALL
            SELECT pairs.ancestor_id, spaces.id, pairs.depth + 1
            FROM pairs JOIN spaces ON spaces.parent_id = pairs.descendant_id
        )
        SELECT ancestor_id, descendant_id, depth FROM pairs
        """
    )
    # Plain ADD COLUMNs: on SQLite a batch rebuild would drop the no-overlap triggers.
    op.add_column(
        "venues", sa.Column("closes_on_public_holidays", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.add_column("venues", sa.Column("country", sa.String(2), nullable=False, server_default="CN"))
    op.add_column("bookings", sa.Column("rrule", sa.String(500)))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a NOT NULL column only with a default; every row is filled just below.
        op.add_column(
            "occurrences",
            sa.Column("original_starts_at", UTCDateTime, nullable=False, server_default="1970-01-01 00:00:00.000000"),
        )
        op.execute("UPDATE occurrences SET original_starts_at = starts_at")
    else:
        op.add_column("occurrences", sa.Column("original_starts_at", UTCDateTime))
        op.execute("UPDATE occurrences SET original_starts_at = starts_at")
        op.alter_column("occurrences", "original_starts_at", nullable=False)
    op.create_index("ix_occurrences_booking_original", "occurrences", ["booking_id", "original_starts_at"])


def downgrade() -> None:
    op.drop_index("ix_occurrences_booking_original", "occurrences")
    op.drop_column("occurrences", "original_starts_at")
    op.drop_column("bookings", "rrule")
    op.drop_column("venues", "country")
    op.drop_column("venues", "closes_on_public_holidays")
    op.drop_table("space_tree")
    op.drop_table("closures")
    op.drop_table("opening_hours")
