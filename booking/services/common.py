"""Helpers every use case shares: loading by id, paging, partial updates, dialect-aware SQL."""

from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import ClauseElement, Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from booking.errors import InUse, InvalidRequest, NotFound

M = TypeVar("M", bound=SQLModel)

MAX_PAGE_SIZE = 200
SINGULAR = {"classes": "class", "opening_hours": "opening hours"}


MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database: a larger one names nothing
MAX_OFFSET = MAX_ID


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = 50
    offset: int = 0


async def get_or_404(session: AsyncSession, model: type[M], item_id: int, *, for_update: bool = False) -> M:
    item = await session.get(model, item_id, with_for_update=for_update)
    if item is None:
        raise NotFound(SINGULAR.get(model.__tablename__, model.__tablename__.rstrip("s")), item_id)
    return item


async def require(session: AsyncSession, model: type[SQLModel], item_id: int | None) -> None:
    """Raise 404 unless the referenced row exists (``None`` references nothing)."""
    if item_id is not None:
        await get_or_404(session, model, item_id)


async def page_of(session: AsyncSession, stmt: Select, page: PageRequest) -> tuple[list[Any], int]:
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = (await session.scalars(stmt.limit(page.limit).offset(page.offset))).all()
    return list(rows), int(total or 0)


def apply_update(item: SQLModel, changes: SQLModel) -> None:
    """Set the fields a PATCH gave; ``null`` only where the column may be empty (else 422: a field
    is left out to keep it, not sent as null)."""
    given = changes.model_dump(exclude_unset=True)
    columns = item.__table__.columns
    refused = [
        field for field, value in given.items() if value is None and field in columns and not columns[field].nullable
    ]
    if refused:
        errors = [
            {"field": field, "source": "body", "message": "cannot be null; leave it out to keep it"}
            for field in refused
        ]
        raise InvalidRequest(f"invalid: {', '.join(refused)}", field=refused[0], errors=errors)
    for field, value in given.items():
        setattr(item, field, value)


async def delete_unreferenced(session: AsyncSession, item: SQLModel, what: str) -> None:
    """Delete a row; the database's foreign keys decide whether anything still points at it."""
    await session.delete(item)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as error:
        raise InUse(f"{what} is still referenced and cannot be deleted") from error


def insert_for(session: AsyncSession, table: type[SQLModel]):
    """A Core INSERT (cacheable, no ORM bulk path) that knows ON CONFLICT DO NOTHING on both dialects;
    built once per dialect and table."""
    return dialect_insert(session.bind.dialect.name, table)


@cache
def dialect_insert(dialect: str, table: type[SQLModel]):
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table.__table__)


class DriverStatement:
    """A PostgreSQL statement compiled once for asyncpg, sent straight through the driver: no
    SQLAlchemy execution, parameter or result processing per call. Values go in as the driver
    takes them (aware datetimes, lists for arrays, JSON as text); rows come back as the driver's."""

    def __init__(self, clause: ClauseElement) -> None:
        # constants (``literal()``, never an expanding IN) stay parameters, with their values kept here
        compiled = clause.compile(dialect=asyncpg_dialect())
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.constants: dict[str, Any] = {k: v for k, v in compiled.params.items() if v is not None}

    def _args(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] if name in values else self.constants[name] for name in self.names]

    async def fetch(self, driver: asyncpg.Connection, values: dict[str, Any]) -> list[asyncpg.Record]:
        return await driver.fetch(self.sql, *self._args(values))

    async def fetchrow(self, driver: asyncpg.Connection, values: dict[str, Any]) -> asyncpg.Record | None:
        return await driver.fetchrow(self.sql, *self._args(values))
