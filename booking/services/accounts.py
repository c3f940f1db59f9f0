"""Accounts: creating users, signing in, and bearer tokens (session and long-lived API tokens).

Passwords are hashed with argon2. A token is random; only its SHA-256 is stored, so a stolen
database gives no usable tokens, and a tampered, unknown, expired or revoked token is simply
not found. Repeated failed sign-ins lock the account for a doubling while.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import NotFound, TooManyAttempts, Unauthorized, UsernameTaken, VenueshareError
from booking.models import ApiToken, Organisation, Region, Role, RoleGrant, TokenKind, User
from booking.models.base import UTCDateTime
from booking.rules.permissions import Actor
from booking.schemas.accounts import (
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenPublic,
    GrantPublic,
    ProfileUpdate,
    UserCreate,
    UserPublic,
)
from booking.services.common import apply_update, require

SESSION_LIFETIME = timedelta(hours=12)
FREE_FAILURES = 5  # failed sign-ins before the account is locked for a while
MAX_LOCK = timedelta(minutes=15)
TOKEN_PREFIX = "vs_"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
SIGN_IN_FAILED = "wrong username or password"
INVALID_TOKEN = "the token is not valid (unknown, expired or revoked)"


async def create_user(session: AsyncSession, data: UserCreate, *, now: datetime) -> UserPublic:
    if await session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise UsernameTaken(f"username {data.username!r} is taken", field="username")
    await require(session, Organisation, data.organisation_id)
    await require(session, Region, data.region_id)
    user = User(
        username=data.username,
        password_hash=_hasher.hash(data.password),
        display_name=data.display_name,
        email=data.email,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    session.add(
        RoleGrant(user_id=user.id, role=data.role, organisation_id=data.organisation_id, region_id=data.region_id)
    )
    await session.flush()
    return await user_public(session, user)


async def user_public(session: AsyncSession, user: User) -> UserPublic:
    grants = await session.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id).order_by(RoleGrant.id))
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        grants=[GrantPublic.model_validate(grant) for grant in grants],
    )


async def update_profile(session: AsyncSession, user: User, data: ProfileUpdate) -> UserPublic:
    """Change one's own name or mail address (``email: null`` removes the address: no more mail)."""
    apply_update(user, data)
    await session.flush()
    return await user_public(session, user)


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """A sign-in either issues a token or fails; a failure is returned, not raised, so the
    failure count it records is committed with the request."""

    token: str | None = None
    expires_at: datetime | None = None
    error: VenueshareError | None = None


async def sign_in(session: AsyncSession, username: str, password: str, *, now: datetime) -> SignInOutcome:
    user = await session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None or not user.is_active:
        _verify(_DUMMY_HASH, password)
        return SignInOutcome(error=Unauthorized(SIGN_IN_FAILED))
    if user.locked_until is not None and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds()) + 1
        return SignInOutcome(error=TooManyAttempts("too many failed sign-ins; try again later", retry_after_s=wait))
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= FREE_FAILURES:
            user.locked_until = now + min(timedelta(seconds=2 ** (user.failed_logins - FREE_FAILURES)), MAX_LOCK)
        await session.flush()
        return SignInOutcome(error=Unauthorized(SIGN_IN_FAILED))
    user.failed_logins, user.locked_until = 0, None
    token, row = _new_token(user.id, TokenKind.session, "sign-in", now, now + SESSION_LIFETIME)
    session.add(row)
    await session.flush()
    return SignInOutcome(token=token, expires_at=row.expires_at)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(user_id: int, kind: TokenKind, name: str, now: datetime, expires_at: datetime | None):
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user_id, name=name, kind=kind, token_hash=digest(token), created_at=now, expires_at=expires_at
    )
    return token, row


async def user_for_token(session: AsyncSession, token: str, *, now: datetime) -> User:
    """The user a bearer token belongs to; 401 for anything unknown, expired or revoked."""
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
    if (
        row is None
        or row.kind == TokenKind.feed
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise Unauthorized(INVALID_TOKEN)
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise Unauthorized(INVALID_TOKEN)
    return user


async def create_api_token(
    session: AsyncSession, user: User, data: ApiTokenCreate, *, now: datetime
) -> ApiTokenCreated:
    expires_at = now + timedelta(days=data.expires_in_days) if data.expires_in_days else None
    token, row = _new_token(user.id, TokenKind.api, data.name, now, expires_at)
    session.add(row)
    await session.flush()
    return ApiTokenCreated(**ApiTokenPublic.model_validate(row).model_dump(), access_token=token)


async def list_tokens(session: AsyncSession, user: User) -> list[ApiTokenPublic]:
    rows = await session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    return [ApiTokenPublic.model_validate(row) for row in rows]


async def revoke_token(session: AsyncSession, user: User, token_id: int, *, now: datetime) -> ApiTokenPublic:
    row = await session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:  # another user's token does not exist for you
        raise NotFound("token", token_id)
    if row.revoked_at is None:
        row.revoked_at = now
        await session.flush()
    return ApiTokenPublic.model_validate(row)


_TOKENS, _USERS, _GRANTS = ApiToken.__table__.c, User.__table__.c, RoleGrant.__table__.c
# Core columns, built once: the ORM's per-execution machinery is a large part of a request's CPU.
_ACTOR = (
    select(_USERS.id, _GRANTS.role, _GRANTS.organisation_id, _GRANTS.region_id)
    .select_from(ApiToken.__table__)
    .join(User.__table__, _USERS.id == _TOKENS.user_id)
    .outerjoin(RoleGrant.__table__, _GRANTS.user_id == _USERS.id)
    .where(
        _TOKENS.token_hash == bindparam("token_hash"),
        _TOKENS.kind != TokenKind.feed,
        _TOKENS.revoked_at.is_(None),
        or_(_TOKENS.expires_at.is_(None), _TOKENS.expires_at > bindparam("now", type_=UTCDateTime)),
        _USERS.is_active,
    )
)


async def actor_for_token(session: AsyncSession, token: str, *, now: datetime) -> Actor:
    """What a bearer token acts as: its user with every grant, region grants expanded to subtrees.
    One query on every request (two for a regional administrator); 401 as ``user_for_token``."""
    rows = (await session.execute(_ACTOR, {"token_hash": digest(token), "now": now})).all()
    if not rows:
        raise Unauthorized(INVALID_TOKEN)
    grants = [tuple(row[1:]) for row in rows if row[1] is not None]
    roots = administered_roots(grants)
    return actor_from(rows[0][0], grants, await subtree(session, roots) if roots else frozenset())


def administered_roots(grants: list[tuple[str, int | None, int | None]]) -> set[int]:
    """The regions a regional district administrator's grants name (none for the whole district's)."""
    if any(role == Role.district_admin and region_id is None for role, _, region_id in grants):
        return set()
    return {region_id for role, _, region_id in grants if role == Role.district_admin and region_id is not None}


def actor_from(user_id: int, grants: list[tuple[str, int | None, int | None]], regions: frozenset[int]) -> Actor:
    """The actor of a user with (role, organisation, region) ``grants``; ``regions`` are the
    subtrees of ``administered_roots(grants)``."""
    organisations: dict[Role, set[int]] = {role: set() for role in Role}
    for role, organisation_id, _ in grants:
        if role != Role.district_admin and organisation_id is not None:
            organisations[Role(role)].add(organisation_id)
    return Actor(
        user_id=user_id,
        everywhere=any(role == Role.district_admin and region_id is None for role, _, region_id in grants),
        admin_regions=regions,
        managed=frozenset(organisations[Role.venue_manager]),
        member_of=frozenset(organisations[Role.organiser]),
        teaches_for=frozenset(organisations[Role.teacher]),
        resident=any(role == Role.resident for role, _, _ in grants),
    )


async def subtree(session: AsyncSession, roots: set[int]) -> frozenset[int]:
    """The regions under (and including) the given ones."""
    base = select(Region.id).where(Region.id.in_(roots)).cte("tree", recursive=True)
    tree = base.union_all(select(Region.id).where(Region.parent_id == base.c.id))
    return frozenset(await session.scalars(select(tree.c.id)))


async def issue_feed_token(session: AsyncSession, user_id: int, *, now: datetime) -> str:
    """A new key for the person's private feed; the previous one stops working."""
    await revoke_private_feed(session, user_id, now=now)
    token, row = _new_token(user_id, TokenKind.feed, "private calendar feed", now, None)
    session.add(row)
    await session.flush()
    return token


async def sign_out(session: AsyncSession, token: str, *, now: datetime) -> None:
    """End a sign-in session (a page's cookie): its token stops working at once."""
    await session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == digest(token), ApiToken.kind == TokenKind.session, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def private_feed(session: AsyncSession, user_id: int) -> ApiTokenPublic | None:
    """The person's live private-feed key (its secret is not kept: only when it was issued)."""
    row = await session.scalar(
        select(ApiToken).where(
            ApiToken.user_id == user_id, ApiToken.kind == TokenKind.feed, ApiToken.revoked_at.is_(None)
        )
    )
    return None if row is None else ApiTokenPublic.model_validate(row)


async def revoke_private_feed(session: AsyncSession, user_id: int, *, now: datetime) -> None:
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.kind == TokenKind.feed, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
