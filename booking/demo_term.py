"""The demo's term of community classes: teachers, about sixty classes, and a committed allocation."""

import asyncio
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

import scheduling
from booking.rules.permissions import SYSTEM
from booking.schemas.teaching import AllocationCreate, ClassCreate, TeacherCreate, WeeklyWindow
from booking.services import allocations, teaching

TERM_WEEKS = 12
SOLVE_SECONDS = 10.0


def _every(days, opens: str, closes: str) -> tuple[WeeklyWindow, ...]:
    return tuple(WeeklyWindow(weekday=d, opens=opens, closes=closes) for d in days)


WEEKDAYS, WEEKEND, EVERY_DAY = range(5), range(5, 7), range(7)
WHEN = {
    "elderly": _every(WEEKDAYS, "09:00", "16:30"),
    "children": _every(WEEKDAYS, "17:30", "20:30") + _every(WEEKEND, "09:00", "17:00"),
    "rural": _every(EVERY_DAY, "18:30", "21:30"),
    "adults": _every(WEEKDAYS, "18:30", "21:30") + _every(WEEKEND, "09:00", "21:00"),
}


class Course(NamedTuple):
    title: str
    category: str
    audience: str  # a key of WHEN, also the target group
    skill: str
    sessions: int
    minutes: int
    learners: int
    features: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()  # the space kinds it accepts; none: any kind


# Talks take a classroom, a hall or a meeting room; movement wants a gym, a hall or a studio.
TALK, MOVEMENT, CRAFT = ("classroom", "hall", "meeting_room"), ("gym", "hall", "studio"), ("studio", "workshop")
COURSES = (
    Course("老年书法班", "arts", "elderly", "calligraphy", 2, 90, 20, (), ("classroom", *CRAFT)),
    Course(
        "老年智能手机课", "digital", "elderly", "smartphone", 1, 90, 20, ("projector",), ("classroom", "computer_lab")
    ),
    Course("太极拳", "fitness", "elderly", "taichi", 2, 60, 25, (), MOVEMENT),
    Course("银龄合唱团", "music", "elderly", "singing", 1, 90, 25, ("piano",), ("hall", "studio")),
    Course("竹编与织布手艺", "heritage", "rural", "weaving", 1, 120, 12, ("loom",), CRAFT),
    Course("农业实用技术", "agriculture", "rural", "agriculture", 1, 90, 30, ("projector",), TALK),
    Course("少儿科学实验", "science", "children", "science", 1, 90, 20, (), ("classroom", "workshop")),
    Course("少儿美术", "arts", "children", "painting", 1, 90, 18, ("sink",), ("classroom", *CRAFT)),
    Course("健身操", "fitness", "adults", "fitness", 2, 60, 25, ("sound-system",), MOVEMENT),
    Course("应急救护培训", "safety", "adults", "first-aid", 1, 120, 30, ("projector",), TALK),
    Course("家常菜烹饪", "cooking", "adults", "cooking", 1, 120, 16, (), ("kitchen",)),
    Course("社区英语角", "language", "adults", "english", 1, 90, 20, (), ("classroom", "reading_room", "meeting_room")),
)

# (community, organising community school): each runs every course for its residents.
COMMUNITIES = (
    ("滨江社区", "江滨街道社区学校"),
    ("书香社区", "文澜街道社区学校"),
    ("文澜社区", "文澜街道社区学校"),
    ("青山村", "青山镇成人文化技术学校"),
    ("桐溪村", "桐溪镇社区学校"),
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋"


def next_term(now: datetime) -> tuple[date, date]:
    """The term starts on the Monday after next and runs TERM_WEEKS weeks."""
    today = now.date()
    start = today + timedelta(days=7 + (7 - today.weekday()) % 7)
    return start, start + timedelta(weeks=TERM_WEEKS, days=-1)


async def plan_term(
    session: AsyncSession, region_ids: dict[str, int], organisation_ids: dict[str, int], *, now: datetime
) -> str:
    """Create teachers and the term's classes, allocate them and commit the plan."""
    term_start, term_end = next_term(now)
    skills = sorted({course.skill for course in COURSES})
    for index, skill in enumerate(skills * 2):
        staff = index < len(skills)
        await teaching.create_teacher(
            session,
            SYSTEM,
            TeacherCreate(
                name=f"{SURNAMES[index % len(SURNAMES)]}{'老师' if staff else '志愿者'}（{skill}）",
                kind="staff" if staff else "volunteer",
                skills=[skill],
                availability=list(WHEN["elderly"] + WHEN["adults"])
                if staff
                else list(_every(EVERY_DAY, "09:00", "21:30")),
                max_minutes_per_week=600 if staff else 360,
                home_region_id=region_ids[COMMUNITIES[index % len(COMMUNITIES)][0]],
            ),
        )
    for community, organiser in COMMUNITIES:
        for course in COURSES:
            await teaching.create_class(
                session,
                SYSTEM,
                ClassCreate(
                    title=f"{course.title}（{community}）",
                    category=course.category,
                    target_group=course.audience,
                    organisation_id=organisation_ids[organiser],
                    term_start=term_start,
                    term_end=term_end,
                    sessions_per_week=course.sessions,
                    session_minutes=course.minutes,
                    learners=course.learners,
                    required_features=list(course.features),
                    allowed_kinds=list(course.kinds),
                    required_skill=course.skill,
                    preferred_region_ids=[region_ids[community]],
                    allowed_windows=list(WHEN[course.audience]),
                    cohorts=[f"{course.audience}@{community}"],
                ),
            )
    run = await allocations.create_allocation(
        session, SYSTEM, AllocationCreate(term_start=term_start, term_end=term_end, time_limit_s=SOLVE_SECONDS), now=now
    )
    term = await allocations.load_term(session, run.id)
    result = await asyncio.to_thread(_solve, term)
    await allocations.store_result(session, run.id, result=result, error=None, now=now)
    committed = await allocations.commit_allocation(session, SYSTEM, run.id, now=now)
    booked = len(committed.commit_report["booked"])
    return (
        f"term {term_start}–{term_end}: {result['placed']} of {result['total']} classes placed, "
        f"{booked} weekly sessions booked (allocation {run.id})"
    )


def _solve(term: allocations.Term) -> dict:
    problem, reasons = allocations.build_problem(term)
    return allocations.describe(term, scheduling.solve(problem, time_limit_s=term.time_limit_s, seed=0), reasons)
