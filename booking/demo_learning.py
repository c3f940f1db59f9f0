"""The demo's residents' learning: about three hundred residents, their applications to the coming term,
one drawn lottery, and a running term whose past sessions have attendance, hence learning records.

Everything goes through the services with ``now`` set to when it would have happened, and in that
order (a timeline), so seat ranks, the draw, the audit trail and the records read like real history.
"""

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.demo_term import COURSES, Course, next_term
from booking.errors import ClassFull, NotFound
from booking.models import (
    DEFAULT_TIMEZONE,
    Application,
    ApplicationState,
    Attendance,
    AttendanceStatus,
    Booking,
    BookingState,
    ClassBooking,
    CommunityClass,
    EnrolmentMode,
    EnrolmentPolicy,
    LearningEvent,
    Region,
    RegionLevel,
    Resident,
    Role,
    RoleGrant,
    Space,
    User,
)
from booking.rules.permissions import SYSTEM, Actor
from booking.schemas.accounts import UserPublic
from booking.schemas.bookings import BookingCreate, Recurrence
from booking.schemas.enrolment import PolicyWrite, ResidentProfile
from booking.schemas.learning import AttendanceMark
from booking.schemas.teaching import ClassCreate, TeacherCreate
from booking.services import (
    attendance,
    bookings,
    draws,
    enrolment,
    enrolment_policies,
    learning_records,
    residents,
    teaching,
)

SEED = 20270301
RESIDENTS = 300
ZONE = ZoneInfo(DEFAULT_TIMEZONE)
DEMO_RESIDENT, DEMO_TEACHER, COUNTER_STAFF = "resident-li", "teacher-wang", "district-admin"
SCHOOL = "江滨街道社区学校"  # runs the running term's classes; the demo teacher teaches for it
HOME = "滨江社区"  # the demo resident's community, which the school's classes are for

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程苏魏吕丁沈"
GIVEN_NAMES = {  # (born before 1966, female): given names of that generation
    (True, True): ("秀英", "桂英", "玉兰", "秀兰", "凤英", "淑珍", "桂兰", "金凤", "玉梅", "美华", "翠萍", "丽华"),
    (True, False): ("建国", "建华", "国强", "志强", "德明", "国华", "文华", "长林", "福生", "永明", "和平", "卫东"),
    (False, True): ("欣怡", "梓萱", "雨桐", "佳怡", "婷婷", "丽娜", "静怡", "思琪", "晓燕", "慧敏", "海燕", "雪梅"),
    (False, False): ("浩然", "宇轩", "一诺", "思远", "俊杰", "晓明", "海峰", "志伟", "子豪", "家豪", "伟强", "磊"),
}
AREA_CODE = "339001"  # no county has it: the ID numbers are well-formed, and fake
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


class RunningClass(NamedTuple):
    course: str  # a title in demo_term.COURSES
    space: str  # at the school's own venue
    weekdays: tuple[int, ...]
    starts: str
    with_demo_resident: bool


# The running term began four weeks ago (on a Monday) and ends this Sunday, before the coming one.
RUNNING_WEEKS = 5
RUNNING = (
    RunningClass("老年书法班", "书法教室", (0, 2), "09:30", True),
    RunningClass("老年智能手机课", "第一教室", (1,), "14:00", True),
    RunningClass("家常菜烹饪", "烹饪教室", (5,), "09:30", False),
)
FIRST_COME_EVERY = 5  # every fifth class of the coming term gives its seats first come, first served
DRAWN_COURSE = "老年书法班"  # its coming-term class closed its lottery yesterday: last term's learners reapply
CHILDREN_MAX_AGE = 14
APPLYING_SHARE = 0.5  # of the residents, those who want a class in the coming term


@dataclass(frozen=True, slots=True)
class Person:
    user_id: int
    public_id: str
    username: str
    region_id: int
    birth_year: int
    reliability: float  # how likely they are to come to a session

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, resident=True)


@dataclass(frozen=True, slots=True)
class Offer:
    """A class that takes applications, as far as the demo needs to know it."""

    id: int
    title: str
    audience: str
    community_id: int
    seats: int


Action = Callable[[datetime], Awaitable[object]]


@dataclass
class Learning:
    """The demo's ids the learning part works with, its residents, and the history still to run."""

    session: AsyncSession
    rng: random.Random
    now: datetime
    home_id: int
    counter: Actor  # counter staff applying for residents who come in person
    towns: dict[int, int] = field(default_factory=dict)  # community → its town
    people: dict[int, Person] = field(default_factory=dict)
    agents: dict[int, Person] = field(default_factory=dict)  # resident → the family member acting for them
    steps: list[tuple[datetime, int, Action]] = field(default_factory=list)
    # Rows the services read on every call (regions, classes, policies, profiles), kept referenced so
    # that the session answers those reads from its identity map: hundreds of applications stay fast.
    kept: list[object] = field(default_factory=list)

    def keep(self, rows: Iterable[object]) -> list:
        found = list(rows)
        self.kept.extend(found)
        return found

    def at(self, when: datetime, action: Action) -> None:
        self.steps.append((when, len(self.steps), action))

    async def run(self) -> None:
        """Every planned step, in the order of its time (then of planning)."""
        for when, _, action in sorted(self.steps, key=lambda step: step[:2]):
            await action(when)
        self.steps.clear()

    def between(self, start: datetime, end: datetime) -> datetime:
        return start + timedelta(seconds=self.rng.uniform(0, (end - start).total_seconds()))


async def load_learning(
    session: AsyncSession,
    region_ids: dict[str, int],
    organisation_ids: dict[str, int],
    space_ids: dict[tuple[str, str], int],
    users: dict[str, UserPublic],
    *,
    password: Callable[[str], str],
    now: datetime,
) -> str:
    """Residents; a running term with attendance for its past sessions; the coming term's
    applications, one class's lottery drawn; a summary with the demo resident's and teacher's sign-in."""
    counter = Actor(user_id=users[COUNTER_STAFF].id, admin_regions=frozenset(region_ids.values()))
    world = Learning(session, random.Random(SEED), now, region_ids[HOME], counter)
    regions = world.keep(await session.scalars(select(Region).where(Region.id.in_(region_ids.values()))))
    world.towns = {region.id: region.parent_id for region in regions if region.level == RegionLevel.community}
    demo = await _register_residents(world, users[DEMO_RESIDENT].id)
    school_id = organisation_ids[SCHOOL]
    running = await _running_term(world, school_id, space_ids, users[DEMO_TEACHER].id, demo)
    await world.run()
    drawn = await _coming_term(world, demo)
    await world.run()
    summary = await _summary(world, region_ids, running, drawn)
    roll = f"GET /api/v1/classes/{running.class_ids[0]}/sessions/{running.last_session}/attendance"
    return (
        f"{summary}\nlearning sign-ins: resident: {DEMO_RESIDENT} / {password(DEMO_RESIDENT)} "
        f"(GET /api/v1/me/learning-record); teacher: {DEMO_TEACHER} / {password(DEMO_TEACHER)} ({roll})"
    )


# ---- residents ------------------------------------------------------------------------------------


def id_number(rng: random.Random, birthday: date, female: bool) -> str:
    """An 18-digit resident ID number: area, birthday, a sequence whose parity is the sex, check digit."""
    sequence = rng.randrange(0, 999, 2) + (0 if female else 1)
    body = f"{AREA_CODE}{birthday:%Y%m%d}{sequence:03d}"
    return body + ID_CHECK[sum(int(digit) * weight for digit, weight in zip(body, ID_WEIGHTS, strict=True)) % 11]


class Registration(NamedTuple):
    username: str
    registered_at: datetime
    profile: ResidentProfile


def _registration(rng: random.Random, index: int, region_id: int, registered_at: datetime) -> Registration:
    """Mostly retired people (born 1945–1965), some younger."""
    born = rng.randint(1945, 1965) if rng.random() < 0.7 else rng.randint(1966, 2010)
    female = rng.random() < 0.6
    surname = rng.choices(SURNAMES, weights=range(len(SURNAMES), 0, -1))[0]
    profile = ResidentProfile(
        display_name=surname + rng.choice(GIVEN_NAMES[born < 1966, female]),
        home_region_id=region_id,
        birth_year=born,
        phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
        id_number=id_number(rng, date(born, rng.randint(1, 12), rng.randint(1, 28)), female),
    )
    return Registration(f"resident-{index:03d}", registered_at, profile)


async def _register_residents(world: Learning, demo_user_id: int) -> Person:
    """Residents registered over the past year, each with a resident's account (no password until they
    set one: hashing hundreds would be slow) and the profile they filled in; the demo resident's
    profile; and family members some elders name as their agents. Returns the demo resident."""
    rng, communities = world.rng, sorted(world.towns)
    days_ago = sorted((rng.randint(90, 400) for _ in range(RESIDENTS)), reverse=True)
    forms = [
        _registration(rng, index, rng.choice(communities), world.now - timedelta(days))
        for index, days in enumerate(days_ago, start=1)
    ]
    accounts = await _resident_accounts(world.session, forms)
    for form, user_id in zip(forms, accounts, strict=True):
        actor = Actor(user_id=user_id, resident=True)
        resident = await residents.put_own_profile(world.session, actor, form.profile, now=form.registered_at)
        world.keep([resident])
        reliability = rng.choices((0.95, 0.8, 0.5), weights=(5, 3, 2))[0]
        world.people[user_id] = _person(resident, form.username, reliability)
    profile = ResidentProfile(
        display_name="李秀英",
        home_region_id=world.home_id,
        birth_year=1956,
        phone="13805710023",
        id_number=id_number(rng, date(1956, 3, 4), female=True),
    )
    demo_actor = Actor(user_id=demo_user_id, resident=True)
    demo = await residents.put_own_profile(world.session, demo_actor, profile, now=world.now - timedelta(days=100))
    await _name_agents(world)
    return _person(demo, DEMO_RESIDENT, reliability=1.0)


async def _resident_accounts(session: AsyncSession, forms: list[Registration]) -> list[int]:
    """Accounts holding the resident role, written in bulk; their ids in the order of ``forms``."""
    users = [
        {
            "username": form.username,
            "password_hash": residents.UNUSABLE_PASSWORD,
            "display_name": form.profile.display_name,
            "created_at": form.registered_at,
        }
        for form in forms
    ]
    await session.execute(insert(User), users)
    usernames = [form.username for form in forms]
    ids = dict((await session.execute(select(User.username, User.id).where(User.username.in_(usernames)))).all())
    await session.execute(insert(RoleGrant), [{"user_id": ids[name], "role": Role.resident} for name in usernames])
    return [ids[name] for name in usernames]


def _person(resident: Resident, username: str, reliability: float) -> Person:
    return Person(
        resident.user_id, resident.public_id, username, resident.home_region_id, resident.birth_year, reliability
    )


async def _name_agents(world: Learning) -> None:
    younger = [p for p in world.people.values() if p.birth_year >= 1966]
    for elder in [p for p in world.people.values() if p.birth_year < 1955]:
        family = [p for p in younger if p.region_id == elder.region_id]
        if family and world.rng.random() < 0.35:
            agent = world.rng.choice(family)
            await residents.add_agent(world.session, elder.actor, agent.username, now=world.now - timedelta(days=80))
            world.agents[elder.user_id] = agent


def _suits(person: Person, audience: str, term_start: date) -> bool:
    age = term_start.year - person.birth_year
    return {"elderly": age >= 55, "adults": 18 <= age <= 70, "rural": age >= 18}.get(audience, False)


# ---- applying -------------------------------------------------------------------------------------


def _plan_application(world: Learning, person: Person, class_id: int, when: datetime) -> None:
    """Often an elder's agent applies for them, and some elders come to the counter."""
    agent = world.agents.get(person.user_id)
    actor, on_behalf_of = person.actor, None
    if agent is not None and world.rng.random() < 0.6:
        actor, on_behalf_of = agent.actor, person.public_id
    elif person.birth_year < 1955 and world.rng.random() < 0.3:
        actor, on_behalf_of = world.counter, person.public_id
    world.at(when, partial(_apply, world.session, actor, class_id, on_behalf_of))


async def _apply(session: AsyncSession, actor: Actor, class_id: int, on_behalf_of: str | None, now: datetime) -> None:
    try:
        await enrolment.apply(session, actor, class_id, on_behalf_of, now=now)
    except ClassFull:  # a first-come class filled up before they came
        pass


async def _withdraw(session: AsyncSession, person: Person, class_id: int, now: datetime) -> None:
    try:
        await enrolment.withdraw(session, person.actor, class_id, None, now=now)
    except NotFound:  # the class was full: there is nothing to withdraw
        pass


async def _put_policy(
    world: Learning, offer: Offer, mode: EnrolmentMode, opens_at: datetime, closes_at: datetime
) -> None:
    """Set when the policy's window opens (that is when its lottery commitment is published)."""
    max_age = CHILDREN_MAX_AGE if offer.audience == "children" else None
    policy = PolicyWrite(opens_at=opens_at, closes_at=closes_at, seats=offer.seats, mode=mode, max_age=max_age)
    await enrolment_policies.put_policy(world.session, SYSTEM, offer.id, policy, now=opens_at)
    world.keep([await world.session.get(EnrolmentPolicy, offer.id)])


async def _offers(world: Learning, term_start: date) -> list[Offer]:
    """The term's classes holding booked spaces, with seats for its learners as far as the smallest fits."""
    session = world.session
    capacities = await session.execute(
        select(ClassBooking.class_id, func.min(Space.capacity))
        .join(Booking, Booking.id == ClassBooking.booking_id)
        .join(Space, Space.id == Booking.space_id)
        .join(CommunityClass, CommunityClass.id == ClassBooking.class_id)
        .where(CommunityClass.term_start == term_start, Booking.state == BookingState.confirmed)
        .group_by(ClassBooking.class_id)
    )
    capacity = dict(capacities.all())
    found = world.keep(
        await session.scalars(select(CommunityClass).where(CommunityClass.id.in_(capacity)).order_by(CommunityClass.id))
    )
    return [
        Offer(c.id, c.title, c.target_group, c.preferred_region_ids[0], min(c.learners, capacity[c.id])) for c in found
    ]


# ---- the running term: enrolled before it began, its past sessions held --------------------------


@dataclass(frozen=True, slots=True)
class Running:
    term_start: date
    term_end: date
    class_ids: list[int]
    last_session: date | None  # of the first class, for the teacher's roll


def _local(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=ZONE)


def _course(title: str) -> Course:
    return next(course for course in COURSES if course.title == title)


async def _running_term(
    world: Learning, school_id: int, space_ids: dict[tuple[str, str], int], teacher_user_id: int, demo: Person
) -> Running:
    """The school's classes this term, first come first served, taught by the demo teacher, whose roll
    (and some residents' own check-in) records every session that has ended."""
    today = world.now.astimezone(ZONE).date()
    term_start = today - timedelta(days=today.weekday(), weeks=RUNNING_WEEKS - 1)
    term_end = term_start + timedelta(weeks=RUNNING_WEEKS, days=-1)
    teacher = await teaching.create_teacher(
        world.session,
        SYSTEM,
        TeacherCreate(
            name="王建华",
            display_name="王老师",
            organisation_id=school_id,
            skills=sorted({_course(row.course).skill for row in RUNNING}),
            home_region_id=world.home_id,
            user_id=teacher_user_id,
        ),
    )
    class_ids = []
    for row in RUNNING:
        offer = await _running_class(world, row, school_id, space_ids[SCHOOL, row.space], teacher.id, term_start)
        class_ids.append(offer.id)
        _plan_running_enrolment(world, offer, term_start, demo if row.with_demo_resident else None)
    ended = [s for s in await attendance.class_sessions(world.session, class_ids) if s.ends_at <= world.now]
    last = {s.class_id: s for s in ended}
    teacher_actor = Actor(user_id=teacher_user_id, teaches_for=frozenset({school_id}))
    for found in ended:
        hold = partial(_hold_session, world, teacher_actor, found, demo, last[found.class_id] is found)
        world.at(min(found.ends_at + timedelta(minutes=10), world.now), hold)
    last_of_first = last.get(class_ids[0])
    return Running(term_start, term_end, class_ids, last_of_first.local_date if last_of_first else None)


async def _running_class(
    world: Learning, row: RunningClass, school_id: int, space_id: int, teacher_id: int, term_start: date
) -> Offer:
    """A class with one weekly booking series per session of the week, booked a month ahead, as a
    committed allocation would have left it; its enrolment window closed the day before it began."""
    course = _course(row.course)
    offer = await teaching.create_class(
        world.session,
        SYSTEM,
        ClassCreate(
            title=f"{course.title}（{HOME}）",
            category=course.category,
            target_group=course.audience,
            organisation_id=school_id,
            term_start=term_start,
            term_end=term_start + timedelta(weeks=RUNNING_WEEKS, days=-1),
            sessions_per_week=len(row.weekdays),
            session_minutes=course.minutes,
            learners=course.learners,
            required_skill=course.skill,
            preferred_region_ids=[world.home_id],
        ),
    )
    for index, weekday in enumerate(row.weekdays):
        starts_at = _local(term_start + timedelta(days=weekday), row.starts)
        series = BookingCreate(
            space_id=space_id,
            organisation_id=school_id,
            title=offer.title,
            attendees=course.learners,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=course.minutes),
            recurrence=Recurrence(rrule=f"FREQ=WEEKLY;COUNT={RUNNING_WEEKS}"),
        )
        booked = await bookings.request_booking(world.session, SYSTEM, series, now=starts_at - timedelta(days=30))
        world.session.add(
            ClassBooking(booking_id=booked.id, class_id=offer.id, teacher_id=teacher_id, session_index=index)
        )
    await world.session.flush()
    placed = next(o for o in await _offers(world, term_start) if o.id == offer.id)
    await _put_policy(world, placed, EnrolmentMode.first_come, *_running_window(term_start))
    return placed


def _running_window(term_start: date) -> tuple[datetime, datetime]:
    return _local(term_start - timedelta(days=21), "09:00"), _local(term_start - timedelta(days=1), "18:00")


def _plan_running_enrolment(world: Learning, offer: Offer, term_start: date, demo: Person | None) -> None:
    """Neighbours of the school take most seats; the demo resident comes on the window's first morning."""
    opens_at, closes_at = _running_window(term_start)
    town = world.towns[world.home_id]
    neighbours = [
        p for p in world.people.values() if world.towns[p.region_id] == town and _suits(p, offer.audience, term_start)
    ]
    taken = world.rng.sample(neighbours, min(len(neighbours), offer.seats - world.rng.randint(1, 4)))
    for person in taken:
        _plan_application(world, person, offer.id, world.between(opens_at, closes_at))
    if demo is not None:
        world.at(opens_at + timedelta(minutes=40), partial(_apply, world.session, demo.actor, offer.id, None))


def _mark(world: Learning, person: Person, minutes: int) -> AttendanceMark:
    """Present mostly; otherwise late, left early or absent, as the person's habits make likely."""
    draw = world.rng.random()
    if draw < person.reliability:
        return AttendanceMark(resident_id=person.user_id, status=AttendanceStatus.present)
    status = world.rng.choices(
        [AttendanceStatus.late, AttendanceStatus.left_early, AttendanceStatus.absent], [3, 2, 5]
    )[0]
    missed = 0 if status == AttendanceStatus.absent else world.rng.choice((10, 15, 20, 30))
    attended = minutes - missed if status != AttendanceStatus.absent else None
    return AttendanceMark(resident_id=person.user_id, status=status, minutes=attended)


async def _hold_session(
    world: Learning, teacher: Actor, found: attendance.ClassSession, demo: Person, latest: bool, now: datetime
) -> None:
    """After a session the teacher takes the roll; at the latest one many checked in with the code."""
    enrolled = await world.session.scalars(
        select(Application.resident_id)
        .where(Application.class_id == found.class_id, Application.state == ApplicationState.enrolled)
        .order_by(Application.rank)
    )
    learners = [demo if resident_id == demo.user_id else world.people[resident_id] for resident_id in enrolled]
    marks = [_mark(world, person, found.minutes) for person in learners]
    if latest:
        marks = await _self_check_ins(world, teacher, found, learners, marks, demo)
    await attendance.take_roll(world.session, teacher, found.class_id, found.local_date, marks, now=now)


async def _self_check_ins(
    world: Learning,
    teacher: Actor,
    found: attendance.ClassSession,
    learners: list[Person],
    marks: list[AttendanceMark],
    demo: Person,
) -> list[AttendanceMark]:
    """The demo resident and about half of those present check in themselves; the roll is the rest."""
    shown = found.starts_at - timedelta(minutes=10)
    code = await attendance.session_code(world.session, teacher, found.class_id, found.local_date, now=shown)
    left = []
    for index, (person, mark) in enumerate(zip(learners, marks, strict=True)):
        present = mark.status == AttendanceStatus.present
        if present and (person is demo or world.rng.random() < 0.5):
            arrived = shown + timedelta(minutes=5, seconds=15 * index)
            await attendance.check_in(world.session, person.actor, found.class_id, code.code, now=arrived)
        else:
            left.append(mark)
    return left


# ---- the coming term ------------------------------------------------------------------------------


async def _coming_term(world: Learning, demo: Person) -> Offer:
    """Every placed class opens its window: one closed yesterday and was drawn, the rest are open for a
    week since three days ago. Residents apply to one to three classes near home; a few withdraw."""
    term_start, _ = next_term(world.now)
    offers = await _offers(world, term_start)
    drawn = next((o for o in offers if o.title == f"{DRAWN_COURSE}（{HOME}）"), None)
    drawn = drawn or next(o for o in offers if o.audience == "elderly")
    opens_at = world.now - timedelta(days=3)
    windows = {offer.id: (opens_at, opens_at + timedelta(days=7)) for offer in offers}
    windows[drawn.id] = (world.now - timedelta(days=10), world.now - timedelta(days=1))
    for index, offer in enumerate(offers):
        first_come = index % FIRST_COME_EVERY == FIRST_COME_EVERY - 1 and offer is not drawn
        await _put_policy(
            world, offer, EnrolmentMode.first_come if first_come else EnrolmentMode.lottery, *windows[offer.id]
        )
    for person in world.people.values():
        if world.rng.random() >= APPLYING_SHARE:
            continue
        for offer in _choices(world, person, offers, drawn, term_start):
            start, end = windows[offer.id]
            when = world.between(start, min(end, world.now))
            _plan_application(world, person, offer.id, when)
            if world.rng.random() < 0.05 and offer is not drawn:
                world.at(world.between(when, world.now), partial(_withdraw, world.session, person, offer.id))
    drawn_at = windows[drawn.id][1] + timedelta(minutes=1)  # as the sweeper would
    world.at(world.between(*windows[drawn.id]), partial(_apply, world.session, demo.actor, drawn.id, None))
    world.at(drawn_at, partial(_draw, world.session, drawn.id))
    world.at(drawn_at + timedelta(hours=20), partial(_give_up_seats, world, drawn.id, 2))
    return drawn


def _choices(world: Learning, person: Person, offers: list[Offer], drawn: Offer, term_start: date) -> list[Offer]:
    """One to three classes of the person's town that suit their age, their own community's first."""
    town = world.towns[person.region_id]
    candidates = [
        o for o in offers if world.towns.get(o.community_id) == town and _suits(person, o.audience, term_start)
    ]
    weights = [(3 if o.community_id == person.region_id else 1) * (12 if o is drawn else 1) for o in candidates]
    chosen: list[Offer] = []
    for _ in range(world.rng.choices((1, 2, 3), weights=(5, 3, 2))[0]):
        if not candidates:
            break
        pick = world.rng.choices(range(len(candidates)), weights=weights)[0]
        chosen.append(candidates.pop(pick))
        weights.pop(pick)
    return chosen


async def _draw(session: AsyncSession, class_id: int, now: datetime) -> None:
    await draws.draw(session, class_id, now=now)


async def _give_up_seats(world: Learning, class_id: int, count: int, now: datetime) -> None:
    """Some drawn residents give up their seat; each goes to the waitlist's next."""
    holders = await world.session.scalars(
        select(Application.resident_id)
        .where(Application.class_id == class_id, Application.state == ApplicationState.enrolled)
        .order_by(Application.rank.desc())
        .limit(count)
    )
    for resident_id in holders.all():
        if resident_id in world.people:
            await _withdraw(world.session, world.people[resident_id], class_id, now)


# ---- the summary ----------------------------------------------------------------------------------


async def _summary(world: Learning, region_ids: dict[str, int], running: Running, drawn: Offer) -> str:
    session, now = world.session, world.now
    profiles = await session.scalar(select(func.count()).select_from(Resident))
    term_start, _ = next_term(now)
    coming = (
        await session.execute(
            select(Application.state, Application.channel).where(Application.term_start == term_start)
        )
    ).all()
    states, channels = Counter(state for state, _ in coming), Counter(channel for _, channel in coming)
    waitlisted = await session.scalar(
        select(func.count()).where(Application.class_id == drawn.id, Application.state == ApplicationState.waitlisted)
    )
    promoted = await session.scalar(
        select(func.count()).where(LearningEvent.class_id == drawn.id, LearningEvent.kind == "promoted")
    )
    rows = await session.scalar(select(func.count()).select_from(Attendance))
    records = await learning_records.records(session, running.class_ids, now=now)
    return (
        f"residents' learning: {profiles} residents ({len(world.agents)} with a family member as agent); "
        f"coming term: {len(coming)} applications ({_counts(states)}; by {_counts(channels)}); "
        f"lottery of class {drawn.id} {drawn.title} drawn: {drawn.seats} seats, {waitlisted} waitlisted, "
        f"{promoted} promoted (verify: venueshare lottery verify {drawn.id})\n"
        f"running term {running.term_start}–{running.term_end} at {SCHOOL}: {len(running.class_ids)} classes, "
        f"{rows} attendance rows, {sum(r.tally.completed for r in records)} of {len(records)} learners completed "
        f"(CSV export of the district's learning records: {await _exported_rows(world, region_ids)} rows)"
    )


async def _exported_rows(world: Learning, region_ids: dict[str, int]) -> int:
    district = await world.session.scalar(
        select(Region.id).where(Region.id.in_(region_ids.values()), Region.level == RegionLevel.district)
    )
    export = await learning_records.export_csv(
        world.session, world.counter, region_id=district, organisation_id=None, term_start=None, now=world.now
    )
    return len(export.splitlines()) - 1  # less the header


def _counts(counter: Counter) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counter.items(), key=lambda item: -item[1]))
