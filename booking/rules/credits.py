"""From the attendance ledger to hours, attendance rate, completion, points and credits.

The ledger stores attended minutes per session; everything here derives from them. The arithmetic
is exact (fractions), so a credit or completion boundary is never missed by a binary rounding
error, and rounding happens once, at the end, as the organisation's scheme says.

Definitions:
- planned minutes: the length of every session of the class that is not cancelled, over the
  whole term;
- held minutes: the planned minutes of the sessions that have started (attendance can be taken
  from a session's start, so a session under way counts as held);
- attendance rate: attended minutes in held sessions / held minutes; none before the first session;
- completion: attended minutes ≥ completion_percent % of the term's planned minutes; it is
  reached at the end of the session that first brings the attended minutes to that share;
- points: attended hours × points_per_hour; credits: attended hours / hours_per_credit, rounded
  by the scheme (down to a half, down to a tenth, or to the nearest tenth, halves up).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from math import floor

MINUTES_PER_HOUR = 60
PERCENT = 100


class Rounding(StrEnum):
    down_to_half = "down_to_half"
    down_to_tenth = "down_to_tenth"
    nearest_tenth = "nearest_tenth"


# Each rounding: the step credits are counted in, and whether a remainder of half a step rounds up.
_STEPS: dict[Rounding, tuple[Fraction, bool]] = {
    Rounding.down_to_half: (Fraction(1, 2), False),
    Rounding.down_to_tenth: (Fraction(1, 10), False),
    Rounding.nearest_tenth: (Fraction(1, 10), True),
}


@dataclass(frozen=True, slots=True)
class Scheme:
    """An organisation's credit scheme: attended hours per credit, points per attended hour, rounding."""

    hours_per_credit: Fraction
    points_per_hour: Fraction
    rounding: Rounding

    @classmethod
    def of(cls, hours_per_credit: float, points_per_hour: float, rounding: str) -> "Scheme":
        """From stored numbers, read as the decimals they were written as (16.0, 0.5), not as binary floats."""
        per_credit, per_hour = Fraction(str(hours_per_credit)), Fraction(str(points_per_hour))
        if per_credit <= 0 or per_hour < 0:
            raise ValueError(f"a scheme needs hours_per_credit > 0 and points_per_hour >= 0, not {hours_per_credit}")
        return cls(per_credit, per_hour, Rounding(rounding))


def hours(minutes: int) -> Fraction:
    return Fraction(minutes, MINUTES_PER_HOUR)


def round_credits(value: Fraction, rounding: Rounding) -> Decimal:
    """``value`` in whole steps of the rounding, as a decimal (1.5, 0.3)."""
    step, half_up = _STEPS[rounding]
    steps = floor(value / step + (Fraction(1, 2) if half_up else 0))
    return Decimal(steps * step.numerator) / Decimal(step.denominator)


def credits(attended_minutes: int, scheme: Scheme) -> Decimal:
    return round_credits(hours(attended_minutes) / scheme.hours_per_credit, scheme.rounding)


def points(attended_minutes: int, scheme: Scheme) -> Decimal:
    """Points to two decimals (halves up): a scheme may give fractions of a point per hour."""
    return to_decimal(hours(attended_minutes) * scheme.points_per_hour, 2)


def to_decimal(value: Fraction, places: int) -> Decimal:
    """A fraction as a decimal with ``places`` decimals, halves rounded up."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def is_completed(attended_minutes: int, planned_minutes: int, completion_percent: int) -> bool:
    """In integers, so exactly 80 % of the planned minutes completes a class that asks for 80."""
    return planned_minutes > 0 and attended_minutes * PERCENT >= completion_percent * planned_minutes


@dataclass(frozen=True, slots=True)
class SessionMinutes:
    """One planned session of a class and a learner's ledger minutes in it (0 if none recorded)."""

    starts_at: datetime
    ends_at: datetime
    planned: int
    attended: int = 0


@dataclass(frozen=True, slots=True)
class Tally:
    planned_minutes: int
    held_minutes: int
    attended_minutes: int
    sessions_planned: int
    sessions_held: int
    rate: Fraction | None  # attended / held minutes; None before any session has started
    completed_at: datetime | None  # the end of the session that completed the class

    @property
    def completed(self) -> bool:
        return self.completed_at is not None


def tally(sessions: Sequence[SessionMinutes], *, now: datetime, completion_percent: int) -> Tally:
    """A learner's totals over a class's planned sessions (see the module's definitions)."""
    ordered = sorted(sessions, key=lambda s: s.starts_at)
    held = [s for s in ordered if s.starts_at <= now]
    planned = sum(s.planned for s in ordered)
    held_minutes = sum(s.planned for s in held)
    attended_held = sum(s.attended for s in held)
    return Tally(
        planned_minutes=planned,
        held_minutes=held_minutes,
        attended_minutes=sum(s.attended for s in ordered),
        sessions_planned=len(ordered),
        sessions_held=len(held),
        rate=Fraction(attended_held, held_minutes) if held_minutes else None,
        completed_at=_completed_at(ordered, planned, completion_percent),
    )


def _completed_at(ordered: Sequence[SessionMinutes], planned: int, completion_percent: int) -> datetime | None:
    attended = 0
    for session in ordered:
        attended += session.attended
        if is_completed(attended, planned, completion_percent):
            return session.ends_at
    return None


@dataclass(frozen=True, slots=True)
class Award:
    """What attended minutes are worth under a scheme."""

    hours: Fraction
    credits: Decimal
    points: Decimal


def award(attended_minutes: int, scheme: Scheme) -> Award:
    return Award(hours(attended_minutes), credits(attended_minutes, scheme), points(attended_minutes, scheme))
