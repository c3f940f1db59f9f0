"""Closures remember the calendar they were imported from, so a re-import updates them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# One closure per event instance of a calendar and place (venue or space).
UNIQUE = {
    "uq_closures_venue_source": "venue_id",
    "uq_closures_space_source": "space_id",
}


def upgrade() -> None:
    # Plain ADD COLUMNs: on SQLite a batch rebuild would drop the triggers.
    op.add_column("closures", sa.Column("source", sa.String(500)))
    op.add_column("closures", sa.Column("source_uid", sa.String(300)))
    for name, owner in UNIQUE.items():
        where = sa.text(f"source IS NOT NULL AND {owner} IS NOT NULL")
        op.create_index(
            name,
            "closures",
            [owner, "source", "source_uid"],
            unique=True,
            sqlite_where=where,
            postgresql_where=where,
        )


def downgrade() -> None:
    for name in UNIQUE:
        op.drop_index(name, "closures")
    op.drop_column("closures", "source_uid")
    op.drop_column("closures", "source")
