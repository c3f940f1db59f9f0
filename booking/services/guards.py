"""Permission checks that need the database: look up a resource's facts, ask ``rules.permissions``.

A no becomes 401 for the anonymous where signing in could help, 403 where the actor may see the
resource but not do this to it, and 404 where even its existence is private.
"""

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import Forbidden, NotFound, Unauthorized
from booking.models import Booking, Organisation, Space, Venue
from booking.rules.permissions import Actor, BookingScope, Place, administers, manages_place

SIGN_IN = "sign in first: send Authorization: Bearer <token>"


def require_signed_in(actor: Actor) -> None:
    if not actor.signed_in:
        raise Unauthorized(SIGN_IN)


def allow(actor: Actor, allowed: bool, doing: str) -> None:
    """401 for the anonymous, 403 for a signed-in actor without the right."""
    if not allowed:
        require_signed_in(actor)
        raise Forbidden(f"you may not {doing}")


def require_admin_of(actor: Actor, region_id: int | None, doing: str) -> None:
    allow(actor, administers(actor, region_id), doing)


def managed_spaces(actor: Actor):
    """The ids of the spaces an actor manages, as a subquery (mirrors ``rules.permissions.manages_place``)."""
    return (
        select(Space.id)
        .join(Venue, Venue.id == Space.venue_id)
        .where(or_(Venue.owner_id.in_(actor.managed), Venue.region_id.in_(actor.admin_regions)))
    )


def administered_organisations(actor: Actor):
    """The ids of the organisations in the regions an actor administers, as a subquery."""
    return select(Organisation.id).where(Organisation.region_id.in_(actor.admin_regions))


async def venue_place(session: AsyncSession, venue_id: int) -> Place:
    row = (await session.execute(select(Venue.region_id, Venue.owner_id).where(Venue.id == venue_id))).first()
    if row is None:
        raise NotFound("venue", venue_id)
    return Place(*row)


async def space_place(session: AsyncSession, space_id: int) -> Place:
    row = (
        await session.execute(
            select(Venue.region_id, Venue.owner_id).join(Space, Space.venue_id == Venue.id).where(Space.id == space_id)
        )
    ).first()
    if row is None:
        raise NotFound("space", space_id)
    return Place(*row)


async def require_venue_manager(session: AsyncSession, actor: Actor, venue_id: int, doing: str) -> Place:
    place = await venue_place(session, venue_id)
    allow(actor, manages_place(actor, place), doing)
    return place


async def require_space_manager(session: AsyncSession, actor: Actor, space_id: int, doing: str) -> Place:
    place = await space_place(session, space_id)
    allow(actor, manages_place(actor, place), doing)
    return place


async def organisation_region(session: AsyncSession, organisation_id: int) -> int | None:
    """The organisation's region (404 if there is no such organisation)."""
    row = (await session.execute(select(Organisation.region_id).where(Organisation.id == organisation_id))).first()
    if row is None:
        raise NotFound("organisation", organisation_id)
    return row[0]


async def booking_scope(session: AsyncSession, booking: Booking) -> BookingScope:
    row = (
        await session.execute(
            select(Organisation.region_id, Venue.region_id, Venue.owner_id)
            .select_from(Space)
            .join(Venue, Venue.id == Space.venue_id)
            .join(Organisation, Organisation.id == booking.organisation_id)
            .where(Space.id == booking.space_id)
        )
    ).one()
    return BookingScope(booking.organisation_id, row[0], Place(row[1], row[2]))
