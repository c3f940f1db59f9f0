"""Spaces of a venue, including divisible ones (a hall made of courts)."""

from collections import defaultdict

from sqlalchemy import insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InUse, InvalidParent
from booking.models import BookingState, Occurrence, Space, SpaceTree, Venue
from booking.rules.permissions import Actor
from booking.schemas.places import SpaceCreate, SpacePublic, SpaceUpdate
from booking.services.common import PageRequest, apply_update, delete_unreferenced, get_or_404, page_of
from booking.services.guards import require_space_manager, require_venue_manager

LIVE_STATES = (BookingState.pending.value, BookingState.confirmed.value)


async def _check_space_parent(session: AsyncSession, venue_id: int, parent_id: int) -> None:
    parent = await get_or_404(session, Space, parent_id)
    if parent.venue_id != venue_id:
        raise InvalidParent("a space's parent must belong to the same venue", field="parent_id")
    # Occurrences live on leaves only: a leaf with bookings cannot become a parent.
    held = await session.scalar(
        select(Occurrence.id).where(Occurrence.space_id == parent_id, Occurrence.state.in_(LIVE_STATES)).limit(1)
    )
    if held is not None:
        raise InUse("the parent space has bookings of its own; cancel them before dividing it")


async def create_space(session: AsyncSession, actor: Actor, venue_id: int, data: SpaceCreate) -> SpacePublic:
    await require_venue_manager(session, actor, venue_id, "add spaces to this venue")
    if data.parent_id is not None:
        await _check_space_parent(session, venue_id, data.parent_id)
    space = Space.model_validate(data, update={"venue_id": venue_id})
    session.add(space)
    await session.flush()
    # The space is its own ancestor at depth 0, and one level below each of its parent's.
    above = select(SpaceTree.ancestor_id, literal(space.id), SpaceTree.depth + 1).where(
        SpaceTree.descendant_id == space.parent_id
    )
    await session.execute(
        insert(SpaceTree).from_select(
            ["ancestor_id", "descendant_id", "depth"],
            above.union_all(select(literal(space.id), literal(space.id), literal(0))),
        )
    )
    return SpacePublic.model_validate(space)


async def update_space(session: AsyncSession, actor: Actor, space_id: int, data: SpaceUpdate) -> SpacePublic:
    await require_space_manager(session, actor, space_id, "change this space")
    space = await get_or_404(session, Space, space_id)
    apply_update(space, data)
    await session.flush()
    return (await with_children(session, [space]))[0]


async def delete_space(session: AsyncSession, actor: Actor, space_id: int) -> None:
    await require_space_manager(session, actor, space_id, "delete this space")
    await delete_unreferenced(session, await get_or_404(session, Space, space_id), "space")


async def get_space(session: AsyncSession, space_id: int) -> SpacePublic:
    return (await with_children(session, [await get_or_404(session, Space, space_id)]))[0]


async def list_spaces(
    session: AsyncSession,
    page: PageRequest,
    *,
    venue_id: int,
    kind: str | None,
    min_capacity: int | None,
) -> tuple[list[SpacePublic], int]:
    await get_or_404(session, Venue, venue_id)
    stmt = select(Space).where(Space.venue_id == venue_id).order_by(Space.id)
    if kind is not None:
        stmt = stmt.where(Space.kind == kind)
    if min_capacity is not None:
        stmt = stmt.where(Space.capacity >= min_capacity)
    spaces, total = await page_of(session, stmt, page)
    return await with_children(session, spaces), total


async def with_children(session: AsyncSession, spaces: list[Space]) -> list[SpacePublic]:
    ids = [space.id for space in spaces]
    children: dict[int, list[int]] = defaultdict(list)
    rows = await session.execute(select(Space.parent_id, Space.id).where(Space.parent_id.in_(ids)).order_by(Space.id))
    for parent_id, child_id in rows:
        children[parent_id].append(child_id)
    return [SpacePublic.model_validate(space, update={"child_ids": children[space.id]}) for space in spaces]
