"""Teachers and community classes."""

from datetime import date

from sqlalchemy import false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest, NotFound
from booking.models import CommunityClass, Organisation, Region, Teacher, User, Venue
from booking.rules.permissions import Actor, manages_organisation, sees_teacher
from booking.schemas.teaching import ClassCreate, ClassUpdate, TeacherCreate, TeacherUpdate
from booking.services.common import PageRequest, apply_update, delete_unreferenced, get_or_404, page_of, require
from booking.services.guards import administered_organisations, allow, organisation_region, require_signed_in


async def _require_all(session: AsyncSession, model, ids: list[int], field: str) -> None:
    if not ids:
        return
    found = set(await session.scalars(select(model.id).where(model.id.in_(ids))))
    missing = sorted(set(ids) - found)
    if missing:
        raise InvalidRequest(f"unknown ids in {field}: {missing}", field=field)


async def _check_teacher_refs(
    session: AsyncSession, data: TeacherCreate | TeacherUpdate, teacher_id: int | None = None
) -> None:
    await require(session, Organisation, data.organisation_id)
    await require(session, Region, data.home_region_id)
    await require(session, User, data.user_id)
    if data.user_id is not None:
        holder = await session.scalar(select(Teacher.id).where(Teacher.user_id == data.user_id))
        if holder is not None and holder != teacher_id:
            raise InvalidRequest(f"user {data.user_id} already teaches as teacher {holder}", field="user_id")
    await _require_all(session, Venue, data.refused_venue_ids or [], "refused_venue_ids")


async def _may_keep_teacher(session: AsyncSession, actor: Actor, organisation_id: int | None, home_region_id) -> bool:
    """Teachers are personal data: kept by their organisation's staff or the district administrators
    of their organisation's region or of their home region."""
    region = await organisation_region(session, organisation_id) if organisation_id is not None else None
    return sees_teacher(actor, organisation_id, region) or sees_teacher(actor, None, home_region_id)


async def teacher_for(session: AsyncSession, actor: Actor, teacher_id: int) -> Teacher:
    """A teacher the actor may see; 404 for everyone else who is signed in."""
    require_signed_in(actor)
    teacher = await get_or_404(session, Teacher, teacher_id)
    if not await _may_keep_teacher(session, actor, teacher.organisation_id, teacher.home_region_id):
        raise NotFound("teacher", teacher_id)
    return teacher


async def create_teacher(session: AsyncSession, actor: Actor, data: TeacherCreate) -> Teacher:
    await _check_teacher_refs(session, data)
    allow(actor, await _may_keep_teacher(session, actor, data.organisation_id, data.home_region_id), "add this teacher")
    teacher = Teacher.model_validate(data.model_dump())
    session.add(teacher)
    await session.flush()
    return teacher


async def update_teacher(session: AsyncSession, actor: Actor, teacher_id: int, data: TeacherUpdate) -> Teacher:
    teacher = await teacher_for(session, actor, teacher_id)
    await _check_teacher_refs(session, data, teacher_id)
    organisation_id = data.organisation_id if "organisation_id" in data.model_fields_set else teacher.organisation_id
    home = data.home_region_id if "home_region_id" in data.model_fields_set else teacher.home_region_id
    allow(actor, await _may_keep_teacher(session, actor, organisation_id, home), "hand this teacher over there")
    apply_update(teacher, data)
    await session.flush()
    return teacher


async def delete_teacher(session: AsyncSession, actor: Actor, teacher_id: int) -> None:
    await delete_unreferenced(session, await teacher_for(session, actor, teacher_id), "teacher")


def _teachers_visible_to(actor: Actor):
    if actor.everywhere:
        return true()
    if not (actor.managed or actor.admin_regions):
        return false()
    return or_(
        Teacher.organisation_id.in_(actor.managed),
        Teacher.organisation_id.in_(administered_organisations(actor)),
        Teacher.home_region_id.in_(actor.admin_regions),
    )


async def list_teachers(
    session: AsyncSession, actor: Actor, page: PageRequest, *, organisation_id: int | None, skill: str | None
) -> tuple[list[Teacher], int]:
    require_signed_in(actor)
    stmt = select(Teacher).where(_teachers_visible_to(actor)).order_by(Teacher.id)
    if organisation_id is not None:
        stmt = stmt.where(Teacher.organisation_id == organisation_id)
    teachers, total = await page_of(session, stmt, page)
    if skill:  # skills are a JSON list: filtered here, on one page of a small table
        teachers = [teacher for teacher in teachers if skill.lower() in teacher.skills]
    return teachers, total


async def _check_class_refs(session: AsyncSession, data: ClassCreate | ClassUpdate) -> None:
    if isinstance(data, ClassCreate):
        await require(session, Organisation, data.organisation_id)
    await require(session, Teacher, data.fixed_teacher_id)
    await _require_all(session, Region, data.preferred_region_ids or [], "preferred_region_ids")


async def _require_class_keeper(session: AsyncSession, actor: Actor, organisation_id: int, doing: str) -> None:
    region = await organisation_region(session, organisation_id)
    allow(actor, manages_organisation(actor, organisation_id, region), doing)


async def create_class(session: AsyncSession, actor: Actor, data: ClassCreate) -> CommunityClass:
    await _check_class_refs(session, data)
    await _require_class_keeper(session, actor, data.organisation_id, "offer classes for this organisation")
    offer = CommunityClass.model_validate(data.model_dump())
    session.add(offer)
    await session.flush()
    return offer


async def update_class(session: AsyncSession, actor: Actor, class_id: int, data: ClassUpdate) -> CommunityClass:
    offer = await get_or_404(session, CommunityClass, class_id)
    await _require_class_keeper(session, actor, offer.organisation_id, "change this class")
    await _check_class_refs(session, data)
    apply_update(offer, data)
    await session.flush()
    return offer


async def delete_class(session: AsyncSession, actor: Actor, class_id: int) -> None:
    offer = await get_or_404(session, CommunityClass, class_id)
    await _require_class_keeper(session, actor, offer.organisation_id, "delete this class")
    await delete_unreferenced(session, offer, "class")


async def list_classes(
    session: AsyncSession,
    page: PageRequest,
    *,
    organisation_id: int | None,
    category: str | None,
    term_start: date | None,
    term_end: date | None,
) -> tuple[list[CommunityClass], int]:
    stmt = select(CommunityClass).order_by(CommunityClass.id)
    if organisation_id is not None:
        stmt = stmt.where(CommunityClass.organisation_id == organisation_id)
    if category:
        stmt = stmt.where(CommunityClass.category == category)
    if term_start is not None and term_end is not None and term_end < term_start:  # a filter may span terms
        raise InvalidRequest("term_end must not be before term_start", field="term_end")
    if term_start is not None:
        stmt = stmt.where(CommunityClass.term_end >= term_start)
    if term_end is not None:
        stmt = stmt.where(CommunityClass.term_start <= term_end)
    return await page_of(session, stmt, page)
