"""The public class catalogue: what it lists, how it filters and ranks, what it never shows."""

import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.models import Application, ClassBooking
from booking.services import catalogue as catalogue_service
from tests.factories import Factory, at
from tests.learning import TERM, LearningWorld, add_resident, build_learning_world, enrol, set_policy

WEEKLY = {"rrule": "FREQ=WEEKLY;COUNT=3"}


async def committed_class(
    make: Factory, engine: AsyncEngine, world: LearningWorld, sessions: list[tuple[int, str, str]], **fields: Any
) -> tuple[int, list[int]]:
    """A class of the world's school with one weekly series per (space, start, end), each held by a
    class booking; the class's id and its series' booking ids."""
    offer = await make._create("/classes", {"organisation_id": world.school, **TERM, **fields})
    bookings = []
    for space_id, starts_at, ends_at in sessions:
        body = Factory.booking_body(space_id, world.school, starts_at, ends_at, recurrence=WEEKLY)
        series = await make._create("/bookings", {**body, "title": fields["title"]})
        async with engine.begin() as connection:
            await connection.execute(
                insert(ClassBooking).values(booking_id=series["id"], class_id=offer["id"], teacher_id=world.teacher)
            )
        bookings.append(series["id"])
    return offer["id"], bookings


class Catalogue:
    """The world of tests/learning.py and, around it, classes in other places, times and zones."""

    def __init__(self, world: LearningWorld) -> None:
        self.world = world

    async def build(self, make: Factory, engine: AsyncEngine) -> "Catalogue":
        world = self.world
        west = await make.venue(
            name="西街文化站", region_id=world.other_community, owner_id=world.school, latitude=35.32, longitude=113.95
        )
        far_town = await make.region(name="临河镇", level="town", parent_id=world.district)
        riverside = await make.region(name="河滨社区", level="community", parent_id=far_town["id"])
        river = await make.venue(
            name="河滨活动中心", region_id=riverside["id"], owner_id=world.school, latitude=36.10, longitude=114.60
        )
        london = await make.venue(
            name="Thames Hall", region_id=riverside["id"], owner_id=world.school, timezone="Europe/London"
        )
        room = {v["id"]: (await make.space(venue_id=v["id"], name="活动室"))["id"] for v in (west, river, london)}
        self.far_town, self.riverside, self.west, self.river = far_town["id"], riverside["id"], west["id"], river["id"]
        self.room = room
        yoga = room[west["id"]]
        await committed_class(
            make,
            engine,
            world,
            [(yoga, at(2, 9), at(2, 10)), (yoga, at(4, 19), at(4, 20))],
            title="Yoga for Beginners",
            category="健身",
            target_group="成年人",
        )
        await committed_class(
            make,
            engine,
            world,
            [(room[river["id"]], at(3, 14), at(3, 15, 30))],
            title="合唱团",
            category="音乐",
            target_group="老年人",
        )
        await committed_class(  # Thursdays 18:30 in London: Fridays 02:30 in Shanghai
            make,
            engine,
            world,
            [(room[london["id"]], "2027-03-04T18:30:00+00:00", "2027-03-04T20:00:00+00:00")],
            title="Watercolour",
            category="书画",
            target_group="成年人",
        )
        await make._create("/classes", {"title": "无人问津", "organisation_id": world.school, **TERM})
        self.cancelled, [series] = await committed_class(
            make, engine, world, [(room[west["id"]], at(5, 9), at(5, 10))], title="已取消的课"
        )
        assert (await make.client.post(f"/bookings/{series}/cancel")).status_code == 200
        return self


@pytest.fixture
async def world(make, as_user, engine, clock) -> LearningWorld:
    return await build_learning_world(make, as_user, engine, clock)


@pytest.fixture
async def catalogue(world, make, engine) -> Catalogue:
    return await Catalogue(world).build(make, engine)


async def browse(http: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await http.get("/catalogue", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def titles(http: httpx.AsyncClient, **params: Any) -> list[str]:
    return [item["title"] for item in (await browse(http, **params))["items"]]


ALL = ["Watercolour", "Yoga for Beginners", "书法入门", "合唱团"]  # code-point order


async def test_lists_committed_classes_only_in_title_order(catalogue, anonymous):
    page = await browse(anonymous)
    assert [item["title"] for item in page["items"]] == ALL
    assert page["total"] == 4
    assert catalogue.cancelled not in {item["id"] for item in page["items"]}


async def test_an_item_shows_where_when_and_who_by_display_name_only(catalogue, anonymous):
    world = catalogue.world
    response = await anonymous.get("/catalogue", params={"q": "书法"})
    [item] = response.json()["items"]
    assert "王建国" not in response.text
    assert item["teachers"] == ["王老师"]
    assert item["organisation"] == {"id": world.school, "name": "红旗区社区学院"}
    assert (item["category"], item["target_group"]) == ("书画", "老年人")
    assert item["venues"] == [
        {
            "id": world.venue,
            "name": "东街社区学校",
            "address": "东街 1 号",
            "region_id": world.community,
            "region_name": "东街社区",
            "latitude": 35.30,
            "longitude": 113.92,
            "distance_km": None,
        }
    ]
    assert item["region"] == {
        "community": {"id": world.community, "name": "东街社区"},
        "town": {"id": world.town, "name": "向阳街道"},
    }
    assert item["weekly_times"] == [{"weekday": 0, "start": "19:00", "end": "20:30", "venue_id": world.venue}]
    assert (item["term_start"], item["term_end"]) == (TERM["term_start"], TERM["term_end"])
    assert item["feed"] == {
        "https": f"http://testserver/feeds/classes/{world.offer}.ics",
        "webcal": f"webcal://testserver/feeds/classes/{world.offer}.ics",
    }
    assert (item["seats"], item["seats_left"], item["enrolment"], item["applicants"]) == (None, None, None, 0)
    assert item["distance_km"] is None


async def test_weekly_times_are_in_the_venue_zone_one_per_series(catalogue, anonymous):
    items = {item["title"]: item for item in (await browse(anonymous))["items"]}
    assert [(t["weekday"], t["start"], t["end"]) for t in items["Watercolour"]["weekly_times"]] == [
        (3, "18:30", "20:00")
    ]
    assert [(t["weekday"], t["start"], t["end"]) for t in items["Yoga for Beginners"]["weekly_times"]] == [
        (1, "09:00", "10:00"),
        (3, "19:00", "20:00"),
    ]
    assert items["合唱团"]["region"] == {
        "community": {"id": catalogue.riverside, "name": "河滨社区"},
        "town": {"id": catalogue.far_town, "name": "临河镇"},
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"category": "书画"}, ["Watercolour", "书法入门"]),
        ({"target_group": "老年人"}, ["书法入门", "合唱团"]),
        ({"weekday": 0}, ["书法入门"]),
        ({"weekday": 3}, ["Watercolour", "Yoga for Beginners"]),
        ({"weekday": 4}, []),  # Watercolour is on Friday only in Shanghai time
        ({"time_of_day": "morning"}, ["Yoga for Beginners"]),
        ({"time_of_day": "afternoon"}, ["合唱团"]),
        ({"time_of_day": "evening"}, ["Watercolour", "Yoga for Beginners", "书法入门"]),
        ({"weekday": 1, "time_of_day": "morning"}, ["Yoga for Beginners"]),
        ({"weekday": 1, "time_of_day": "evening"}, []),  # one session must be both
        ({"q": "合唱"}, ["合唱团"]),
        ({"q": "YOGA"}, ["Yoga for Beginners"]),
        ({"q": "thames"}, ["Watercolour"]),  # a venue's name
        ({"q": "文化站"}, ["Yoga for Beginners"]),
        ({"q": "社区学院"}, ALL),  # the organisation's name
        ({"q": "音乐"}, ["合唱团"]),  # category
        ({"q": "成年"}, ["Watercolour", "Yoga for Beginners"]),  # target group
        ({"q": "100%"}, []),  # LIKE wildcards are plain characters
        ({"q": "书法", "category": "音乐"}, []),
    ],
)
async def test_filters(catalogue, anonymous, params, expected):
    page = await browse(anonymous, **params)
    assert [item["title"] for item in page["items"]] == expected
    assert page["total"] == len(expected)


async def test_region_takes_its_whole_subtree(catalogue, anonymous):
    world = catalogue.world
    assert await titles(anonymous, region_id=world.district) == ALL
    assert await titles(anonymous, region_id=world.town) == ["Yoga for Beginners", "书法入门"]
    assert await titles(anonymous, region_id=world.community) == ["书法入门"]
    assert await titles(anonymous, region_id=catalogue.far_town) == ["Watercolour", "合唱团"]
    assert await titles(anonymous, region_id=catalogue.far_town, weekday=2) == ["合唱团"]
    assert await titles(anonymous, region_id=999_999) == []


async def test_near_ranks_by_the_nearest_venue_and_places_unknown_positions_last(catalogue, anonymous):
    page = await browse(anonymous, near="36.10,114.59")
    ranked = [(item["title"], item["distance_km"]) for item in page["items"]]
    assert [title for title, _ in ranked] == ["合唱团", "Yoga for Beginners", "书法入门", "Watercolour"]
    assert ranked[0][1] == pytest.approx(0.9, abs=0.05)
    assert ranked[1][1] < ranked[2][1]
    assert ranked[3][1] is None  # Thames Hall has no position
    assert page["items"][0]["venues"][0]["distance_km"] == ranked[0][1]
    nearest_first = await titles(anonymous, near="35.32,113.95", region_id=catalogue.world.town)
    assert nearest_first == ["Yoga for Beginners", "书法入门"]


async def test_a_class_in_two_places_lists_both_venues_nearest_first(catalogue, anonymous, make, engine):
    world, west, river = catalogue.world, catalogue.west, catalogue.river
    sessions = [(catalogue.room[west], at(8, 9), at(8, 10)), (catalogue.room[river], at(9, 9), at(9, 10))]
    await committed_class(make, engine, world, sessions, title="Two places")

    [by_id] = (await browse(anonymous, q="Two places"))["items"]
    assert [venue["id"] for venue in by_id["venues"]] == [west, river]
    assert by_id["region"]["community"]["id"] == world.other_community
    assert [(t["weekday"], t["venue_id"]) for t in by_id["weekly_times"]] == [(0, west), (1, river)]
    [by_distance] = (await browse(anonymous, q="Two places", near="36.10,114.59"))["items"]
    assert [venue["id"] for venue in by_distance["venues"]] == [river, west]
    assert by_distance["region"] == {
        "community": {"id": catalogue.riverside, "name": "河滨社区"},
        "town": {"id": catalogue.far_town, "name": "临河镇"},
    }
    assert by_distance["distance_km"] == by_distance["venues"][0]["distance_km"]


@pytest.mark.parametrize(
    ("near", "category"), [("36.10,114.59", None), ("35.30,113.92", None), ("36.10,114.59", "书画")]
)
async def test_ranking_the_nearest_venues_first_agrees_with_ranking_every_class(
    catalogue, anonymous, make, engine, monkeypatch, near, category
):
    """A page by distance first ranks the classes of the nearest venues only (one venue here), and
    more when too few of them match; the pages must be those of the whole ranking."""
    for title, day in (("古筝", 4), ("太极拳", 5)):  # two more at the river venue
        await committed_class(
            make, engine, catalogue.world, [(catalogue.room[catalogue.river], at(day, 9), at(day, 10))], title=title
        )
    filters = {"near": near, **({"category": category} if category else {})}
    whole = await titles(anonymous, **filters)
    monkeypatch.setattr(catalogue_service, "NEAREST_VENUES_FIRST", 1)
    for limit, offset in [(1, 0), (2, 1), (3, 0), (2, 2), (4, 1), (6, 0)]:
        page = await browse(anonymous, limit=limit, offset=offset, **filters)
        assert [item["title"] for item in page["items"]] == whole[offset : offset + limit]
        assert page["total"] == len(whole)
    if near == "36.10,114.59" and not category:
        assert whole[:3] == ["古筝", "合唱团", "太极拳"]  # one venue: by title


@pytest.mark.parametrize("near", [None, "35.30,113.92"])
async def test_pages_are_stable_slices_of_one_order(catalogue, anonymous, near):
    near_param = {"near": near} if near else {}
    whole = await titles(anonymous, **near_param)
    pages = [await browse(anonymous, limit=3, offset=offset, **near_param) for offset in (0, 3)]
    assert [item["title"] for page in pages for item in page["items"]] == whole
    assert [page["total"] for page in pages] == [4, 4]
    beyond = await browse(anonymous, limit=3, offset=10, **near_param)
    assert (beyond["items"], beyond["total"], beyond["limit"], beyond["offset"]) == ([], 4, 3, 10)


async def test_seats_left_and_applicants_follow_enrolments(catalogue, anonymous, engine, clock, client):
    world = catalogue.world
    await set_policy(engine, world.offer, clock.now, seats=3, mode="first_come")
    residents = [await add_resident(engine, clock.now, world.community, http=client) for _ in range(4)]
    for resident in residents[:2]:
        await enrol(engine, world.offer, resident.user_id, clock.now, date(2027, 3, 1))
    await apply_directly(engine, world.offer, residents[2].user_id, clock, "applied")
    await apply_directly(engine, world.offer, residents[3].user_id, clock, "withdrawn")

    [item] = (await browse(anonymous, q="书法"))["items"]
    assert (item["seats"], item["seats_left"], item["applicants"]) == (3, 1, 3)
    assert item["enrolment"]["mode"] == "first_come"
    assert item["enrolment"]["opens_at"].startswith("2027-01-09T00:00:00")
    assert await titles(anonymous, has_seats="true") == ["书法入门"]  # the others have no policy yet
    assert await titles(anonymous, has_seats="false") == ALL

    await enrol(engine, world.offer, residents[3].user_id, clock.now, date(2027, 3, 1))
    assert await titles(anonymous, has_seats="true") == []


async def apply_directly(engine: AsyncEngine, class_id: int, resident_id: int, clock, state: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(Application).values(
                public_id=str(uuid.uuid4()),
                class_id=class_id,
                resident_id=resident_id,
                term_start=date(2027, 3, 1),
                state=state,
                channel="self",
                created_at=clock.now,
                updated_at=clock.now,
            )
        )


@pytest.mark.parametrize("near", ["abc", "35.3", "35.3,113.9,1", "91,0", "0,181", "nan,0", "35.3,"])
async def test_a_bad_near_is_invalid_request(world, anonymous, near):
    response = await anonymous.get("/catalogue", params={"near": near})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_request"


@pytest.mark.parametrize("params", [{"weekday": 7}, {"weekday": -1}, {"time_of_day": "night"}, {"limit": 0}])
async def test_bad_filters_are_invalid_request(world, anonymous, params):
    response = await anonymous.get("/catalogue", params=params)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_request")


async def test_everyone_may_browse(world, as_user, engine, clock, client):
    resident = await add_resident(engine, clock.now, world.community, http=client)
    callers = [await as_user(None), await as_user("organiser", organisation_id=world.school), resident.http, client]
    for http in callers:
        assert [item["id"] for item in (await browse(http))["items"]] == [world.offer]
