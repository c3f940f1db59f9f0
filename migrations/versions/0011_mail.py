"""Mail: people's addresses, and the mails sent to them (with their sending state).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from booking.models.base import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(254)))
    op.create_table(
        "mail_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("message_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("booking_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("topic", sa.String(50), nullable=False),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.UniqueConstraint("message_id", "user_id", "booking_id", name="uq_mail_deliveries_message"),
    )
    op.create_index("ix_mail_deliveries_user_id", "mail_deliveries", ["user_id"])
    op.create_index("ix_mail_deliveries_state", "mail_deliveries", ["state"])
    op.create_index("ix_mail_deliveries_next_attempt_at", "mail_deliveries", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("mail_deliveries")
    op.drop_column("users", "email")  # SQLite 3.35 and later drop a column in place
