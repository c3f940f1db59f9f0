"""The Litestar application. Nothing connects at import: the engine opens in the lifespan."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from booking.api.accounts import AuthController
from booking.api.allocations import AllocationController
from booking.api.availability import AvailabilityController
from booking.api.bookings import ApprovalController, BookingController
from booking.api.calendars import ClosureController, OpeningHoursController
from booking.api.catalogue import CatalogueController
from booking.api.deps import DEPENDENCIES, authenticate, ids_in_range
from booking.api.enrolment import EnrolmentController, ResidentController
from booking.api.feeds import FeedController, FeedLinkController, RenderedFeeds
from booking.api.imports import ImportController
from booking.api.learning import AttendanceController, LearningRecordController, MyLearningController
from booking.api.operations import health, metrics, ready
from booking.api.places import OrganisationController, RegionController, SpaceController, VenueController
from booking.api.policies import PolicyController
from booking.api.problems import EXCEPTION_HANDLERS
from booking.api.statistics import StatisticsController
from booking.api.teaching import ClassController, TeacherController
from booking.api.users import UserController
from booking.api.webhooks import WebhookController
from booking.background import background_for
from booking.config import Settings
from booking.db import create_engine, driver_pool, sessionmakers
from booking.observability import log_as_json_lines, observe
from booking.web import pages
from booking.web.apidoc import ApiReference
from booking.web.render import TEMPLATE_CONFIG


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Litestar:
    @asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.pool_size, echo=settings.echo_sql)
        app.state.write_sessions, app.state.read_sessions = sessionmakers(engine)
        app.state.driver_pool = await driver_pool(settings.database_url, size=settings.pool_size)
        app.state.background = background_for(settings, app.state.write_sessions, clock)
        await app.state.background.start()
        try:
            yield
        finally:
            await app.state.background.close()
            if app.state.driver_pool is not None:
                await app.state.driver_pool.close()
            await engine.dispose()

    api = Router(
        path="/api/v1",
        route_handlers=[
            RegionController,
            OrganisationController,
            VenueController,
            SpaceController,
            BookingController,
            ApprovalController,
            PolicyController,
            OpeningHoursController,
            ClosureController,
            ImportController,
            AvailabilityController,
            TeacherController,
            ClassController,
            CatalogueController,
            AllocationController,
            StatisticsController,
            AuthController,
            UserController,
            FeedLinkController,
            AttendanceController,
            MyLearningController,
            LearningRecordController,
            ResidentController,
            EnrolmentController,
            WebhookController,
        ],
        guards=[authenticate, ids_in_range],
    )
    app = Litestar(
        route_handlers=[api, FeedController, health, ready, metrics, *pages()],
        template_config=TEMPLATE_CONFIG,
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[database],
        state=State({"clock": clock, "settings": settings, "rendered_feeds": RenderedFeeds()}),
        openapi_config=OpenAPIConfig(
            title="venueshare", version="1", path="/schema", render_plugins=[ApiReference(), JsonRenderPlugin()]
        ),
    )
    app.asgi_handler = observe(app.asgi_handler)  # outside routing: unmatched paths get a request id too
    return app


def create_app_from_env() -> Litestar:
    """Factory for ``uvicorn --factory`` (each worker process builds its own app and logs JSON lines)."""
    settings = Settings.from_env()
    log_as_json_lines(settings.log_level)
    return create_app(settings)
