"""Teachers and community classes."""

from datetime import date

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from booking.api.deps import Caller, PageParams, Session
from booking.models import CommunityClass
from booking.schemas.common import Page
from booking.schemas.teaching import ClassCreate, ClassPublic, ClassUpdate, TeacherCreate, TeacherPublic, TeacherUpdate
from booking.services import teaching
from booking.services.common import get_or_404


class TeacherController(Controller):
    path = "/teachers"
    tags = ["teachers"]

    @get("/")
    async def list_teachers(
        self,
        session: Session,
        actor: Caller,
        page: PageParams,
        organisation_id: FromQuery[int | None] = None,
        skill: FromQuery[str | None] = None,
    ) -> Page[TeacherPublic]:
        """The teachers you may see (your organisation's; all in a region you administer)."""
        items, total = await teaching.list_teachers(session, actor, page, organisation_id=organisation_id, skill=skill)
        return Page(
            items=[TeacherPublic.model_validate(t) for t in items], total=total, limit=page.limit, offset=page.offset
        )

    @post("/")
    async def create_teacher(self, session: Session, actor: Caller, data: JSONBody[TeacherCreate]) -> TeacherPublic:
        return TeacherPublic.model_validate(await teaching.create_teacher(session, actor, data))

    @get("/{teacher_id:int}")
    async def get_teacher(self, session: Session, actor: Caller, teacher_id: FromPath[int]) -> TeacherPublic:
        return TeacherPublic.model_validate(await teaching.teacher_for(session, actor, teacher_id))

    @patch("/{teacher_id:int}")
    async def update_teacher(
        self, session: Session, actor: Caller, teacher_id: FromPath[int], data: JSONBody[TeacherUpdate]
    ) -> TeacherPublic:
        return TeacherPublic.model_validate(await teaching.update_teacher(session, actor, teacher_id, data))

    @delete("/{teacher_id:int}")
    async def delete_teacher(self, session: Session, actor: Caller, teacher_id: FromPath[int]) -> None:
        await teaching.delete_teacher(session, actor, teacher_id)


class ClassController(Controller):
    path = "/classes"
    tags = ["classes"]

    @get("/")
    async def list_classes(
        self,
        session: Session,
        page: PageParams,
        organisation_id: FromQuery[int | None] = None,
        category: FromQuery[str | None] = None,
        term_start: FromQuery[date | None] = None,
        term_end: FromQuery[date | None] = None,
    ) -> Page[ClassPublic]:
        """Classes, filtered; ``term_start``/``term_end`` find classes whose term overlaps."""
        items, total = await teaching.list_classes(
            session, page, organisation_id=organisation_id, category=category, term_start=term_start, term_end=term_end
        )
        return Page(
            items=[ClassPublic.model_validate(c) for c in items], total=total, limit=page.limit, offset=page.offset
        )

    @post("/")
    async def create_class(self, session: Session, actor: Caller, data: JSONBody[ClassCreate]) -> ClassPublic:
        return ClassPublic.model_validate(await teaching.create_class(session, actor, data))

    @get("/{class_id:int}")
    async def get_class(self, session: Session, class_id: FromPath[int]) -> ClassPublic:
        return ClassPublic.model_validate(await get_or_404(session, CommunityClass, class_id))

    @patch("/{class_id:int}")
    async def update_class(
        self, session: Session, actor: Caller, class_id: FromPath[int], data: JSONBody[ClassUpdate]
    ) -> ClassPublic:
        return ClassPublic.model_validate(await teaching.update_class(session, actor, class_id, data))

    @delete("/{class_id:int}")
    async def delete_class(self, session: Session, actor: Caller, class_id: FromPath[int]) -> None:
        await teaching.delete_class(session, actor, class_id)
