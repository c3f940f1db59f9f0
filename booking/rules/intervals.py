"""Half-open intervals [start, end) of instants, and sets of them."""

from collections.abc import Iterable
from datetime import datetime, timedelta

Interval = tuple[datetime, datetime]


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """True when [a_start, a_end) and [b_start, b_end) share an instant; touching ends do not."""
    return a_start < b_end and b_start < a_end


def buffered(starts_at: datetime, ends_at: datetime, before_min: int, after_min: int) -> Interval:
    """The range a booking blocks: set-up time before it and clean-up time after it."""
    return starts_at - timedelta(minutes=before_min), ends_at + timedelta(minutes=after_min)


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-touching intervals covering exactly the same instants."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(minuend: Iterable[Interval], subtrahend: Iterable[Interval]) -> list[Interval]:
    """The instants of ``minuend`` that are in no interval of ``subtrahend``."""
    remaining = union(minuend)
    for cut_start, cut_end in union(subtrahend):
        pieces: list[Interval] = []
        for start, end in remaining:
            if not overlaps(start, end, cut_start, cut_end):
                pieces.append((start, end))
                continue
            if start < cut_start:
                pieces.append((start, cut_start))
            if cut_end < end:
                pieces.append((cut_end, end))
        remaining = pieces
    return remaining


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """The parts of ``intervals`` inside [start, end)."""
    return union((max(s, start), min(e, end)) for s, e in intervals if overlaps(s, e, start, end))


def covers(intervals: Iterable[Interval], start: datetime, end: datetime) -> bool:
    """Is all of [start, end) inside the union of ``intervals``?"""
    return not subtract([(start, end)], intervals)
