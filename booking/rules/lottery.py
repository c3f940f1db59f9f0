"""The enrolment lottery: a pure function of a published seed and the applications, that anyone can
re-run.

When a class's window opens it publishes ``commitment(seed)``; the seed stays secret until the
window closes, so nobody (staff included) can know or steer the order while applications come in.
At the draw the seed is revealed. Applications are ordered by tier (the first of the policy's
priority tiers that applies to the applicant, fixed when they applied), then by
``SHA-256(seed ":" public_id)`` ascending. Seats go down that order, skipping residents who
already hold their per-term limit of seats; everyone else is waitlisted in the same order.
Arrival time inside the window plays no part, nor does the channel an application came through.
"""

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

ALGORITHM = "sha256-tiered-v1"


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def draw_key(seed: str, public_id: str) -> str:
    return hashlib.sha256(f"{seed}:{public_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    public_id: str
    tier: int
    resident: int = 0  # who applied: never published, only used to apply the per-term limit


class Outcome(StrEnum):
    seat = "seat"
    waitlist = "waitlist"
    at_limit = "at_limit"  # ranked high enough for a seat, but already holding the term's limit


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    public_id: str
    tier: int
    outcome: Outcome


def order(seed: str, entries: Iterable[Entry]) -> list[Entry]:
    """Tier first, then the seeded hash: the same inputs give the same order on any machine."""
    return sorted(entries, key=lambda entry: (entry.tier, draw_key(seed, entry.public_id)))


def draw(seed: str, entries: Iterable[Entry], seats: int, at_limit: Callable[[Entry], bool]) -> list[Ranked]:
    """The ranked list with each application's outcome. ``at_limit(entry)`` answers whether the
    applicant already holds their per-term limit when their turn comes; a seat given here counts
    towards it (the caller's ``at_limit`` sees seats given by earlier draws)."""
    ranked: list[Ranked] = []
    given = 0
    for rank, entry in enumerate(order(seed, entries), start=1):
        if given < seats and at_limit(entry):
            outcome = Outcome.at_limit
        elif given < seats:
            outcome = Outcome.seat
            given += 1
        else:
            outcome = Outcome.waitlist
        ranked.append(Ranked(rank, entry.public_id, entry.tier, outcome))
    return ranked


def verify(seed: str, seed_commitment: str, published: Sequence[Ranked], seats: int) -> list[str]:
    """What is wrong with a published draw (empty: nothing). Re-computes the order from the seed and
    each application's tier, and checks the seats went down it (the ``at_limit`` skips are taken as
    published: they depend on other classes' draws)."""
    problems: list[str] = []
    if commitment(seed) != seed_commitment:
        problems.append("the seed does not match its commitment")
    entries = [Entry(item.public_id, item.tier) for item in published]
    expected = [entry.public_id for entry in order(seed, entries)]
    if [item.public_id for item in published] != expected:
        problems.append("the ranking is not the seeded order")
    if [item.rank for item in published] != list(range(1, len(published) + 1)):
        problems.append("ranks are not 1..n")
    skipped = {item.public_id for item in published if item.outcome == Outcome.at_limit}
    recomputed = draw(seed, entries, seats, lambda entry: entry.public_id in skipped)
    if [item.outcome for item in recomputed] != [item.outcome for item in published]:
        problems.append("seats were not given down the ranking")
    return problems
