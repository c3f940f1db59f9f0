"""Signing in and out, and a resident's own pages: classes, learning record and private calendar.
Apply and withdraw post here and come back to 我的课程 (Post/Redirect/Get). Counter staff and
agents pass ``resident`` (the resident's public id) to act for someone; anyone else gets 404."""

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Response, Template
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from booking.api.deps import Now, Session
from booking.api.feeds import SUFFIX, feed_links
from booking.models import User
from booking.schemas.accounts import ProfileUpdate
from booking.services import accounts, enrolment, learning_records
from booking.services.residents import resident_for
from booking.web import i18n
from booking.web.figures import qr_svg
from booking.web.forms import posted, safe_back
from booking.web.render import page
from booking.web.visitor import ThisVisitor, Visitor

ResidentId = Annotated[str | None, QueryParameter(max_length=64)]
BackPath = Annotated[str | None, QueryParameter(max_length=2000)]
AFTER_SIGN_IN = "/me/classes"


def _signin(request: Request) -> Redirect:
    query = request.url.query
    back = request.url.path + (f"?{query}" if query and request.method == "GET" else "")
    return Redirect("/signin?" + urlencode({"next": back}), status_code=303)


def _mine(path: str, resident: str | None, **extra: Any) -> str:
    query = {**extra, **({"resident": resident} if resident else {})}
    return path + ("?" + urlencode(query) if query else "")


async def _change_application(
    request: Request, session: AsyncSession, now: datetime, visitor: Visitor, class_id: int, change, outcome: str
) -> Redirect:
    """Apply or withdraw (``change``) for the visitor or the resident the form names, then show
    我的课程 with what happened (Post/Redirect/Get)."""
    form = await posted(request, visitor)
    if not visitor.signed_in:
        return _signin(request)
    resident = _resident_field(form)
    await change(session, visitor.actor, class_id, resident, now=now)
    return Redirect(_mine("/me/classes", resident, **{outcome: class_id}), status_code=303, cookies=visitor.cookies)


def _resident_field(form: dict[str, Any]) -> str | None:
    value = form.get("resident")
    return value.strip() if isinstance(value, str) and value.strip() else None


MAIL_NOTICES = ("saved", "removed")
MailNotice = Annotated[str | None, QueryParameter(max_length=10)]


async def _calendar_page(session: AsyncSession, visitor: Visitor, *, status: int = 200, **shown: Any) -> Template:
    """My calendar: the private feed's address (``issued`` just now, with its ``qr``), and the
    address mail goes to (``mail_error``: what was ``typed`` is not one; ``mail_done``: saved or removed)."""
    user = await session.get(User, visitor.actor.user_id)
    context = {"issued": None, "qr": None, "mail_error": False, "mail_done": None, "typed": None} | shown
    return page(
        visitor,
        "my_calendar.html",
        status=status,
        section="my-calendar",
        current=await accounts.private_feed(session, visitor.actor.user_id),
        email=user.email,
        **context,
    )


class AccountPages(Controller):
    include_in_schema = False

    @get("/signin")
    async def signin_form(self, visitor: ThisVisitor, next: BackPath = None) -> Template:
        back = safe_back(next, AFTER_SIGN_IN)
        return page(visitor, "signin.html", section="signin", next=back, error=None, username="")

    @post("/signin")
    async def signin(self, request: Request, session: Session, now: Now, visitor: ThisVisitor) -> Template | Redirect:
        """The API's sign-in (same throttling); a failure re-shows the form with what to do."""
        form = await posted(request, visitor)
        username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
        destination = safe_back(form.get("next"), AFTER_SIGN_IN)
        outcome = await accounts.sign_in(session, username, password, now=now)
        if outcome.error is not None:
            status = outcome.error.status
            return page(
                visitor,
                "signin.html",
                status=status,
                section="signin",
                next=destination,
                error=outcome.error,
                username=username,
            )
        visitor.sign_in(outcome.token)
        return Redirect(destination, status_code=303, cookies=visitor.cookies)

    @post("/signout", status_code=303)
    async def signout(self, request: Request, session: Session, now: Now, visitor: ThisVisitor) -> Redirect:
        await posted(request, visitor)
        token = request.cookies.get("vs_session")
        if token:
            await accounts.sign_out(session, token, now=now)
        visitor.sign_out()
        return Redirect("/", status_code=303, cookies=visitor.cookies)


class ResidentPages(Controller):
    include_in_schema = False

    @get("/me/classes")
    async def my_classes(
        self,
        request: Request,
        session: Session,
        visitor: ThisVisitor,
        resident: ResidentId = None,
        applied: FromQuery[int | None] = None,
        withdrawn: FromQuery[int | None] = None,
    ) -> Template | Redirect:
        if not visitor.signed_in:
            return _signin(request)
        person = await resident_for(session, visitor.actor, resident)
        applications = await enrolment.my_applications(session, visitor.actor, resident)
        return page(
            visitor,
            "my_classes.html",
            section="my-classes",
            person=person,
            applications=applications,
            resident=resident,
            applied=applied,
            withdrawn=withdrawn,
        )

    @post("/classes/{class_id:int}/apply", status_code=303)
    async def apply(
        self, request: Request, session: Session, now: Now, visitor: ThisVisitor, class_id: FromPath[int]
    ) -> Redirect:
        return await _change_application(request, session, now, visitor, class_id, enrolment.apply, "applied")

    @post("/classes/{class_id:int}/withdraw", status_code=303)
    async def withdraw(
        self, request: Request, session: Session, now: Now, visitor: ThisVisitor, class_id: FromPath[int]
    ) -> Redirect:
        return await _change_application(request, session, now, visitor, class_id, enrolment.withdraw, "withdrawn")

    @get("/me/record")
    async def my_record(
        self, request: Request, session: Session, now: Now, visitor: ThisVisitor, resident: ResidentId = None
    ) -> Template | Redirect:
        if not visitor.signed_in:
            return _signin(request)
        record = await learning_records.my_learning_record(session, visitor.actor, now=now, resident_public_id=resident)
        return page(visitor, "my_record.html", section="my-record", record=record, resident=resident)

    @get("/me/record/{class_id:int}/badge.json")
    async def badge(
        self,
        request: Request,
        session: Session,
        now: Now,
        visitor: ThisVisitor,
        class_id: FromPath[int],
        resident: ResidentId = None,
    ) -> Response | Redirect:
        """The Open Badges 3.0 credential of a completed class, to download."""
        if not visitor.signed_in:
            return _signin(request)
        person = await resident_for(session, visitor.actor, resident)
        credential = await learning_records.badge(session, visitor.actor, person.public_id, class_id, now=now)
        return Response(
            credential,
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="badge-{class_id}.json"'},
        )

    @get("/me/calendar")
    async def my_calendar(
        self, request: Request, session: Session, visitor: ThisVisitor, mail: MailNotice = None
    ) -> Template | Redirect:
        if not visitor.signed_in:
            return _signin(request)
        return await _calendar_page(session, visitor, mail_done=mail if mail in MAIL_NOTICES else None)

    @post("/me/mail")
    async def mail_change(self, request: Request, session: Session, visitor: ThisVisitor) -> Template | Redirect:
        """Give, change or remove the address mail about one's classes goes to."""
        form = await posted(request, visitor)
        if not visitor.signed_in:
            return _signin(request)
        typed = None if form.get("action") == "remove" else str(form.get("email", "")).strip()
        try:
            change = ProfileUpdate.model_validate({"email": typed})
        except ValidationError:
            return await _calendar_page(session, visitor, status=422, mail_error=True, typed=typed)
        user = await session.get(User, visitor.actor.user_id)
        await accounts.update_profile(session, user, change)
        done = "removed" if change.email is None else "saved"
        return Redirect(f"/me/calendar?mail={done}#mail", status_code=303, cookies=visitor.cookies)

    @post("/me/calendar")
    async def calendar_change(
        self, request: Request, session: Session, now: Now, visitor: ThisVisitor
    ) -> Template | Redirect:
        """Issue a new private address (shown once, with its QR code) or revoke the current one."""
        form = await posted(request, visitor)
        if not visitor.signed_in:
            return _signin(request)
        if form.get("action") == "revoke":
            await accounts.revoke_private_feed(session, visitor.actor.user_id, now=now)
            return Redirect("/me/calendar", status_code=303, cookies=visitor.cookies)
        token = await accounts.issue_feed_token(session, visitor.actor.user_id, now=now)
        issued = feed_links(request, f"/feeds/private/{token}{SUFFIX}")
        _ = i18n.gettext_for(visitor.lang)
        qr = qr_svg(issued.https, _("QR code of your private calendar's address"))
        return await _calendar_page(session, visitor, issued=issued, qr=qr)
