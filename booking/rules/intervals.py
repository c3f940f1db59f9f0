"""Half-open intervals [start, end) of instants."""

from datetime import datetime, timedelta


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """True when [a_start, a_end) and [b_start, b_end) share an instant; touching ends do not."""
    return a_start < b_end and b_start < a_end


def buffered(starts_at: datetime, ends_at: datetime, before_min: int, after_min: int) -> tuple[datetime, datetime]:
    """The range a booking blocks: set-up time before it and clean-up time after it."""
    return starts_at - timedelta(minutes=before_min), ends_at + timedelta(minutes=after_min)
