"""Webhook endpoints an organisation (or the district) registers, and their delivery logs."""

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from booking.api.deps import Caller, Now, PageParams, Session
from booking.schemas.common import Page
from booking.schemas.webhooks import DeliveryPublic, EndpointCreate, EndpointCreated, EndpointPublic
from booking.services import webhooks


class WebhookController(Controller):
    path = "/webhooks"
    tags = ["webhooks"]

    @post("/")
    async def create_endpoint(
        self, request: Request, session: Session, actor: Caller, now: Now, data: JSONBody[EndpointCreate]
    ) -> EndpointCreated:
        """Register an endpoint; the answer carries its signing ``secret``, shown this once.

        An organisation's staff register for their organisation, a district administrator for any
        organisation of their regions; an endpoint with no organisation (the whole district's
        administrators only) is told of everything. The URL must reach the public internet."""
        internal = request.app.state.settings.webhooks_to_internal_network
        return await webhooks.create_endpoint(session, actor, data, now=now, internal=internal)

    @get("/")
    async def list_endpoints(self, session: Session, actor: Caller, page: PageParams) -> Page[EndpointPublic]:
        items, total = await webhooks.list_endpoints(session, actor, page)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @delete("/{endpoint_id:int}")
    async def delete_endpoint(self, session: Session, actor: Caller, endpoint_id: FromPath[int]) -> None:
        """Stop telling it anything; its delivery log goes with it."""
        await webhooks.delete_endpoint(session, actor, endpoint_id)

    @get("/{endpoint_id:int}/deliveries")
    async def deliveries(
        self, session: Session, actor: Caller, page: PageParams, endpoint_id: FromPath[int]
    ) -> Page[DeliveryPublic]:
        """The delivery log, newest first: each message's state (pending, delivered, dead),
        attempts, the last status and error, and when the next attempt is due."""
        items, total = await webhooks.list_deliveries(session, actor, endpoint_id, page)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)
