"""Residents: their learner profile, the agents they name, and who may act for whom.

An ID number is never stored: a random salt per resident, the SHA-256 of salt and number (so the
same person can be recognised when they show the card again) and the last four digits for
people to read (PIPL art. 28).
"""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest, NotAResident, NotFound, UsernameTaken
from booking.models import Channel, Region, Resident, ResidentAgent, Role, RoleGrant, User
from booking.rules.permissions import Actor
from booking.schemas.enrolment import AgentPublic, CounterRegistration, ResidentProfile, ResidentPublic
from booking.services.guards import allow, require_signed_in

UNUSABLE_PASSWORD = "!"  # not an argon2 hash: nobody signs in with it until a password is set
_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Acting:
    """Who a request acts for, and through which channel."""

    resident: Resident
    channel: Channel
    actor_user_id: int | None


def _identity(resident: Resident, id_number: str | None) -> None:
    if id_number is None:
        return
    salt = secrets.token_hex(16)
    resident.id_salt = salt
    resident.id_hash = hashlib.sha256(f"{salt}{id_number}".encode()).hexdigest()
    resident.id_last4 = id_number[-4:]


async def _check_profile(session: AsyncSession, data: ResidentProfile) -> None:
    if await session.get(Region, data.home_region_id) is None:
        raise InvalidRequest(f"region {data.home_region_id} does not exist", field="home_region_id")


async def put_own_profile(session: AsyncSession, actor: Actor, data: ResidentProfile, *, now: datetime) -> Resident:
    """Create or replace the caller's own profile; only an account holding the resident role has one."""
    require_signed_in(actor)
    if not actor.resident or actor.user_id is None:
        raise NotAResident("only a resident account has a learner profile")
    await _check_profile(session, data)
    resident = await session.get(Resident, actor.user_id)
    if resident is None:
        resident = Resident(user_id=actor.user_id, public_id=str(uuid.uuid4()), created_at=now, **_fields(data))
        session.add(resident)
    else:
        for name, value in _fields(data).items():
            setattr(resident, name, value)
    _identity(resident, data.id_number)
    await session.flush()
    return resident


def _fields(data: ResidentProfile) -> dict:
    return data.model_dump(include={"display_name", "home_region_id", "birth_year", "phone"})


async def own_profile(session: AsyncSession, actor: Actor) -> Resident:
    require_signed_in(actor)
    resident = await session.get(Resident, actor.user_id) if actor.user_id is not None else None
    if resident is None:
        raise no_profile()
    return resident


def no_profile() -> NotAResident:
    return NotAResident("you have no resident profile: PUT /api/v1/me/resident first")


def counter_staff(actor: Actor) -> bool:
    """Counter staff: people who manage an organisation's affairs, or district administrators."""
    return bool(actor.managed) or actor.is_admin


async def resident_for(session: AsyncSession, actor: Actor, resident_public_id: str | None) -> Resident:
    """The caller's own profile, or the one of a resident they act for (as agent or at a counter)."""
    acting = await acting_for(session, actor, resident_public_id, counter=counter_staff(actor))
    return acting.resident


async def register_at_counter(
    session: AsyncSession, actor: Actor, data: CounterRegistration, *, now: datetime
) -> Resident:
    """An account and a profile made for a resident at an organisation's counter."""
    allow(actor, counter_staff(actor), "register residents")
    await _check_profile(session, data)
    if await session.scalar(select(User.id).where(User.username == data.username)) is not None:
        raise UsernameTaken(f"username {data.username!r} is taken", field="username")
    password = _hasher.hash(data.password) if data.password else UNUSABLE_PASSWORD
    user = User(
        username=data.username,
        password_hash=password,
        display_name=data.display_name,
        email=data.email,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    session.add(RoleGrant(user_id=user.id, role=Role.resident))
    resident = Resident(user_id=user.id, public_id=str(uuid.uuid4()), created_at=now, **_fields(data))
    _identity(resident, data.id_number)
    session.add(resident)
    await session.flush()
    return resident


def public(resident: Resident) -> ResidentPublic:
    return ResidentPublic.model_validate(resident, from_attributes=True)


async def add_agent(session: AsyncSession, actor: Actor, username: str, *, now: datetime) -> AgentPublic:
    resident = await own_profile(session, actor)
    agent = await session.scalar(select(User).where(User.username == username, User.is_active))
    if agent is None or agent.id == resident.user_id:
        raise InvalidRequest(f"no other active account is called {username!r}", field="username")
    existing = await session.get(ResidentAgent, (resident.user_id, agent.id))
    if existing is None:
        existing = ResidentAgent(resident_id=resident.user_id, agent_user_id=agent.id, created_at=now)
        session.add(existing)
        await session.flush()
    return AgentPublic(
        agent_user_id=agent.id, username=agent.username, display_name=agent.display_name, created_at=existing.created_at
    )


async def list_agents(session: AsyncSession, actor: Actor) -> list[AgentPublic]:
    resident = await own_profile(session, actor)
    rows = await session.execute(
        select(ResidentAgent.agent_user_id, User.username, User.display_name, ResidentAgent.created_at)
        .join(User, User.id == ResidentAgent.agent_user_id)
        .where(ResidentAgent.resident_id == resident.user_id)
        .order_by(ResidentAgent.created_at, ResidentAgent.agent_user_id)
    )
    return [AgentPublic(agent_user_id=a, username=u, display_name=d, created_at=c) for a, u, d, c in rows]


async def remove_agent(session: AsyncSession, actor: Actor, agent_user_id: int) -> None:
    resident = await own_profile(session, actor)
    removed = await session.execute(
        delete(ResidentAgent).where(
            ResidentAgent.resident_id == resident.user_id, ResidentAgent.agent_user_id == agent_user_id
        )
    )
    if removed.rowcount == 0:
        raise NotFound("agent", agent_user_id)


async def acting_for(session: AsyncSession, actor: Actor, resident_public_id: str | None, *, counter: bool) -> Acting:
    """The resident a request is for. Without ``resident_public_id``: the caller themself. With it:
    the caller must be an agent the resident named, or (``counter``) staff of the class's
    organisation. Anyone else gets 404, as if the resident did not exist."""
    require_signed_in(actor)
    if resident_public_id is None:
        return Acting(await own_profile(session, actor), Channel.self, actor.user_id)
    resident = await session.scalar(select(Resident).where(Resident.public_id == resident_public_id))
    if resident is None:
        raise NotFound("resident", resident_public_id)
    if resident.user_id == actor.user_id:
        return Acting(resident, Channel.self, actor.user_id)
    if actor.user_id is not None and await session.get(ResidentAgent, (resident.user_id, actor.user_id)):
        return Acting(resident, Channel.agent, actor.user_id)
    if counter:
        return Acting(resident, Channel.counter, actor.user_id)
    raise NotFound("resident", resident_public_id)
