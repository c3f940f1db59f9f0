"""A fictional district with its places, spaces and upcoming bookings, loaded once."""

from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from booking.config import Settings
from booking.db import create_engine, sessionmakers
from booking.demo_learning import load_learning
from booking.demo_term import plan_term
from booking.errors import BookingConflict, OutsideOpeningHours, PolicyViolation, SpaceClosed
from booking.models import DEFAULT_TIMEZONE, Approval, OrganisationKind, Region, RegionLevel, SpaceKind, VenueKind
from booking.models.accounts import Role
from booking.rules.permissions import SYSTEM, Actor
from booking.schemas.accounts import UserCreate
from booking.schemas.bookings import BookingCreate, OnConflict, Recurrence
from booking.schemas.calendars import OpeningWindow
from booking.schemas.places import OrganisationCreate, RegionCreate, SpaceCreate, VenueCreate
from booking.schemas.policies import PolicyRules
from booking.services import accounts, bookings, calendars, places, policies, spaces

DISTRICT = "临江区"
VENUE_ZONE = ZoneInfo(DEFAULT_TIMEZONE)

TOWNS: dict[str, tuple[str, ...]] = {
    "江滨街道": ("滨江社区", "望潮社区", "春晓社区"),
    "文澜街道": ("文澜社区", "学府社区", "书香社区"),
    "青山镇": ("青山村", "竹溪村", "桃源村"),
    "桐溪镇": ("桐溪村", "柳岸村"),
}

ORGANISATIONS: dict[OrganisationKind, tuple[tuple[str, str], ...]] = {
    OrganisationKind.school: (
        ("临江区实验小学", "滨江社区"),
        ("临江区文澜中学", "学府社区"),
        ("青山镇中心小学", "青山村"),
    ),
    OrganisationKind.library: (("临江区图书馆", "文澜社区"),),
    OrganisationKind.study_room_operator: (("书山自习室", "春晓社区"),),
    OrganisationKind.sports_centre: (("临江区体育中心", "春晓社区"),),
    OrganisationKind.community_centre: (("望潮社区邻里中心", "望潮社区"), ("滨江社区文化家园", "滨江社区")),
    OrganisationKind.community_college: (("临江社区学院", "书香社区"),),
    OrganisationKind.community_school: (
        ("江滨街道社区学校", "江滨街道"),
        ("文澜街道社区学校", "文澜街道"),
        ("青山镇成人文化技术学校", "青山镇"),
        ("桐溪镇社区学校", "桐溪镇"),
    ),
    OrganisationKind.learning_point: (
        ("竹溪村学习点", "竹溪村"),
        ("柳岸村农家书屋", "柳岸村"),
        ("书香社区老年学习点", "书香社区"),
    ),
    OrganisationKind.government: (("临江区教育局", DISTRICT), ("桐溪村村民委员会", "桐溪村")),
    OrganisationKind.ngo: (
        ("临江绿野环保协会", DISTRICT),
        ("银龄互助服务社", "文澜街道"),
        ("青苗公益助学中心", "青山镇"),
    ),
    OrganisationKind.learning_group: (
        ("望潮合唱团", "望潮社区"),
        ("竹溪编织小组", "竹溪村"),
        ("书香读书会", "书香社区"),
        ("江滨太极拳队", "滨江社区"),
        ("创客少年社", "学府社区"),
    ),
}


class VenueRow(NamedTuple):
    name: str
    owner: str
    region: str
    street: str
    latitude: float
    longitude: float


VENUES: dict[VenueKind, tuple[VenueRow, ...]] = {
    VenueKind.school: (
        VenueRow("临江区实验小学", "临江区实验小学", "滨江社区", "滨江路88号", 30.2071, 120.2132),
        VenueRow("临江区文澜中学", "临江区文澜中学", "学府社区", "学府路12号", 30.2188, 120.1856),
        VenueRow("青山镇中心小学", "青山镇中心小学", "青山村", "青山路5号", 30.1602, 120.1511),
    ),
    VenueKind.library: (
        VenueRow("临江区图书馆", "临江区图书馆", "文澜社区", "文澜大道200号", 30.2156, 120.1902),
        VenueRow("临江区图书馆江滨分馆", "临江区图书馆", "望潮社区", "望潮路31号", 30.2032, 120.2201),
        VenueRow("临江区图书馆青山分馆", "临江区图书馆", "桃源村", "桃源路16号", 30.1548, 120.1437),
    ),
    VenueKind.study_room: (
        VenueRow("书山自习室·春晓店", "书山自习室", "春晓社区", "春晓路66号", 30.2103, 120.2264),
        VenueRow("书山自习室·学府店", "书山自习室", "学府社区", "学府路97号", 30.2201, 120.1823),
        VenueRow("桐溪共享自习室", "书山自习室", "桐溪村", "溪口街8号", 30.1412, 120.2385),
    ),
    VenueKind.sports_venue: (
        VenueRow("临江区体育中心", "临江区体育中心", "春晓社区", "体育场路1号", 30.2122, 120.2305),
        VenueRow("青山镇全民健身中心", "临江区体育中心", "青山镇", "健身路3号", 30.1631, 120.1552),
        VenueRow("桐溪镇体育公园", "临江区体育中心", "柳岸村", "柳岸路20号", 30.1376, 120.2452),
    ),
    VenueKind.community_centre: (
        VenueRow("望潮社区邻里中心", "望潮社区邻里中心", "望潮社区", "望潮路9号", 30.2018, 120.2176),
        VenueRow("滨江社区文化家园", "滨江社区文化家园", "滨江社区", "滨江路120号", 30.2059, 120.2098),
        VenueRow("桐溪村文化礼堂", "桐溪村村民委员会", "桐溪村", "中心街1号", 30.1425, 120.2410),
    ),
    VenueKind.community_school: (
        VenueRow("江滨街道社区学校", "江滨街道社区学校", "滨江社区", "闻涛路45号", 30.2084, 120.2157),
        VenueRow("文澜街道社区学校", "文澜街道社区学校", "书香社区", "书香路18号", 30.2232, 120.1881),
        VenueRow("青山镇成人学校", "青山镇成人文化技术学校", "青山村", "文化路22号", 30.1589, 120.1486),
        VenueRow("桐溪镇社区学校", "桐溪镇社区学校", "柳岸村", "柳岸路6号", 30.1398, 120.2431),
    ),
    VenueKind.learning_point: (
        VenueRow("竹溪村学习点", "竹溪村学习点", "竹溪村", "竹溪村文化中心二楼", 30.1667, 120.1398),
        VenueRow("柳岸村农家书屋", "柳岸村农家书屋", "柳岸村", "柳岸村村委会一楼", 30.1359, 120.2476),
        VenueRow("书香社区老年学习点", "书香社区老年学习点", "书香社区", "书香路56号", 30.2247, 120.1915),
    ),
    VenueKind.community_college: (
        VenueRow("临江社区学院", "临江社区学院", "书香社区", "求知路100号", 30.2265, 120.1868),
        VenueRow("临江社区学院青山教学点", "临江社区学院", "桃源村", "桃源路40号", 30.1561, 120.1459),
    ),
}


class SpaceRow(NamedTuple):
    name: str
    kind: SpaceKind
    capacity: int
    features: str = ""
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    parts: tuple["SpaceRow", ...] = ()


SCHOOL_HALL_COURTS = tuple(SpaceRow(f"篮球场{side}", SpaceKind.court, 120, "scoreboard") for side in "ABC")
ARENA_COURTS = (
    SpaceRow("主馆东场", SpaceKind.court, 300, "scoreboard"),
    SpaceRow("主馆西场", SpaceKind.court, 300, "scoreboard"),
)
MULTI_PURPOSE_HALVES = (
    SpaceRow("多功能厅东区", SpaceKind.meeting_room, 70, "projector step-free"),
    SpaceRow("多功能厅西区", SpaceKind.meeting_room, 70, "step-free"),
)

SPACES: dict[str, tuple[SpaceRow, ...]] = {
    "临江区实验小学": (
        SpaceRow("多功能礼堂", SpaceKind.hall, 400, "stage sound-system projector step-free", 30, 30),
        SpaceRow("音乐教室", SpaceKind.studio, 40, "piano sound-system"),
        SpaceRow("美术教室", SpaceKind.workshop, 36, "sink easels"),
        SpaceRow("计算机教室", SpaceKind.computer_lab, 45, "computers projector"),
        SpaceRow("风雨操场", SpaceKind.gym, 200, "changing-rooms"),
        SpaceRow("田径场", SpaceKind.field, 500, "floodlights"),
    ),
    "临江区文澜中学": (
        SpaceRow("体育馆", SpaceKind.hall, 360, "changing-rooms scoreboard step-free", 15, 15, SCHOOL_HALL_COURTS),
        SpaceRow("报告厅", SpaceKind.hall, 300, "projector sound-system hearing-loop step-free", 30, 30),
        SpaceRow("创客实验室", SpaceKind.workshop, 30, "computers 3d-printer laser-cutter"),
        SpaceRow("计算机房", SpaceKind.computer_lab, 50, "computers projector"),
        SpaceRow("家政教室", SpaceKind.kitchen, 24, "kitchen"),
        SpaceRow("足球场", SpaceKind.field, 300, "floodlights changing-rooms"),
    ),
    "青山镇中心小学": (
        SpaceRow("多媒体教室", SpaceKind.classroom, 50, "projector whiteboard"),
        SpaceRow("图书室", SpaceKind.reading_room, 40, "quiet"),
        SpaceRow("操场", SpaceKind.field, 300),
    ),
    "临江区图书馆": (
        SpaceRow("阅览大厅", SpaceKind.reading_room, 200, "quiet wifi step-free hearing-loop"),
        SpaceRow("少儿阅览室", SpaceKind.reading_room, 60, "step-free"),
        SpaceRow("多功能报告厅", SpaceKind.hall, 180, "projector sound-system hearing-loop step-free", 30, 30),
        SpaceRow("研讨室一", SpaceKind.meeting_room, 10, "whiteboard screen"),
        SpaceRow("研讨室二", SpaceKind.meeting_room, 12, "whiteboard"),
        SpaceRow("数字体验室", SpaceKind.computer_lab, 30, "computers vr-headsets"),
    ),
    "临江区图书馆江滨分馆": (
        SpaceRow("阅览室", SpaceKind.reading_room, 80, "quiet wifi step-free"),
        SpaceRow("亲子绘本室", SpaceKind.reading_room, 30, "step-free"),
        SpaceRow("讲座室", SpaceKind.classroom, 60, "projector hearing-loop"),
    ),
    "临江区图书馆青山分馆": (
        SpaceRow("阅览室", SpaceKind.reading_room, 40, "quiet wifi"),
        SpaceRow("活动室", SpaceKind.meeting_room, 20, "whiteboard"),
    ),
    "书山自习室·春晓店": (
        SpaceRow("静音自习区", SpaceKind.reading_room, 60, "quiet power-outlets wifi"),
        SpaceRow("小组讨论室", SpaceKind.meeting_room, 8, "whiteboard screen"),
    ),
    "书山自习室·学府店": (
        SpaceRow("自习区", SpaceKind.reading_room, 80, "quiet power-outlets wifi"),
        SpaceRow("讨论室A", SpaceKind.meeting_room, 6, "whiteboard"),
        SpaceRow("讨论室B", SpaceKind.meeting_room, 6, "whiteboard"),
    ),
    "桐溪共享自习室": (SpaceRow("自习区", SpaceKind.reading_room, 30, "quiet power-outlets wifi"),),
    "临江区体育中心": (
        SpaceRow(
            "主体育馆", SpaceKind.hall, 800, "changing-rooms scoreboard sound-system step-free", 30, 30, ARENA_COURTS
        ),
        SpaceRow("乒乓球室", SpaceKind.gym, 60, "changing-rooms"),
        SpaceRow("健身房", SpaceKind.gym, 80, "changing-rooms showers"),
        SpaceRow("舞蹈房", SpaceKind.studio, 40, "mirrors sound-system"),
        SpaceRow("室外足球场", SpaceKind.field, 300, "floodlights changing-rooms", 0, 15),
        SpaceRow("网球场", SpaceKind.court, 20, "floodlights"),
    ),
    "青山镇全民健身中心": (
        SpaceRow("篮球馆", SpaceKind.court, 100, "changing-rooms"),
        SpaceRow("健身室", SpaceKind.gym, 30),
        SpaceRow("门球场", SpaceKind.field, 40),
    ),
    "桐溪镇体育公园": (
        SpaceRow("足球场", SpaceKind.field, 200, "floodlights"),
        SpaceRow("篮球场", SpaceKind.court, 80, "floodlights"),
    ),
    "望潮社区邻里中心": (
        SpaceRow("多功能厅", SpaceKind.hall, 140, "projector sound-system step-free", 15, 15, MULTI_PURPOSE_HALVES),
        SpaceRow("共享厨房", SpaceKind.kitchen, 20, "kitchen step-free", 15, 30),
        SpaceRow("书画室", SpaceKind.studio, 30, "sink easels"),
        SpaceRow("会议室", SpaceKind.meeting_room, 20, "screen whiteboard"),
    ),
    "滨江社区文化家园": (
        SpaceRow("活动大厅", SpaceKind.hall, 120, "sound-system step-free"),
        SpaceRow("棋牌室", SpaceKind.meeting_room, 24),
        SpaceRow("舞蹈室", SpaceKind.studio, 30, "mirrors sound-system"),
    ),
    "桐溪村文化礼堂": (
        SpaceRow("礼堂", SpaceKind.hall, 300, "stage sound-system", 30, 30),
        SpaceRow("农家厨房", SpaceKind.kitchen, 30, "kitchen"),
        SpaceRow("非遗工坊", SpaceKind.workshop, 20, "loom"),
    ),
    "江滨街道社区学校": (
        SpaceRow("第一教室", SpaceKind.classroom, 40, "projector whiteboard"),
        SpaceRow("第二教室", SpaceKind.classroom, 40, "whiteboard"),
        SpaceRow("烹饪教室", SpaceKind.kitchen, 20, "kitchen", 15, 30),
        SpaceRow("书法教室", SpaceKind.studio, 30, "sink"),
    ),
    "文澜街道社区学校": (
        SpaceRow("多功能教室", SpaceKind.classroom, 50, "projector whiteboard hearing-loop"),
        SpaceRow("电脑培训室", SpaceKind.computer_lab, 30, "computers projector"),
        SpaceRow("手工坊", SpaceKind.workshop, 24, "loom sink"),
    ),
    "青山镇成人学校": (
        SpaceRow("培训教室", SpaceKind.classroom, 60, "projector whiteboard"),
        SpaceRow("农技实训室", SpaceKind.workshop, 30, "sink"),
        SpaceRow("电脑室", SpaceKind.computer_lab, 25, "computers"),
    ),
    "桐溪镇社区学校": (
        SpaceRow("教室", SpaceKind.classroom, 40, "projector whiteboard"),
        SpaceRow("舞蹈室", SpaceKind.studio, 30, "mirrors sound-system"),
    ),
    "竹溪村学习点": (
        SpaceRow("学习室", SpaceKind.classroom, 25, "whiteboard"),
        SpaceRow("编织工坊", SpaceKind.workshop, 15, "loom"),
    ),
    "柳岸村农家书屋": (
        SpaceRow("书屋", SpaceKind.reading_room, 20, "quiet"),
        SpaceRow("活动室", SpaceKind.meeting_room, 15),
    ),
    "书香社区老年学习点": (
        SpaceRow("老年课堂", SpaceKind.classroom, 30, "hearing-loop step-free projector"),
        SpaceRow("声乐室", SpaceKind.studio, 25, "piano step-free"),
    ),
    "临江社区学院": (
        SpaceRow("学术报告厅", SpaceKind.hall, 250, "projector sound-system hearing-loop step-free", 30, 30),
        SpaceRow("智慧教室", SpaceKind.classroom, 60, "projector whiteboard"),
        SpaceRow("计算机实训室", SpaceKind.computer_lab, 40, "computers projector"),
        SpaceRow("烹饪实训室", SpaceKind.kitchen, 24, "kitchen", 15, 30),
        SpaceRow("陶艺工作室", SpaceKind.workshop, 20, "kiln sink", 0, 30),
        SpaceRow("录音室", SpaceKind.studio, 8, "sound-system piano"),
        SpaceRow("会议室", SpaceKind.meeting_room, 16, "screen whiteboard"),
    ),
    "临江社区学院青山教学点": (
        SpaceRow("教室", SpaceKind.classroom, 40, "projector whiteboard"),
        SpaceRow("茶艺室", SpaceKind.studio, 20, "kitchen"),
    ),
}


class BookingRow(NamedTuple):
    venue: str
    space: str
    organiser: str
    title: str
    attendees: int
    days_ahead: tuple[int, ...]
    hours: str


BOOKINGS: tuple[BookingRow, ...] = (
    BookingRow("临江区文澜中学", "体育馆", "临江区教育局", "全区教师气排球赛", 300, (6,), "13:30-17:30"),
    BookingRow("临江区文澜中学", "篮球场A", "青苗公益助学中心", "青少年篮球训练营", 40, (3,), "19:00-21:00"),
    BookingRow("临江区文澜中学", "创客实验室", "创客少年社", "机器人编程兴趣课", 24, (6,), "09:00-11:30"),
    BookingRow("临江区体育中心", "主馆东场", "江滨太极拳队", "太极拳集体练习", 60, (2,), "19:00-21:00"),
    BookingRow("临江区体育中心", "主体育馆", "临江区教育局", "中小学生运动会开幕式", 700, (13,), "08:30-12:00"),
    BookingRow("望潮社区邻里中心", "多功能厅东区", "望潮合唱团", "合唱排练", 45, (1, 8, 15), "19:00-21:00"),
    BookingRow("望潮社区邻里中心", "多功能厅", "银龄互助服务社", "银龄健康讲座", 120, (4,), "14:00-16:00"),
    BookingRow("竹溪村学习点", "编织工坊", "竹溪编织小组", "竹编与织布手艺课", 12, (2, 9, 16), "14:00-17:00"),
    BookingRow("临江区图书馆", "研讨室一", "书香读书会", "月度读书分享会", 10, (5, 12), "19:00-21:00"),
    BookingRow("临江区图书馆", "多功能报告厅", "临江绿野环保协会", "垃圾分类知识讲座", 150, (7,), "10:00-11:30"),
    BookingRow("临江社区学院", "计算机实训室", "银龄互助服务社", "老年人智能手机课", 30, (3, 10, 17), "09:00-11:00"),
    BookingRow("临江社区学院", "陶艺工作室", "创客少年社", "亲子陶艺体验", 16, (6,), "14:00-16:00"),
    BookingRow("临江区实验小学", "田径场", "江滨太极拳队", "社区健步走活动", 80, (7,), "18:30-20:00"),
    BookingRow("桐溪村文化礼堂", "礼堂", "桐溪镇社区学校", "乡村文艺晚会彩排", 120, (13,), "19:00-21:30"),
    BookingRow("江滨街道社区学校", "烹饪教室", "银龄互助服务社", "邻里家常菜课堂", 18, (11,), "09:30-11:30"),
)


# Weekly hours by venue kind: (weekdays, opens, closes); 0 = Monday. Schools lend rooms after lessons.
WEEKDAYS, WEEKEND, EVERY_DAY = range(5), range(5, 7), range(7)
HOURS: dict[VenueKind, tuple[tuple[range, str, str], ...]] = {
    VenueKind.school: ((WEEKDAYS, "17:30", "21:30"), (WEEKEND, "08:00", "21:00")),
    VenueKind.library: ((range(1, 7), "09:00", "21:00"),),
    VenueKind.study_room: ((EVERY_DAY, "07:00", "23:00"),),
    VenueKind.sports_venue: ((EVERY_DAY, "06:00", "22:00"),),
    VenueKind.community_centre: ((EVERY_DAY, "08:00", "21:30"),),
    VenueKind.community_school: ((EVERY_DAY, "08:00", "21:30"),),
    VenueKind.community_college: ((EVERY_DAY, "08:00", "21:30"),),
    VenueKind.learning_point: ((EVERY_DAY, "08:00", "21:30"),),
}
CLOSES_ON_PUBLIC_HOLIDAYS = {VenueKind.school, VenueKind.library}

# A weekly class for a term; dates that fall outside hours or on a holiday are skipped.
SERIES = (
    BookingRow("临江区体育中心", "主馆西场", "江滨太极拳队", "太极拳周二周四班", 30, (1,), "18:30-20:00"),
    "FREQ=WEEKLY;BYDAY=TU,TH;COUNT=24",
)


# Booking rules: the school decides on each request and keeps them tidy; a study room wants a check-in.
DEMO_POLICIES = {
    "临江区文澜中学": PolicyRules(
        approval=Approval.manual,
        slot_step_min=30,
        min_duration_min=60,
        max_duration_min=240,
        lead_time_min=24 * 60,
        horizon_days=90,
        cancellation_notice_min=12 * 60,
        max_bookings_per_week=3,
    ),
    "书山自习室·春晓店": PolicyRules(
        checkin_required=True, checkin_opens_before_min=15, checkin_closes_after_min=15, max_minutes_per_week=20 * 60
    ),
}
# Requests the demo organiser makes after the rules are in place: they wait in the school manager's queue
# (spread over more than a holiday week, so some always fall on an open day).
DEMO_REQUESTS = (
    BookingRow("临江区文澜中学", "报告厅", "望潮合唱团", "合唱汇报演出", 120, (9,), "19:00-21:00"),
    BookingRow("临江区文澜中学", "家政教室", "望潮合唱团", "团员联谊茶话会", 20, (12, 20), "18:00-20:00"),
)

# One demo account per role: (username, role, organisation, region).
DEMO_USERS = (
    ("district-admin", Role.district_admin, None, DISTRICT),
    ("school-manager", Role.venue_manager, "临江区文澜中学", None),
    ("choir-organiser", Role.organiser, "望潮合唱团", None),
    ("teacher-wang", Role.teacher, "江滨街道社区学校", None),
    ("resident-li", Role.resident, None, "滨江社区"),
)


async def load(settings: Settings) -> str:
    """Load the demo district unless it is already there; a one-line summary either way."""
    engine = create_engine(settings.database_url, pool_size=settings.pool_size, echo=settings.echo_sql)
    writes, _ = sessionmakers(engine)
    try:
        async with writes() as session, session.begin():
            if await _district_exists(session):
                return f"demo district {DISTRICT} already present; nothing changed"
            return await _populate(session, now=datetime.now(UTC))
    finally:
        await engine.dispose()


async def _district_exists(session: AsyncSession) -> bool:
    found = await session.scalar(
        select(Region.id).where(Region.name == DISTRICT, Region.level == RegionLevel.district).limit(1)
    )
    return found is not None


async def _populate(session: AsyncSession, *, now: datetime) -> str:
    region_ids = await _create_regions(session)
    organisation_ids = await _create_organisations(session, region_ids)
    venue_ids = await _create_venues(session, region_ids, organisation_ids)
    space_ids = await _create_spaces(session, venue_ids)
    booked = await _create_bookings(session, SYSTEM, _demo_requests(), organisation_ids, space_ids, now=now)
    term = await plan_term(session, region_ids, organisation_ids, now=now)
    for venue, rules in DEMO_POLICIES.items():
        await policies.put_policy(session, SYSTEM, venue_id=venue_ids[venue], rules=rules)
    users = {}
    for username, role, organisation, region in DEMO_USERS:
        users[username] = await accounts.create_user(
            session,
            UserCreate(
                username=username,
                password=demo_password(username),
                role=role,
                organisation_id=organisation_ids.get(organisation),
                region_id=region_ids.get(region),
            ),
            now=now,
        )
    organiser = Actor(user_id=users["choir-organiser"].id, member_of=frozenset({organisation_ids["望潮合唱团"]}))
    pending = await _create_bookings(session, organiser, _dated(DEMO_REQUESTS), organisation_ids, space_ids, now=now)
    learning = await load_learning(
        session, region_ids, organisation_ids, space_ids, users, password=demo_password, now=now
    )
    logins = "; ".join(f"{role}: {username} / {demo_password(username)}" for username, role, _, _ in DEMO_USERS)
    return (
        f"loaded demo district {DISTRICT}: {len(region_ids)} regions, {len(organisation_ids)} organisations, "
        f"{len(venue_ids)} venues, {len(space_ids)} spaces, {booked} bookings, {pending} awaiting approval; {term}\n"
        f"demo sign-ins (POST /api/v1/auth/token): {logins}\n{learning}"
    )


def demo_password(username: str) -> str:
    return f"{username}-demo-2027"


async def _create_regions(session: AsyncSession) -> dict[str, int]:
    district = await places.create_region(session, SYSTEM, RegionCreate(name=DISTRICT, level=RegionLevel.district))
    region_ids = {DISTRICT: district.id}
    for town_name, communities in TOWNS.items():
        town = await places.create_region(
            session, SYSTEM, RegionCreate(name=town_name, level=RegionLevel.town, parent_id=district.id)
        )
        region_ids[town_name] = town.id
        for name in communities:
            community = await places.create_region(
                session, SYSTEM, RegionCreate(name=name, level=RegionLevel.community, parent_id=town.id)
            )
            region_ids[name] = community.id
    return region_ids


async def _create_organisations(session: AsyncSession, region_ids: dict[str, int]) -> dict[str, int]:
    organisation_ids = {}
    for kind, rows in ORGANISATIONS.items():
        for name, region in rows:
            organisation = await places.create_organisation(
                session, SYSTEM, OrganisationCreate(name=name, kind=kind, region_id=region_ids[region])
            )
            organisation_ids[name] = organisation.id
    return organisation_ids


async def _create_venues(
    session: AsyncSession, region_ids: dict[str, int], organisation_ids: dict[str, int]
) -> dict[str, int]:
    venue_ids = {}
    for kind, rows in VENUES.items():
        for row in rows:
            venue = await places.create_venue(
                session,
                SYSTEM,
                VenueCreate(
                    name=row.name,
                    kind=kind,
                    region_id=region_ids[row.region],
                    owner_id=organisation_ids[row.owner],
                    address=f"{DISTRICT}{_town_of(row.region)}{row.street}",
                    latitude=row.latitude,
                    longitude=row.longitude,
                    timezone=DEFAULT_TIMEZONE,
                    closes_on_public_holidays=kind in CLOSES_ON_PUBLIC_HOLIDAYS,
                ),
            )
            venue_ids[row.name] = venue.id
            windows = [
                OpeningWindow(weekday=day, opens=opens, closes=closes)
                for days, opens, closes in HOURS[kind]
                for day in days
            ]
            await calendars.set_opening_hours(session, SYSTEM, venue_id=venue.id, windows=windows)
    return venue_ids


def _town_of(region: str) -> str:
    return next((town for town, communities in TOWNS.items() if region in communities), region)


async def _create_spaces(session: AsyncSession, venue_ids: dict[str, int]) -> dict[tuple[str, str], int]:
    """Every space of every venue, keyed by (venue name, space name)."""
    space_ids: dict[tuple[str, str], int] = {}
    for venue_name, rows in SPACES.items():
        for row in rows:
            await _create_space(session, venue_name, venue_ids[venue_name], row, None, space_ids)
    return space_ids


async def _create_space(
    session: AsyncSession,
    venue_name: str,
    venue_id: int,
    row: SpaceRow,
    parent_id: int | None,
    space_ids: dict[tuple[str, str], int],
) -> None:
    features = row.features.split()
    data = SpaceCreate(
        name=row.name,
        kind=row.kind,
        capacity=row.capacity,
        features=features,
        parent_id=parent_id,
        buffer_before_min=row.buffer_before_min,
        buffer_after_min=row.buffer_after_min,
    )
    space = await spaces.create_space(session, SYSTEM, venue_id, data)
    space_ids[venue_name, row.name] = space.id
    for part in row.parts:
        await _create_space(session, venue_name, venue_id, part, space.id, space_ids)


Dated = tuple[BookingRow, int, str | None]  # a row, how many days ahead, and its RRULE if a series


def _dated(rows: tuple[BookingRow, ...]) -> list[Dated]:
    return [(row, days_ahead, None) for row in rows for days_ahead in row.days_ahead]


def _demo_requests() -> list[Dated]:
    series_row, rrule = SERIES
    return [*_dated(BOOKINGS), (series_row, series_row.days_ahead[0], rrule)]


async def _create_bookings(
    session: AsyncSession,
    actor: Actor,
    requests: list[Dated],
    organisation_ids: dict[str, int],
    space_ids: dict[tuple[str, str], int],
    *,
    now: datetime,
) -> int:
    """The demo's bookings, relative to today; a date that is closed, outside hours, against the
    space's rules or already taken (relative dates of different rows can meet) is left out."""
    today = now.astimezone(VENUE_ZONE).date()
    booked = 0
    for row, days_ahead, rule in requests:
        starts, ends = row.hours.split("-")
        day = today + timedelta(days=days_ahead)
        request = BookingCreate(
            space_id=space_ids[row.venue, row.space],
            organisation_id=organisation_ids[row.organiser],
            title=row.title,
            attendees=row.attendees,
            starts_at=_local_instant(day, starts),
            ends_at=_local_instant(day, ends),
            recurrence=Recurrence(rrule=rule) if rule else None,
            on_conflict=OnConflict.skip,
        )
        try:
            async with session.begin_nested():
                await bookings.request_booking(session, actor, request, now=now)
        except (SpaceClosed, OutsideOpeningHours, PolicyViolation, BookingConflict):
            continue
        booked += 1
    return booked


def _local_instant(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=VENUE_ZONE)
