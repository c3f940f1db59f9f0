"""Signing in and tokens."""

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, JSONBody

from booking.api.deps import Caller, Now, Session
from booking.api.problems import on_domain_error
from booking.models import User
from booking.rules.permissions import Actor
from booking.schemas.accounts import (
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenPublic,
    ProfileUpdate,
    SignIn,
    TokenIssued,
    UserPublic,
)
from booking.services import accounts
from booking.services.guards import require_signed_in


async def signed_in(session, actor: Actor) -> User:
    require_signed_in(actor)
    return await session.get(User, actor.user_id)


class AuthController(Controller):
    path = "/auth"
    tags = ["accounts"]

    @post("/token", status_code=200, opt={"anonymous": True})
    async def sign_in(
        self, request: Request, session: Session, now: Now, data: JSONBody[SignIn]
    ) -> Response[TokenIssued]:
        """Sign in with a username and password; answers a bearer token valid for 12 hours."""
        outcome = await accounts.sign_in(session, data.username, data.password, now=now)
        if outcome.error is not None:  # answered, not raised: the failure count must be kept
            return on_domain_error(request, outcome.error)
        return Response(TokenIssued(access_token=outcome.token, expires_at=outcome.expires_at))

    @get("/me")
    async def me(self, session: Session, actor: Caller) -> UserPublic:
        user = await signed_in(session, actor)
        return await accounts.user_public(session, user)

    @patch("/me")
    async def update_me(self, session: Session, actor: Caller, data: JSONBody[ProfileUpdate]) -> UserPublic:
        """Change your name or mail address. Mail about your bookings and classes (with calendar
        invitations) goes to the address; ``"email": null`` removes it."""
        return await accounts.update_profile(session, await signed_in(session, actor), data)

    @get("/tokens")
    async def list_tokens(self, session: Session, actor: Caller) -> list[ApiTokenPublic]:
        """Your tokens (sign-in sessions and long-lived API tokens), without their secrets."""
        return await accounts.list_tokens(session, await signed_in(session, actor))

    @post("/tokens")
    async def create_token(
        self, session: Session, actor: Caller, now: Now, data: JSONBody[ApiTokenCreate]
    ) -> ApiTokenCreated:
        """A long-lived API token for an integration; the token is shown in this answer only."""
        user = await signed_in(session, actor)
        return await accounts.create_api_token(session, user, data, now=now)

    @post("/tokens/{token_id:int}/revoke", status_code=200)
    async def revoke_token(self, session: Session, actor: Caller, now: Now, token_id: FromPath[int]) -> ApiTokenPublic:
        user = await signed_in(session, actor)
        return await accounts.revoke_token(session, user, token_id, now=now)
