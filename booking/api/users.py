"""Accounts, managed by those who may give roles."""

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from booking.api.deps import Caller, Now, PageParams, Session
from booking.schemas.accounts import GrantCreate, UserCreate, UserPublic
from booking.schemas.common import Page
from booking.services import users


class UserController(Controller):
    path = "/users"
    tags = ["accounts"]

    @get("/")
    async def list_users(self, session: Session, actor: Caller, page: PageParams) -> Page[UserPublic]:
        """The accounts you could have made: in your region subtree, or of your organisation."""
        items, total = await users.list_users(session, actor, page)
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)

    @post("/")
    async def create_user(self, session: Session, actor: Caller, now: Now, data: JSONBody[UserCreate]) -> UserPublic:
        """An account with one role; district administrators within their region, an organisation's
        staff for their organisation."""
        return await users.register_user(session, actor, data, now=now)

    @post("/{user_id:int}/grants")
    async def add_grant(
        self, session: Session, actor: Caller, user_id: FromPath[int], data: JSONBody[GrantCreate]
    ) -> UserPublic:
        return await users.add_grant(session, actor, user_id, data)

    @delete("/{user_id:int}/grants/{grant_id:int}", status_code=200)
    async def remove_grant(
        self, session: Session, actor: Caller, user_id: FromPath[int], grant_id: FromPath[int]
    ) -> UserPublic:
        return await users.remove_grant(session, actor, user_id, grant_id)
