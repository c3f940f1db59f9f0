"""The job queue on PostgreSQL: procrastinate's tables, types and functions (SQLite runs its
background work in-process and has none of them).

The schema is the one the pinned procrastinate version ships (pyproject.toml): a newer version
that changes it comes with a migration of its own.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.util import await_only

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs", "procrastinate_workers")
TYPES = ("procrastinate_job_to_defer_v1", "procrastinate_job_event_type", "procrastinate_job_status")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Many statements in one: sent as a simple query on the driver's own connection (a prepared
    # statement, which SQLAlchemy would use, holds one command).
    driver = op.get_bind().connection.dbapi_connection.driver_connection
    await_only(driver.execute(SchemaManager.get_schema()))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP TABLE {', '.join(TABLES)} CASCADE")
    op.execute(
        """
        DO $$
        DECLARE f record;
        BEGIN
            FOR f IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                     JOIN pg_namespace n ON n.oid = p.pronamespace
                     WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
            LOOP
                EXECUTE 'DROP FUNCTION ' || f.signature || ' CASCADE';
            END LOOP;
        END $$
        """
    )
    op.execute(f"DROP TYPE {', '.join(TYPES)}")
