"""The district's learning map: towns and communities with their venues and how many listed
classes each venue holds; ranked by distance when the visitor shares a position."""

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from booking.models import Booking, Region, RegionLevel, Space, Venue
from booking.services.availability import venue_distance_m
from booking.services.catalogue import _committed_series

Point = tuple[float, float]


@dataclass(slots=True)
class MapVenue:
    id: int
    name: str
    kind: str
    address: str
    latitude: float | None
    longitude: float | None
    classes: int
    distance_km: float | None = None


@dataclass(slots=True)
class Area:
    """A town or a community (or the district, for venues placed there directly)."""

    id: int
    name: str
    venues: list[MapVenue] = field(default_factory=list)
    areas: list["Area"] = field(default_factory=list)


@dataclass(slots=True)
class LearningMap:
    towns: list[Area]
    venues: list[MapVenue]  # every venue, nearest first with a position, else by name


async def learning_map(session: AsyncSession, near: Point | None = None) -> LearningMap:
    counts = await _class_counts(session)
    parent = aliased(Region)
    rows = (
        await session.execute(
            select(Venue, Region.id, Region.name, Region.level, parent.id, parent.name)
            .join(Region, Region.id == Venue.region_id)
            .outerjoin(parent, parent.id == Region.parent_id)
            .order_by(Venue.name, Venue.id)
        )
    ).all()
    towns: dict[int, Area] = {}
    communities: dict[int, Area] = {}
    venues: list[MapVenue] = []
    for venue, region_id, region_name, level, parent_id, parent_name in rows:
        distance = venue_distance_m(near, venue)
        shown = MapVenue(
            id=venue.id,
            name=venue.name,
            kind=venue.kind,
            address=venue.address,
            latitude=venue.latitude,
            longitude=venue.longitude,
            classes=counts.get(venue.id, 0),
            distance_km=None if distance is None else round(distance / 1000, 1),
        )
        venues.append(shown)
        if level == RegionLevel.community:
            town = towns.setdefault(parent_id or 0, Area(parent_id or 0, parent_name or ""))
            if region_id not in communities:
                communities[region_id] = Area(region_id, region_name)
                town.areas.append(communities[region_id])
            communities[region_id].venues.append(shown)
        else:
            towns.setdefault(region_id, Area(region_id, region_name)).venues.append(shown)
    if near is not None:
        venues.sort(key=lambda v: (v.distance_km is None, v.distance_km or 0.0, v.name))
    return LearningMap(towns=sorted(towns.values(), key=lambda t: t.name), venues=venues)


async def _class_counts(session: AsyncSession) -> dict[int, int]:
    listed = (
        _committed_series()
        .add_columns(Space.venue_id.label("venue_id"))
        .join(Space, Space.id == Booking.space_id)
        .subquery()
    )
    rows = await session.execute(
        select(listed.c.venue_id, func.count(func.distinct(listed.c.class_id))).group_by(listed.c.venue_id)
    )
    return dict(rows.all())
