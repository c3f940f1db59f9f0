"""The public pages: the learning map, the catalogue, a class and a venue; the language and
mode switch. Every page reads through the same services as the API."""

from contextlib import suppress
from datetime import date, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from booking.api.catalogue import class_feeds, point_of
from booking.api.deps import Now, Session
from booking.api.feeds import SUFFIX, feed_links
from booking.errors import NotFound
from booking.models import Region, RegionLevel
from booking.schemas.catalogue import FeedAddresses, TimeOfDay
from booking.services import catalogue, class_details, enrolment, learning_map, venue_week
from booking.services.catalogue import CatalogueFilter
from booking.services.common import PageRequest
from booking.services.places import list_regions
from booking.web import i18n
from booking.web.figures import Point, map_svg, qr_svg
from booking.web.forms import posted, safe_back
from booking.web.render import page
from booking.web.visitor import ThisVisitor

CATALOGUE_PAGE = 20
Text = Annotated[str | None, QueryParameter(max_length=100)]


def subscription(request: Request, path: str) -> FeedAddresses:
    links = feed_links(request, path)
    return FeedAddresses(https=links.https, webcal=links.webcal)


class PublicPages(Controller):
    include_in_schema = False

    @get("/")
    async def home(self, session: Session, visitor: ThisVisitor, near: Text = None) -> Template:
        found = await learning_map.learning_map(session, point_of(near))
        numbered = {venue.id: number for number, venue in enumerate(found.venues, start=1)}
        points = [
            Point(numbered[v.id], v.latitude, v.longitude)
            for v in found.venues
            if v.latitude is not None and v.longitude is not None
        ]
        _ = i18n.gettext_for(visitor.lang)
        figure = map_svg(
            points,
            _("Map of the district's learning venues"),
            _("Each numbered point is a venue; the list below the map has the same numbers."),
        )
        return page(visitor, "home.html", section="map", found=found, numbered=numbered, figure=figure, near=near)

    @get("/classes")
    async def classes(
        self,
        request: Request,
        session: Session,
        visitor: ThisVisitor,
        region_id: Annotated[int | None, QueryParameter(ge=1)] = None,
        category: Text = None,
        target_group: Text = None,
        weekday: Annotated[int | None, QueryParameter(ge=0, le=6)] = None,
        time_of_day: FromQuery[TimeOfDay | None] = None,
        q: Text = None,
        near: Text = None,
        has_seats: FromQuery[bool] = False,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> Template:
        where = CatalogueFilter(
            region_id=region_id,
            category=category or None,
            target_group=target_group or None,
            weekday=weekday,
            time_of_day=time_of_day,
            q=q,
            near=point_of(near),
            has_seats=has_seats,
        )
        window = PageRequest(CATALOGUE_PAGE, offset)
        items, total = await catalogue.catalogue(session, where, window, class_feeds(request))
        regions, _ = await list_regions(session, PageRequest(500, 0), parent_id=None, level=None, name=None)
        query = {k: v for k, v in request.query_params.items() if k != "offset" and v not in ("", None)}
        return page(
            visitor,
            "classes.html",
            section="classes",
            items=items,
            total=total,
            offset=offset,
            size=CATALOGUE_PAGE,
            where=where,
            near=near,
            towns=towns_and_communities(regions),
            choices=await catalogue.choices(session),
            query=query,
        )

    @get("/classes/{class_id:int}")
    async def class_page(
        self,
        request: Request,
        session: Session,
        now: Now,
        visitor: ThisVisitor,
        class_id: FromPath[int],
        resident: Text = None,
    ) -> Template:
        feed = subscription(request, f"/feeds/classes/{class_id}{SUFFIX}")
        details = await class_details.details(session, class_id, feed, now=now)
        mine = None
        if visitor.signed_in and (visitor.actor.resident or resident):
            with suppress(NotFound):
                mine = await enrolment.application_of(session, visitor.actor, class_id, resident)
        _ = i18n.gettext_for(visitor.lang)
        return page(
            visitor,
            "class.html",
            section="classes",
            d=details,
            mine=mine,
            resident=resident,
            now=now,
            qr=qr_svg(feed.https, _("QR code of the class calendar's address")),
        )

    @get("/venues/{venue_id:int}")
    async def venue_page(
        self,
        request: Request,
        session: Session,
        now: Now,
        visitor: ThisVisitor,
        venue_id: FromPath[int],
        week: FromQuery[date | None] = None,
    ) -> Template:
        found = await venue_week.venue_week(session, venue_id, week, now=now)
        feeds = {s.space.id: subscription(request, f"/feeds/spaces/{s.space.id}{SUFFIX}") for s in found.spaces}
        return page(visitor, "venue.html", section="map", w=found, feeds=feeds, weeks=timedelta(weeks=1))

    @post("/preferences", status_code=303)
    async def preferences(self, request: Request, visitor: ThisVisitor) -> Redirect:
        """The language and mode switch: remembered in cookies, then back to the page."""
        form = await posted(request, visitor)
        lang: Any = form.get("lang")
        elder: Any = form.get("elder")
        visitor.remember(
            lang=lang if lang in i18n.LANGUAGES else None,
            elder=None if elder not in ("0", "1") else elder == "1",
        )
        return Redirect(safe_back(form.get("back")), status_code=303, cookies=visitor.cookies)


def towns_and_communities(regions: list[Region]) -> list[tuple[Region, list[Region]]]:
    """Towns, each with its communities, for the region filter."""
    towns = [region for region in regions if region.level == RegionLevel.town]
    below: dict[int, list[Region]] = {}
    for region in regions:
        if region.level == RegionLevel.community and region.parent_id is not None:
            below.setdefault(region.parent_id, []).append(region)
    return [
        (town, sorted(below.get(town.id, []), key=lambda r: r.name)) for town in sorted(towns, key=lambda r: r.name)
    ]
