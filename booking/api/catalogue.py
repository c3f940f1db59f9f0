"""The public class catalogue: every caller, signed in or not, may browse it."""

from collections.abc import Callable
from typing import Annotated

from litestar import Controller, Request, get
from litestar.params import FromQuery, QueryParameter

from booking.api.availability import Near, space_filter
from booking.api.deps import PageParams, Session
from booking.api.feeds import SUFFIX, feed_links
from booking.schemas.catalogue import CataloguePage, FeedAddresses, TimeOfDay
from booking.services import catalogue
from booking.services.catalogue import CatalogueFilter

Weekday = Annotated[int | None, QueryParameter(ge=0, le=6, description="0 = Monday … 6 = Sunday, local")]
Keyword = Annotated[
    str | None,
    QueryParameter(max_length=100, description="in the title, category, target group, organisation or venue name"),
]


def point_of(near: str | None) -> tuple[float, float] | None:
    """``lat,lon`` read as the availability search reads it, with the same 422s."""
    return space_filter(None, None, None, None, near).near if near else None


def class_feeds(request: Request) -> Callable[[int], FeedAddresses]:
    """Each class's calendar addresses, on the host and scheme the request came in on."""
    feeds = feed_links(request, "/feeds/classes/")

    def feed_of(class_id: int) -> FeedAddresses:
        return FeedAddresses(https=f"{feeds.https}{class_id}{SUFFIX}", webcal=f"{feeds.webcal}{class_id}{SUFFIX}")

    return feed_of


class CatalogueController(Controller):
    path = "/catalogue"
    tags = ["catalogue"]

    @get("/")
    async def browse(
        self,
        request: Request,
        session: Session,
        page: PageParams,
        region_id: FromQuery[int | None] = None,
        category: FromQuery[str | None] = None,
        target_group: FromQuery[str | None] = None,
        weekday: Weekday = None,
        time_of_day: FromQuery[TimeOfDay | None] = None,
        q: Keyword = None,
        near: Near = None,
        has_seats: FromQuery[bool] = False,
    ) -> CataloguePage:
        """Classes of committed terms, by title, or nearest first with ``near``. ``region_id``: venues
        in that region or below; ``weekday`` and ``time_of_day`` (morning before 12:00, afternoon
        until 18:00, evening after) match one weekly session's local start; ``has_seats=true``
        keeps classes whose enrolment policy has a seat left (none without a policy)."""
        where = CatalogueFilter(
            region_id=region_id,
            category=category,
            target_group=target_group,
            weekday=weekday,
            time_of_day=time_of_day,
            q=q,
            near=point_of(near),
            has_seats=has_seats,
        )
        items, total = await catalogue.catalogue(session, where, page, class_feeds(request))
        return CataloguePage(items=items, total=total, limit=page.limit, offset=page.offset)
