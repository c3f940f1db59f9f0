"""Managing accounts through the API: who may make whom what.

District administrators give roles within their region subtree; an organisation's staff give
their organisation's roles (venue manager, organiser, teacher). An account is visible to
whoever could have given one of its grants, and to nobody else (404).
"""

from datetime import datetime

from sqlalchemy import delete, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import NotFound
from booking.models import Organisation, Region, RoleGrant, User
from booking.rules.permissions import Actor, may_grant, sees_user
from booking.schemas.accounts import GrantCreate, UserCreate, UserPublic
from booking.services.accounts import create_user, user_public
from booking.services.common import PageRequest, page_of, require
from booking.services.guards import administered_organisations, allow, organisation_region, require_signed_in


async def _require_may_grant(session: AsyncSession, actor: Actor, grant: GrantCreate) -> None:
    require_signed_in(actor)
    region = await organisation_region(session, grant.organisation_id) if grant.organisation_id else None
    await require(session, Region, grant.region_id)
    allowed = may_grant(actor, grant.role, grant.organisation_id, region, grant.region_id)
    allow(actor, allowed, f"give the {grant.role} role there")


async def register_user(session: AsyncSession, actor: Actor, data: UserCreate, *, now: datetime) -> UserPublic:
    await _require_may_grant(session, actor, data)
    return await create_user(session, data, now=now)


async def user_for(session: AsyncSession, actor: Actor, user_id: int) -> User:
    require_signed_in(actor)
    user = await session.get(User, user_id)
    if user is None or not sees_user(actor, await _grant_scopes(session, user_id)):
        raise NotFound("user", user_id)
    return user


async def _grant_scopes(session: AsyncSession, user_id: int) -> list[tuple[int | None, int | None, int | None]]:
    rows = await session.execute(
        select(RoleGrant.organisation_id, Organisation.region_id, RoleGrant.region_id)
        .outerjoin(Organisation, Organisation.id == RoleGrant.organisation_id)
        .where(RoleGrant.user_id == user_id)
    )
    return [tuple(row) for row in rows]


async def add_grant(session: AsyncSession, actor: Actor, user_id: int, grant: GrantCreate) -> UserPublic:
    user = await user_for(session, actor, user_id)
    await _require_may_grant(session, actor, grant)
    same = await session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.user_id == user_id,
            RoleGrant.role == grant.role,
            RoleGrant.organisation_id.is_(None)
            if grant.organisation_id is None
            else RoleGrant.organisation_id == grant.organisation_id,
            RoleGrant.region_id.is_(None) if grant.region_id is None else RoleGrant.region_id == grant.region_id,
        )
    )
    if same is None:  # giving a role twice changes nothing
        session.add(RoleGrant(user_id=user_id, **grant.model_dump()))
        await session.flush()
    return await user_public(session, user)


async def remove_grant(session: AsyncSession, actor: Actor, user_id: int, grant_id: int) -> UserPublic:
    user = await user_for(session, actor, user_id)
    grant = await session.get(RoleGrant, grant_id)
    if grant is None or grant.user_id != user_id:
        raise NotFound("grant", grant_id)
    await _require_may_grant(session, actor, GrantCreate.model_validate(grant, from_attributes=True))
    await session.execute(delete(RoleGrant).where(RoleGrant.id == grant_id))
    await session.flush()
    return await user_public(session, user)


def _visible_to(actor: Actor):
    """Mirrors ``rules.permissions.sees_user`` in SQL."""
    if actor.everywhere:
        return true()
    if not (actor.managed or actor.admin_regions):
        return false()
    return exists().where(
        RoleGrant.user_id == User.id,
        or_(
            RoleGrant.organisation_id.in_(actor.managed),
            RoleGrant.organisation_id.in_(administered_organisations(actor)),
            RoleGrant.organisation_id.is_(None) & RoleGrant.region_id.in_(actor.admin_regions),
        ),
    )


async def list_users(session: AsyncSession, actor: Actor, page: PageRequest) -> tuple[list[UserPublic], int]:
    require_signed_in(actor)
    users, total = await page_of(session, select(User).where(_visible_to(actor)).order_by(User.id), page)
    return [await user_public(session, user) for user in users], total
