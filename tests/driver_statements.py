"""Counting what the database driver sends, for tests that pin a path's round trips."""

import contextlib
import contextvars
from collections.abc import Iterator

import asyncpg

_sent: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("sent", default=None)


@contextlib.contextmanager
def statements(monkeypatch) -> Iterator[list[str]]:
    """The first word of every statement the driver sends for requests made in this task (the
    app's background jobs run in tasks of their own and are not counted)."""
    for name in ("execute", "fetch", "fetchrow", "fetchval", "prepare"):
        original = getattr(asyncpg.Connection, name)
        if not getattr(original, "counts_statements", False):  # once per test, however many blocks
            monkeypatch.setattr(asyncpg.Connection, name, _counted(original))
    sent: list[str] = []
    token = _sent.set(sent)
    try:
        yield sent
    finally:
        _sent.reset(token)


def _counted(method):
    async def counted(self, query, *args, **kwargs):
        if (sent := _sent.get()) is not None:
            sent.append(query.split()[0].rstrip(";").upper())
        return await method(self, query, *args, **kwargs)

    counted.counts_statements = True
    return counted
