"""Engine and transactions: one transaction per request, opened here, committed or rolled back here."""

import asyncio
from pathlib import Path

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, echo=echo)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, pool_size=5, max_overflow=10)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Foreign keys on, WAL, and write transactions that take the write lock at BEGIN, in turn.

    BEGIN IMMEDIATE serialises writers up front, so two requests never both read and then
    deadlock on the upgrade to a write lock; readers (BEGIN DEFERRED) keep running under WAL.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    # Writers of this process take turns here, first come first served, before BEGIN IMMEDIATE:
    # waiting in SQLite's own busy handler instead means polling with sleeps of up to 100 ms, in
    # no order, and a few writers at once then wait hundreds of milliseconds for a free lock.
    write_turn = asyncio.Lock()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE":
            await_only(asyncio.wait_for(write_turn.acquire(), SQLITE_BUSY_TIMEOUT_MS / 1000))
            connection.info["write_turn"] = True
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            end_turn(connection.info)
            raise

    def end_turn(info: dict) -> None:
        if info.pop("write_turn", False):
            write_turn.release()

    for ending in ("commit", "rollback"):
        event.listen(engine.sync_engine, ending, lambda connection: end_turn(connection.info))
    event.listen(engine.sync_engine.pool, "checkin", lambda _dbapi, record: end_turn(record.info))


def sessionmakers(engine: AsyncEngine) -> tuple[async_sessionmaker[AsyncSession], async_sessionmaker[AsyncSession]]:
    """(for writes, for reads). They differ only on SQLite, where reads begin DEFERRED."""
    writes = async_sessionmaker(engine, expire_on_commit=False)
    reads = async_sessionmaker(engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)
    return writes, reads


async def driver_pool(url: str, *, size: int) -> asyncpg.Pool | None:
    """On PostgreSQL, plain driver connections for paths whose every write is one statement and
    that never open a transaction (booking requests); None on SQLite.

    A released connection is not reset: such a path leaves nothing on it (no transaction, no
    session settings, no advisory locks, no LISTEN), which spares a round trip per request.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return None
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    # min_size=0: connections open on first use, so the process starts while the database is down
    return await asyncpg.create_pool(dsn, min_size=0, max_size=size, reset=_leave_as_is)


async def _leave_as_is(_connection: asyncpg.Connection) -> None:
    pass


# Errors that mean the database itself went away (restarting, shut down, unreachable), not that a
# statement was wrong: the request is answered 503 and the next one tries again on a new connection.
_UNAVAILABLE = (
    OSError,  # refused, reset, timed out
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,  # closed under us
    asyncpg.ConnectionFailureError,
)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it, however SQLAlchemy or the driver wrapped it) says the
    database cannot be reached, rather than that a statement failed."""
    return any(
        isinstance(cause, _UNAVAILABLE) or getattr(cause, "connection_invalidated", False) for cause in _chain(error)
    )


def value_out_of_range(error: BaseException) -> bool:
    """Whether a value sent with a statement was beyond what its column type holds (a number past
    64 bits for SQLite, past the column's integer size for PostgreSQL): bad input, not a fault."""
    return any(isinstance(cause, OverflowError | asyncpg.DataError) for cause in _chain(error))


def _chain(error: BaseException) -> list[BaseException]:
    """The error and what caused it, however SQLAlchemy or the driver wrapped it."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
