"""The no-overlap rule is the database's own: raw SQL that bypasses the services is refused too."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from booking.models import Booking, Occurrence, Organisation, Region, Space, Venue

T0 = datetime(2027, 3, 1, 11, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
async def booking_id(engine) -> int:
    async with engine.begin() as connection:
        region = await connection.scalar(insert(Region).values(name="d", level="district").returning(Region.id))
        org = await connection.scalar(insert(Organisation).values(name="o", kind="ngo").returning(Organisation.id))
        venue = await connection.scalar(
            insert(Venue)
            .values(name="v", kind="school", region_id=region, owner_id=org, address="", timezone="Asia/Shanghai")
            .returning(Venue.id)
        )
        await connection.execute(
            insert(Space).values(id=1, venue_id=venue, name="s", kind="classroom", capacity=10, features=[])
        )
        return await connection.scalar(
            insert(Booking)
            .values(
                space_id=1,
                organisation_id=org,
                title="t",
                attendees=1,
                starts_at=T0,
                ends_at=T0 + HOUR,
                state="confirmed",
                created_at=T0,
                updated_at=T0,
            )
            .returning(Booking.id)
        )


def occurrence(booking_id: int, start: datetime, end: datetime, state: str = "confirmed", **buffers) -> dict:
    return {
        "booking_id": booking_id,
        "space_id": 1,
        "starts_at": start,
        "ends_at": end,
        "blocked_start_at": start - buffers.get("before", timedelta()),
        "blocked_end_at": end + buffers.get("after", timedelta()),
        "state": state,
        "original_starts_at": start,
    }


async def test_overlapping_insert_is_refused_by_the_database(engine, booking_id):
    async with engine.begin() as connection:
        await connection.execute(insert(Occurrence).values(occurrence(booking_id, T0, T0 + HOUR)))

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(insert(Occurrence).values(occurrence(booking_id, T0 + HOUR / 2, T0 + 2 * HOUR)))


async def test_buffered_ranges_count_and_touching_ranges_do_not(engine, booking_id):
    async with engine.begin() as connection:
        await connection.execute(insert(Occurrence).values(occurrence(booking_id, T0, T0 + HOUR)))
        await connection.execute(insert(Occurrence).values(occurrence(booking_id, T0 + HOUR, T0 + 2 * HOUR)))

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            late = occurrence(booking_id, T0 + 3 * HOUR, T0 + 4 * HOUR, before=HOUR + timedelta(minutes=1))
            await connection.execute(insert(Occurrence).values(late))


async def test_states_that_do_not_hold_a_slot_may_overlap_until_they_do(engine, booking_id):
    async with engine.begin() as connection:
        await connection.execute(insert(Occurrence).values(occurrence(booking_id, T0, T0 + HOUR)))
        pending = await connection.scalar(
            insert(Occurrence).values(occurrence(booking_id, T0, T0 + HOUR, state="pending")).returning(Occurrence.id)
        )
        await connection.execute(insert(Occurrence).values(occurrence(booking_id, T0, T0 + HOUR, state="cancelled")))

    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(update(Occurrence).where(Occurrence.id == pending).values(state="confirmed"))
