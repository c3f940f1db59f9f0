"""Idempotency-Key: the first response to a create is stored with the key and replayed after.

The key row is claimed *before* the work, inside the same transaction. A concurrent request
with the same key waits on the key's primary key until the first commits, then replays its
response; if the first fails, its claim rolls back with it and the retry does the work.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import IdempotencyKeyInvalid, IdempotencyKeyReused
from booking.models import IdempotencyKey
from booking.services.common import insert_for

MAX_KEY_LENGTH = 200


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: Any
    replayed: bool


def fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def once(
    session: AsyncSession,
    *,
    scope: str,
    key: str | None,
    body: Any,
    now: datetime,
    produce: Callable[[], Awaitable[tuple[int, Any]]],
) -> StoredResponse:
    """Run ``produce`` at most once per (scope, key); without a key, just run it."""
    if key is None:
        status_code, response = await produce()
        return StoredResponse(status_code, response, replayed=False)
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid(f"Idempotency-Key must be 1–{MAX_KEY_LENGTH} printable ASCII characters")

    digest = fingerprint(body)
    claimed = await session.scalar(
        insert_for(session, IdempotencyKey)
        .values(scope=scope, key=key, fingerprint=digest, created_at=now)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    )
    if claimed is None:
        stored = await session.scalar(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )
        if stored.fingerprint != digest:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request body")
        return StoredResponse(stored.status_code, stored.response, replayed=True)

    status_code, response = await produce()
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .values(status_code=status_code, response=response)
    )
    return StoredResponse(status_code, response, replayed=False)
