"""Regions, organisations, venues and spaces."""

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from booking.api.deps import Caller, PageParams, Session
from booking.models import (
    Organisation,
    OrganisationKind,
    Region,
    RegionLevel,
    SpaceKind,
    Venue,
    VenueKind,
)
from booking.schemas.common import Page
from booking.schemas.places import (
    OrganisationCreate,
    OrganisationPublic,
    OrganisationUpdate,
    RegionCreate,
    RegionPublic,
    RegionUpdate,
    SpaceCreate,
    SpacePublic,
    SpaceUpdate,
    VenueCreate,
    VenuePublic,
    VenueUpdate,
)
from booking.services import places, spaces
from booking.services.common import get_or_404


def _page(items, total: int, page: PageParams, schema) -> Page:
    return Page(
        items=[schema.model_validate(item) for item in items], total=total, limit=page.limit, offset=page.offset
    )


class RegionController(Controller):
    path = "/regions"
    tags = ["regions"]

    @get("/")
    async def list_regions(
        self,
        session: Session,
        page: PageParams,
        parent_id: FromQuery[int | None] = None,
        level: FromQuery[RegionLevel | None] = None,
        name: FromQuery[str | None] = None,
    ) -> Page[RegionPublic]:
        items, total = await places.list_regions(session, page, parent_id=parent_id, level=level, name=name)
        return _page(items, total, page, RegionPublic)

    @post("/")
    async def create_region(self, session: Session, actor: Caller, data: JSONBody[RegionCreate]) -> RegionPublic:
        return RegionPublic.model_validate(await places.create_region(session, actor, data))

    @get("/{region_id:int}")
    async def get_region(self, session: Session, region_id: FromPath[int]) -> RegionPublic:
        return RegionPublic.model_validate(await get_or_404(session, Region, region_id))

    @patch("/{region_id:int}")
    async def update_region(
        self, session: Session, actor: Caller, region_id: FromPath[int], data: JSONBody[RegionUpdate]
    ) -> RegionPublic:
        return RegionPublic.model_validate(await places.update_region(session, actor, region_id, data))

    @delete("/{region_id:int}")
    async def delete_region(self, session: Session, actor: Caller, region_id: FromPath[int]) -> None:
        await places.delete_region(session, actor, region_id)


class OrganisationController(Controller):
    path = "/organisations"
    tags = ["organisations"]

    @get("/")
    async def list_organisations(
        self,
        session: Session,
        page: PageParams,
        kind: FromQuery[OrganisationKind | None] = None,
        region_id: FromQuery[int | None] = None,
        name: FromQuery[str | None] = None,
    ) -> Page[OrganisationPublic]:
        items, total = await places.list_organisations(session, page, kind=kind, region_id=region_id, name=name)
        return _page(items, total, page, OrganisationPublic)

    @post("/")
    async def create_organisation(
        self, session: Session, actor: Caller, data: JSONBody[OrganisationCreate]
    ) -> OrganisationPublic:
        return OrganisationPublic.model_validate(await places.create_organisation(session, actor, data))

    @get("/{organisation_id:int}")
    async def get_organisation(self, session: Session, organisation_id: FromPath[int]) -> OrganisationPublic:
        return OrganisationPublic.model_validate(await get_or_404(session, Organisation, organisation_id))

    @patch("/{organisation_id:int}")
    async def update_organisation(
        self, session: Session, actor: Caller, organisation_id: FromPath[int], data: JSONBody[OrganisationUpdate]
    ) -> OrganisationPublic:
        updated = await places.update_organisation(session, actor, organisation_id, data)
        return OrganisationPublic.model_validate(updated)

    @delete("/{organisation_id:int}")
    async def delete_organisation(self, session: Session, actor: Caller, organisation_id: FromPath[int]) -> None:
        await places.delete_organisation(session, actor, organisation_id)


class VenueController(Controller):
    path = "/venues"
    tags = ["venues"]

    @get("/")
    async def list_venues(
        self,
        session: Session,
        page: PageParams,
        kind: FromQuery[VenueKind | None] = None,
        region_id: FromQuery[int | None] = None,
        owner_id: FromQuery[int | None] = None,
        name: FromQuery[str | None] = None,
    ) -> Page[VenuePublic]:
        """Venues, filtered; ``region_id`` matches the region's whole subtree."""
        items, total = await places.list_venues(
            session, page, kind=kind, region_id=region_id, owner_id=owner_id, name=name
        )
        return _page(items, total, page, VenuePublic)

    @post("/")
    async def create_venue(self, session: Session, actor: Caller, data: JSONBody[VenueCreate]) -> VenuePublic:
        return VenuePublic.model_validate(await places.create_venue(session, actor, data))

    @get("/{venue_id:int}")
    async def get_venue(self, session: Session, venue_id: FromPath[int]) -> VenuePublic:
        return VenuePublic.model_validate(await get_or_404(session, Venue, venue_id))

    @patch("/{venue_id:int}")
    async def update_venue(
        self, session: Session, actor: Caller, venue_id: FromPath[int], data: JSONBody[VenueUpdate]
    ) -> VenuePublic:
        return VenuePublic.model_validate(await places.update_venue(session, actor, venue_id, data))

    @delete("/{venue_id:int}")
    async def delete_venue(self, session: Session, actor: Caller, venue_id: FromPath[int]) -> None:
        await places.delete_venue(session, actor, venue_id)

    @get("/{venue_id:int}/spaces")
    async def list_spaces(
        self,
        session: Session,
        page: PageParams,
        venue_id: FromPath[int],
        kind: FromQuery[SpaceKind | None] = None,
        min_capacity: FromQuery[int | None] = None,
    ) -> Page[SpacePublic]:
        items, total = await spaces.list_spaces(session, page, venue_id=venue_id, kind=kind, min_capacity=min_capacity)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @post("/{venue_id:int}/spaces")
    async def create_space(
        self, session: Session, actor: Caller, venue_id: FromPath[int], data: JSONBody[SpaceCreate]
    ) -> SpacePublic:
        return await spaces.create_space(session, actor, venue_id, data)


class SpaceController(Controller):
    path = "/spaces"
    tags = ["spaces"]

    @get("/{space_id:int}")
    async def get_space(self, session: Session, space_id: FromPath[int]) -> SpacePublic:
        return await spaces.get_space(session, space_id)

    @patch("/{space_id:int}")
    async def update_space(
        self, session: Session, actor: Caller, space_id: FromPath[int], data: JSONBody[SpaceUpdate]
    ) -> SpacePublic:
        return await spaces.update_space(session, actor, space_id, data)

    @delete("/{space_id:int}")
    async def delete_space(self, session: Session, actor: Caller, space_id: FromPath[int]) -> None:
        await spaces.delete_space(session, actor, space_id)
