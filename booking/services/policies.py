"""Booking policies: load the layers that apply to a space, read and replace a holder's own rules,
and find the sessions an organisation's quotas count."""

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import bindparam, delete, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest
from booking.models import RULE_FIELDS, Booking, BookingState, Occurrence, Organisation, Policy, Space, SpaceTree, Venue
from booking.models.base import UTCDateTime
from booking.rules.permissions import Actor
from booking.rules.policies import EffectivePolicy, Span
from booking.schemas.common import MAX_BUFFER
from booking.schemas.policies import EffectiveRules, PolicyPublic, PolicyRules
from booking.services.common import DriverStatement, get_or_404, insert_for
from booking.services.guards import require_space_manager, require_venue_manager

# Sessions that count against a quota: asked for, held, or held and done.
COUNTED_STATES: tuple[str, ...] = tuple(
    state.value for state in (BookingState.pending, BookingState.confirmed, BookingState.completed)
)

_RULE_COLUMNS = [getattr(Policy, name) for name in RULE_FIELDS]


async def _rule_rows(session: AsyncSession, stmt) -> list[dict]:
    return [dict(row._mapping) for row in await session.execute(stmt)]


_POLICIES, _TREE = Policy.__table__.c, SpaceTree.__table__.c
# Built once: the policy rows over a space, nearest first (its own, the spaces it is part of, its
# venue's row, which has no depth, last).
_LAYERS = (
    select(_POLICIES.space_id, *(_POLICIES[name] for name in RULE_FIELDS))
    .outerjoin(
        SpaceTree.__table__,
        (_TREE.ancestor_id == _POLICIES.space_id) & (_TREE.descendant_id == bindparam("space_id")),
    )
    .where(_TREE.descendant_id.is_not(None) | (_POLICIES.venue_id == bindparam("venue_id")))
    .order_by(_TREE.depth.is_(None), _TREE.depth)
)


async def _layers(session: AsyncSession, space_id: int, venue_id: int) -> list[dict]:
    """The policy rows over a space, nearest first: its own, the spaces it is part of, its venue's."""
    return [
        dict(row) for row in (await session.execute(_LAYERS, {"space_id": space_id, "venue_id": venue_id})).mappings()
    ]


async def policy_for(session: AsyncSession, space_id: int, venue_id: int) -> EffectivePolicy:
    """The rules that apply to booking the space, in one query."""
    return EffectivePolicy.merged(await _layers(session, space_id, venue_id))


async def _venue_layers(session: AsyncSession, venue_id: int) -> list[dict]:
    return await _rule_rows(session, select(Policy.space_id, *_RULE_COLUMNS).where(Policy.venue_id == venue_id))


def _public(holder: str, holder_id: int, own: dict | None, layers: list[dict]) -> PolicyPublic:
    effective = asdict(EffectivePolicy.merged(layers))
    return PolicyPublic(
        holder=holder,
        holder_id=holder_id,
        own=PolicyRules.model_validate({name: (own or {}).get(name) for name in RULE_FIELDS}),
        effective=EffectiveRules.model_validate(effective),
    )


async def get_policy(
    session: AsyncSession, *, venue_id: int | None = None, space_id: int | None = None
) -> PolicyPublic:
    """A venue's or a space's own rules and those that apply. Public: anyone may read the rules."""
    if space_id is not None:
        space = await get_or_404(session, Space, space_id)
        layers = await _layers(session, space_id, space.venue_id)
        own = next((layer for layer in layers if layer["space_id"] == space_id), None)
        return _public("space", space_id, own, layers)
    await get_or_404(session, Venue, venue_id)
    layers = await _venue_layers(session, venue_id)
    return _public("venue", venue_id, layers[0] if layers else None, layers)


async def put_policy(
    session: AsyncSession,
    actor: Actor,
    *,
    venue_id: int | None = None,
    space_id: int | None = None,
    rules: PolicyRules,
) -> PolicyPublic:
    """Replace the holder's own rules wholesale; with every rule unset the holder inherits everything."""
    if space_id is not None:
        await require_space_manager(session, actor, space_id, "set this space's booking policy")
        holder, holder_id = Policy.space_id, space_id
    else:
        await require_venue_manager(session, actor, venue_id, "set this venue's booking policy")
        holder, holder_id = Policy.venue_id, venue_id
    await _require_organisations(session, rules.allowed_organisation_ids or [])
    values = rules.model_dump(include=set(RULE_FIELDS))
    if all(value is None for value in values.values()):
        await session.execute(delete(Policy).where(holder == holder_id))
    else:
        await _upsert(session, {"venue_id": venue_id, "space_id": space_id, **values}, holder)
    await session.flush()
    return await get_policy(session, venue_id=venue_id, space_id=space_id)


async def _upsert(session: AsyncSession, row: dict, holder) -> None:
    """Insert or update in one statement, so two managers saving at once cannot collide on the unique holder."""
    stmt = insert_for(session, Policy).values(**row)
    changes = {name: stmt.excluded[name] for name in RULE_FIELDS}
    await session.execute(stmt.on_conflict_do_update(index_elements=[holder.name], set_=changes))


async def _require_organisations(session: AsyncSession, organisation_ids: list[int]) -> None:
    if not organisation_ids:
        return
    known = set(await session.scalars(select(Organisation.id).where(Organisation.id.in_(organisation_ids))))
    unknown = [organisation_id for organisation_id in organisation_ids if organisation_id not in known]
    if unknown:
        raise InvalidRequest(f"no such organisation: {', '.join(map(str, unknown))}", field="allowed_organisation_ids")


_OCCURRENCES, _BOOKINGS = Occurrence.__table__.c, Booking.__table__.c
# A divisible space holds one occurrence per leaf for each session; grouping by the session's
# identity (booking, original start) counts it once. The occurrences are looked up on the space's
# own leaves by their blocked time (an index), never through all of the organisation's bookings:
# the cost follows the sessions in the window, not the venue's history.
_SESSIONS = (
    select(func.min(_OCCURRENCES.starts_at), func.max(_OCCURRENCES.ends_at))
    .join(Booking.__table__, _BOOKINGS.id == _OCCURRENCES.booking_id)
    .where(
        _OCCURRENCES.space_id.in_(select(_TREE.descendant_id).where(_TREE.ancestor_id == bindparam("space_id"))),
        _OCCURRENCES.blocked_start_at >= bindparam("blocked_from", type_=UTCDateTime),
        _OCCURRENCES.blocked_start_at < bindparam("end", type_=UTCDateTime),
        _BOOKINGS.space_id == bindparam("space_id"),
        _BOOKINGS.organisation_id == bindparam("organisation_id"),
        _OCCURRENCES.state.in_([literal(state) for state in COUNTED_STATES]),
        _OCCURRENCES.starts_at >= bindparam("start", type_=UTCDateTime),
        _OCCURRENCES.starts_at < bindparam("end", type_=UTCDateTime),
    )
    .group_by(_OCCURRENCES.booking_id, _OCCURRENCES.original_starts_at)
    .order_by(func.min(_OCCURRENCES.starts_at))
)
SESSIONS_FOR_DRIVER = DriverStatement(_SESSIONS)


def sessions_window(*, space_id: int, organisation_id: int, start: datetime, end: datetime) -> dict:
    """The values of ``_SESSIONS``: a session starting at ``start`` is blocked from at most a buffer before."""
    return {
        "space_id": space_id,
        "organisation_id": organisation_id,
        "start": start,
        "end": end,
        "blocked_from": start - MAX_BUFFER,
    }


async def organisation_sessions(session: AsyncSession, **window) -> list[Span]:
    """The organisation's live sessions booked for the space that start in [start, end), for quotas
    (keywords as ``sessions_window``)."""
    return [(starts_at, ends_at) for starts_at, ends_at in await session.execute(_SESSIONS, sessions_window(**window))]
