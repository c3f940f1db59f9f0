"""iCal feeds (outside /api/v1), with the HTTP a calendar client deserves: a strong ETag from the
body, Last-Modified from the data, 304 without rendering when nothing changed, HEAD, and
``Cache-Control: private`` for a person's own feed."""

import hashlib
from collections import OrderedDict
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from litestar import Controller, Request, Response, get, post, route
from litestar.enums import HttpMethod
from litestar.params import FromPath

from booking.api.deps import Caller, Now, Session
from booking.errors import NotFound
from booking.schemas.feeds import FeedLinks, PrivateFeedIssued
from booking.services import feeds
from booking.services.accounts import issue_feed_token
from booking.services.guards import require_signed_in
from integrations.ical import render

CALENDAR = "text/calendar"  # Litestar adds "; charset=utf-8"
SUFFIX = ".ics"
CACHED_FEEDS = 512
CACHED_BYTES = 64 * 1024 * 1024


class RenderedFeeds:
    """The last rendering of each feed with the fingerprint of the data it was rendered from: a
    client that already has it gets a 304 after one aggregate query, and an unchanged feed is
    never rendered twice. Bounded by feeds and by bytes; the least recently used go first."""

    def __init__(self, max_feeds: int = CACHED_FEEDS, max_bytes: int = CACHED_BYTES) -> None:
        self.max_feeds, self.max_bytes, self._bytes = max_feeds, max_bytes, 0
        self._items: OrderedDict[str, tuple[str, bytes, str, datetime]] = OrderedDict()

    def get(self, key: str, fingerprint: str) -> tuple[bytes, str, datetime] | None:
        """(body, ETag, Last-Modified) of the feed, if it was rendered from data with this fingerprint."""
        found = self._items.get(key)
        if found is None or found[0] != fingerprint:
            return None
        self._items.move_to_end(key)
        return found[1:]

    def put(self, key: str, fingerprint: str, body: bytes, etag: str, modified: datetime) -> None:
        if key in self._items:
            self._bytes -= len(self._items.pop(key)[1])
        self._items[key] = (fingerprint, body, etag, modified)
        self._bytes += len(body)
        while self._items and (len(self._items) > self.max_feeds or self._bytes > self.max_bytes):
            self._bytes -= len(self._items.popitem(last=False)[1][1])


def feed_links(request: Request, path: str) -> FeedLinks:
    base = request.app.state.settings.public_url or str(request.base_url).rstrip("/")
    https = base.rstrip("/") + path
    return FeedLinks(https=https, webcal="webcal://" + https.split("://", 1)[1])


def _not_modified(request: Request, etag: str, modified: datetime) -> bool:
    """If-None-Match wins over If-Modified-Since; an unparseable date is ignored."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return if_none_match.strip() == "*" or etag in {tag.strip() for tag in if_none_match.split(",")}
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return modified <= parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


async def _serve(request: Request, session, scope: feeds.Scope, key: str, *, now: datetime, private: bool) -> Response:
    settings = request.app.state.settings
    window = feeds.Window.around(now, past_days=settings.feed_past_days, future_days=settings.feed_future_days)
    cache: RenderedFeeds = request.app.state.rendered_feeds
    fingerprint = await feeds.fingerprint(session, scope, window, now)
    cached = cache.get(key, fingerprint)
    if cached is None:
        feed = await feeds.build(session, scope, window, now=now, source_url=str(request.url).split("?")[0])
        body = render(feed)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        modified = feeds.last_modified(feed)
        cache.put(key, fingerprint, body, etag, modified)
    else:
        body, etag, modified = cached
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(modified.astimezone(UTC).replace(microsecond=0), usegmt=True),
        "Cache-Control": "private, max-age=300" if private else "public, max-age=300",
    }
    if _not_modified(request, etag, modified):
        return Response(content=b"", status_code=304, headers=headers, media_type=CALENDAR)
    content = b"" if request.method == HttpMethod.HEAD else body
    return Response(content=content, headers=headers, media_type=CALENDAR)


def _id_of(file: str) -> int:
    stem = file.removesuffix(SUFFIX)
    if not file.endswith(SUFFIX) or not stem.isdigit():
        raise NotFound("feed", file)
    return int(stem)


class FeedController(Controller):
    path = "/feeds"
    tags = ["feeds"]

    @route("/private/{file:str}", http_method=[HttpMethod.GET, HttpMethod.HEAD], media_type=CALENDAR)
    async def private_feed(self, request: Request, session: Session, now: Now, file: FromPath[str]) -> Response:
        """A person's own feed, behind the token only they were given."""
        if not file.endswith(SUFFIX):
            raise NotFound("feed", "private")
        token = file.removesuffix(SUFFIX)
        scope = await feeds.private_scope(session, token)
        return await _serve(request, session, scope, f"private/{feeds.digest(token)}", now=now, private=True)

    @route("/{kind:str}/{file:str}", http_method=[HttpMethod.GET, HttpMethod.HEAD], media_type=CALENDAR)
    async def public_feed(
        self, request: Request, session: Session, now: Now, kind: FromPath[str], file: FromPath[str]
    ) -> Response:
        """The public feed of a space, venue, organisation, class or teacher (``/feeds/spaces/12.ics``)."""
        item_id = _id_of(file)
        scope = await feeds.scope_of(session, kind, item_id)
        return await _serve(request, session, scope, f"{kind}/{item_id}", now=now, private=False)


class FeedLinkController(Controller):
    path = "/feeds"
    tags = ["feeds"]

    @get("/{kind:str}/{item_id:int}")
    async def links(self, request: Request, session: Session, kind: FromPath[str], item_id: FromPath[int]) -> FeedLinks:
        """Subscription links of a public feed: ``https`` for Google, ``webcal`` for Apple and Outlook."""
        await feeds.scope_of(session, kind, item_id)
        return feed_links(request, f"/feeds/{kind}/{item_id}{SUFFIX}")

    @post("/private", status_code=201)
    async def issue_private(self, request: Request, session: Session, actor: Caller, now: Now) -> PrivateFeedIssued:
        """A new link to your own feed (the previous link stops working); shown once. Revoke it like
        any token (``/auth/tokens``)."""
        require_signed_in(actor)
        token = await issue_feed_token(session, actor.user_id, now=now)
        links = feed_links(request, f"/feeds/private/{token}{SUFFIX}")
        return PrivateFeedIssued(https=links.https, webcal=links.webcal)
