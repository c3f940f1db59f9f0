"""Who is looking at a page, and in what language and mode; the page's cookies.

Signing in on a page issues the same session token as ``POST /auth/token`` and keeps it in an
HttpOnly, SameSite=Lax cookie (Secure over https); every request checks it like a bearer token,
so revoking it or signing out takes effect at once. Forms carry a CSRF token that must equal
the ``vs_csrf`` cookie (double submit) and come from this site (``Origin``, when sent): no
server secret is needed, so any number of processes agree.
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from hmac import compare_digest
from typing import Any
from urllib.parse import urlsplit

from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import CsrfFailed, Unauthorized
from booking.models import User
from booking.rules.permissions import ANONYMOUS, Actor
from booking.services.accounts import SESSION_LIFETIME, actor_for_token
from booking.web import i18n

SESSION_COOKIE = "vs_session"
CSRF_COOKIE = "vs_csrf"
LANG_COOKIE = "vs_lang"
ELDER_COOKIE = "vs_elder"
CSRF_FIELD = "csrf_token"
PREFERENCE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookies at 400 days


@dataclass(slots=True)
class Visitor:
    lang: str
    elder: bool
    csrf: str
    secure: bool
    actor: Actor = ANONYMOUS
    username: str | None = None
    cookies: list[Cookie] = field(default_factory=list)

    @property
    def signed_in(self) -> bool:
        return self.actor.user_id is not None

    def cookie(self, key: str, value: str, max_age: int | None, *, httponly: bool = True) -> None:
        self.cookies.append(
            Cookie(
                key=key, value=value, max_age=max_age, path="/", httponly=httponly, samesite="lax", secure=self.secure
            )
        )

    def forget(self, key: str) -> None:
        self.cookies.append(Cookie(key=key, value="", max_age=0, path="/", samesite="lax", secure=self.secure))

    def sign_in(self, token: str) -> None:
        self.cookie(SESSION_COOKIE, token, int(SESSION_LIFETIME.total_seconds()))

    def sign_out(self) -> None:
        self.forget(SESSION_COOKIE)

    def remember(self, *, lang: str | None = None, elder: bool | None = None) -> None:
        if lang is not None:
            self.lang = lang
            self.cookie(LANG_COOKIE, lang, PREFERENCE_MAX_AGE)
        if elder is not None:
            self.elder = elder
            self.cookie(ELDER_COOKIE, "1" if elder else "0", PREFERENCE_MAX_AGE)


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def preferences(request: Request) -> Visitor:
    """Language, mode and CSRF token from the cookies alone (error pages use this: no database)."""
    cookies = request.cookies
    visitor = Visitor(
        lang=i18n.choose(cookies.get(LANG_COOKIE), request.headers.get("accept-language")),
        elder=cookies.get(ELDER_COOKIE) == "1",
        csrf=cookies.get(CSRF_COOKIE) or "",
        secure=is_https(request),
    )
    if len(visitor.csrf) < 32:
        visitor.csrf = secrets.token_urlsafe(32)
        visitor.cookie(CSRF_COOKIE, visitor.csrf, None)
    return visitor


async def visitor_of(request: Request, session: AsyncSession, now: datetime) -> Visitor:
    """The visitor with their account when the session cookie is good; a stale cookie is dropped
    and the page shown signed out (a page never answers 401 for an old cookie)."""
    visitor = preferences(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            visitor.actor = await actor_for_token(session, token, now=now)
        except Unauthorized:
            visitor.sign_out()
        else:
            visitor.username = await session.scalar(select(User.username).where(User.id == visitor.actor.user_id))
    return visitor


def check_form(request: Request, visitor: Visitor, form: dict[str, Any]) -> None:
    """Refuse a posted form without this visitor's CSRF token or sent from another site."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CsrfFailed("the form was sent from another site")
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie or not compare_digest(sent.encode(), cookie.encode()):
        raise CsrfFailed("the form's token is missing or out of date; open the page again and resend")


# Annotates a page handler's parameter as the visitor dependency.
ThisVisitor = NamedDependency[Visitor]
