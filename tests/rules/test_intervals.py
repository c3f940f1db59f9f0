from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from booking.rules.intervals import buffered, overlaps

T0 = datetime(2027, 3, 1, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=24 * 60)


def span(start: int, length: int) -> tuple[datetime, datetime]:
    return T0 + timedelta(minutes=start), T0 + timedelta(minutes=start + length)


def test_touching_intervals_do_not_overlap():
    assert not overlaps(*span(0, 60), *span(60, 60))
    assert overlaps(*span(0, 61), *span(60, 60))


@given(minutes, st.integers(1, 600), minutes, st.integers(1, 600))
def test_overlap_is_symmetric_and_means_a_shared_minute(a, a_len, b, b_len):
    shared = set(range(a, a + a_len)) & set(range(b, b + b_len))
    assert overlaps(*span(a, a_len), *span(b, b_len)) == overlaps(*span(b, b_len), *span(a, a_len)) == bool(shared)


def test_buffered_widens_both_ends():
    assert buffered(*span(60, 60), 15, 30) == span(45, 105)
