"""A class accepts several space kinds: ``allowed_kinds`` (a JSON list, empty = any) replaces
``required_kind``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from booking.models.base import JSONList

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

classes = sa.table(
    "classes",
    sa.column("id", sa.Integer),
    sa.column("required_kind", sa.String(40)),
    sa.column("allowed_kinds", JSONList),
)


def upgrade() -> None:
    op.add_column("classes", sa.Column("allowed_kinds", JSONList, nullable=False, server_default="[]"))
    bind = op.get_bind()
    kinds = bind.scalars(sa.select(classes.c.required_kind).where(classes.c.required_kind.is_not(None)).distinct())
    for kind in list(kinds):
        bind.execute(sa.update(classes).where(classes.c.required_kind == kind).values(allowed_kinds=[kind]))
    _drop_column("required_kind")


def downgrade() -> None:
    op.add_column("classes", sa.Column("required_kind", sa.String(40)))
    bind = op.get_bind()
    by_first_kind: dict[str, list[int]] = {}
    for class_id, kinds in bind.execute(sa.select(classes.c.id, classes.c.allowed_kinds)):
        if kinds:
            by_first_kind.setdefault(kinds[0], []).append(class_id)
    for kind, ids in by_first_kind.items():
        bind.execute(sa.update(classes).where(classes.c.id.in_(ids)).values(required_kind=kind))
    _drop_column("allowed_kinds")


def _drop_column(name: str) -> None:
    # Never a batch rebuild on SQLite: it copies ``classes`` and drops the original, which SQLite
    # refuses once class_bookings point at a class (ON DELETE RESTRICT). SQLite 3.35+ drops in place
    # a column that no index, constraint or trigger uses.
    with op.batch_alter_table("classes", recreate="never") as batch:
        batch.drop_column(name)
