"""Teachers and community classes."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.errors import InvalidRequest
from booking.models import CommunityClass, Organisation, Region, Teacher, Venue
from booking.schemas.teaching import ClassCreate, ClassUpdate, TeacherCreate, TeacherUpdate, check_term
from booking.services.common import PageRequest, apply_update, get_or_404, page_of, require


async def _require_all(session: AsyncSession, model, ids: list[int], field: str) -> None:
    if not ids:
        return
    found = set(await session.scalars(select(model.id).where(model.id.in_(ids))))
    missing = sorted(set(ids) - found)
    if missing:
        raise InvalidRequest(f"unknown ids in {field}: {missing}", field=field)


async def _check_teacher_refs(session: AsyncSession, data: TeacherCreate | TeacherUpdate) -> None:
    await require(session, Organisation, data.organisation_id)
    await require(session, Region, data.home_region_id)
    await _require_all(session, Venue, data.refused_venue_ids or [], "refused_venue_ids")


async def create_teacher(session: AsyncSession, data: TeacherCreate) -> Teacher:
    await _check_teacher_refs(session, data)
    teacher = Teacher.model_validate(data.model_dump())
    session.add(teacher)
    await session.flush()
    return teacher


async def update_teacher(session: AsyncSession, teacher_id: int, data: TeacherUpdate) -> Teacher:
    teacher = await get_or_404(session, Teacher, teacher_id)
    await _check_teacher_refs(session, data)
    apply_update(teacher, data)
    await session.flush()
    return teacher


async def list_teachers(
    session: AsyncSession, page: PageRequest, *, organisation_id: int | None, skill: str | None
) -> tuple[list[Teacher], int]:
    stmt = select(Teacher).order_by(Teacher.id)
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


async def create_class(session: AsyncSession, data: ClassCreate) -> CommunityClass:
    await _check_class_refs(session, data)
    offer = CommunityClass.model_validate(data.model_dump())
    session.add(offer)
    await session.flush()
    return offer


async def update_class(session: AsyncSession, class_id: int, data: ClassUpdate) -> CommunityClass:
    offer = await get_or_404(session, CommunityClass, class_id)
    await _check_class_refs(session, data)
    apply_update(offer, data)
    await session.flush()
    return offer


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
    if term_start is not None and term_end is not None:
        check_term(term_start, term_end)
    if term_start is not None:
        stmt = stmt.where(CommunityClass.term_end >= term_start)
    if term_end is not None:
        stmt = stmt.where(CommunityClass.term_start <= term_end)
    return await page_of(session, stmt, page)
