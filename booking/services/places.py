"""Regions, organisations and venues: the published places of a district."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidParent
from booking.models import PARENT_LEVEL, Organisation, Region, RegionLevel, Venue
from booking.rules.permissions import Actor, Place, manages_organisation, manages_place
from booking.schemas.places import (
    OrganisationCreate,
    OrganisationUpdate,
    RegionCreate,
    RegionUpdate,
    VenueCreate,
    VenueUpdate,
)
from booking.services.common import PageRequest, apply_update, delete_unreferenced, get_or_404, page_of, require
from booking.services.guards import allow, require_admin_of


async def _check_region_parent(session: AsyncSession, level: RegionLevel, parent_id: int | None) -> None:
    expected = PARENT_LEVEL[RegionLevel(level)]
    if expected is None:
        if parent_id is not None:
            raise InvalidParent("a district has no parent region", field="parent_id")
        return
    if parent_id is None:
        raise InvalidParent(f"a {level} needs a parent {expected}", field="parent_id")
    parent = await get_or_404(session, Region, parent_id)
    if parent.level != expected:
        raise InvalidParent(f"a {level}'s parent must be a {expected}, not a {parent.level}", field="parent_id")


async def create_region(session: AsyncSession, actor: Actor, data: RegionCreate) -> Region:
    require_admin_of(actor, data.parent_id, "create a region there")
    await _check_region_parent(session, data.level, data.parent_id)
    region = Region.model_validate(data)
    session.add(region)
    await session.flush()
    return region


async def update_region(session: AsyncSession, actor: Actor, region_id: int, data: RegionUpdate) -> Region:
    region = await get_or_404(session, Region, region_id)
    require_admin_of(actor, region.id, "change this region")
    if "parent_id" in data.model_fields_set:
        require_admin_of(actor, data.parent_id, "move a region there")
        await _check_region_parent(session, region.level, data.parent_id)
    apply_update(region, data)
    await session.flush()
    return region


async def delete_region(session: AsyncSession, actor: Actor, region_id: int) -> None:
    region = await get_or_404(session, Region, region_id)
    require_admin_of(actor, region.id, "delete this region")
    await delete_unreferenced(session, region, "region")


async def list_regions(
    session: AsyncSession, page: PageRequest, *, parent_id: int | None, level: RegionLevel | None, name: str | None
) -> tuple[list[Region], int]:
    stmt = select(Region).order_by(Region.id)
    if parent_id is not None:
        stmt = stmt.where(Region.parent_id == parent_id)
    if level is not None:
        stmt = stmt.where(Region.level == level)
    if name:
        stmt = stmt.where(Region.name.contains(name, autoescape=True))
    return await page_of(session, stmt, page)


async def create_organisation(session: AsyncSession, actor: Actor, data: OrganisationCreate) -> Organisation:
    require_admin_of(actor, data.region_id, "register an organisation there")
    await require(session, Region, data.region_id)
    organisation = Organisation.model_validate(data)
    session.add(organisation)
    await session.flush()
    return organisation


async def update_organisation(
    session: AsyncSession, actor: Actor, organisation_id: int, data: OrganisationUpdate
) -> Organisation:
    organisation = await get_or_404(session, Organisation, organisation_id)
    allow(actor, manages_organisation(actor, organisation.id, organisation.region_id), "change this organisation")
    if "region_id" in data.model_fields_set:
        require_admin_of(actor, data.region_id, "move an organisation there")
    await require(session, Region, data.region_id)
    apply_update(organisation, data)
    await session.flush()
    return organisation


async def delete_organisation(session: AsyncSession, actor: Actor, organisation_id: int) -> None:
    organisation = await get_or_404(session, Organisation, organisation_id)
    require_admin_of(actor, organisation.region_id, "delete this organisation")
    await delete_unreferenced(session, organisation, "organisation")


async def list_organisations(
    session: AsyncSession, page: PageRequest, *, kind: str | None, region_id: int | None, name: str | None
) -> tuple[list[Organisation], int]:
    stmt = select(Organisation).order_by(Organisation.id)
    if kind is not None:
        stmt = stmt.where(Organisation.kind == kind)
    if region_id is not None:
        stmt = stmt.where(Organisation.region_id == region_id)
    if name:
        stmt = stmt.where(Organisation.name.contains(name, autoescape=True))
    return await page_of(session, stmt, page)


async def create_venue(session: AsyncSession, actor: Actor, data: VenueCreate) -> Venue:
    allow(actor, manages_place(actor, Place(data.region_id, data.owner_id)), "publish a venue for that owner there")
    await require(session, Region, data.region_id)
    await require(session, Organisation, data.owner_id)
    venue = Venue.model_validate(data)
    session.add(venue)
    await session.flush()
    return venue


async def update_venue(session: AsyncSession, actor: Actor, venue_id: int, data: VenueUpdate) -> Venue:
    venue = await get_or_404(session, Venue, venue_id)
    allow(actor, manages_place(actor, Place(venue.region_id, venue.owner_id)), "change this venue")
    moved = Place(data.region_id or venue.region_id, data.owner_id or venue.owner_id)
    allow(actor, manages_place(actor, moved), "hand this venue to that owner or region")
    await require(session, Region, data.region_id)
    await require(session, Organisation, data.owner_id)
    apply_update(venue, data)
    await session.flush()
    return venue


async def delete_venue(session: AsyncSession, actor: Actor, venue_id: int) -> None:
    venue = await get_or_404(session, Venue, venue_id)
    allow(actor, manages_place(actor, Place(venue.region_id, venue.owner_id)), "delete this venue")
    await delete_unreferenced(session, venue, "venue")


async def list_venues(
    session: AsyncSession,
    page: PageRequest,
    *,
    kind: str | None,
    region_id: int | None,
    owner_id: int | None,
    name: str | None,
) -> tuple[list[Venue], int]:
    stmt = select(Venue).order_by(Venue.id)
    if kind is not None:
        stmt = stmt.where(Venue.kind == kind)
    if region_id is not None:
        stmt = stmt.where(Venue.region_id.in_(select(region_subtree(region_id))))
    if owner_id is not None:
        stmt = stmt.where(Venue.owner_id == owner_id)
    if name:
        stmt = stmt.where(Venue.name.contains(name, autoescape=True))
    return await page_of(session, stmt, page)


def region_subtree(region_id: int):
    """A recursive CTE of the region and every region beneath it."""
    tree = select(Region.id).where(Region.id == region_id).cte("region_tree", recursive=True)
    return tree.union_all(select(Region.id).where(Region.parent_id == tree.c.id))
