"""The lottery: a pure, re-computable function of the seed; fair within a tier, strict between tiers."""

import hashlib
import random
from collections import Counter

from scipy.stats import chisquare

from booking.rules import lottery
from booking.rules.lottery import Entry, Outcome, Ranked

SEED = "a" * 64


def key(public_id: str, seed: str = SEED) -> str:
    return hashlib.sha256(f"{seed}:{public_id}".encode()).hexdigest()


def test_commitment_is_the_seeds_sha256():
    assert lottery.commitment("abc") == hashlib.sha256(b"abc").hexdigest()
    assert len(lottery.new_seed()) == 64 and lottery.new_seed() != lottery.new_seed()


def test_a_small_draw_computed_by_hand():
    # Tier 0: p1, p2; tier 1: p3, p4, p5; tier 2: p6. Three seats; p4's resident is at their limit.
    entries = [
        Entry("p1", 0, 1),
        Entry("p2", 0, 2),
        Entry("p3", 1, 3),
        Entry("p4", 1, 4),
        Entry("p5", 1, 5),
        Entry("p6", 2, 6),
    ]
    by_hand = sorted(["p1", "p2"], key=key) + sorted(["p3", "p4", "p5"], key=key) + ["p6"]
    ranked = lottery.draw(SEED, reversed(entries), 3, lambda entry: entry.resident == 4)

    assert [item.public_id for item in ranked] == by_hand
    assert [item.rank for item in ranked] == [1, 2, 3, 4, 5, 6]
    seats = [item.public_id for item in ranked if item.outcome == Outcome.seat]
    # Both tier-0 applicants get seats; the third seat goes to the first of tier 1 not at the limit.
    first_free = next(p for p in sorted(["p3", "p4", "p5"], key=key) if p != "p4")
    assert seats == [*sorted(["p1", "p2"], key=key), first_free]
    outcomes = {item.public_id: item.outcome for item in ranked}
    assert outcomes["p4"] == (Outcome.at_limit if by_hand.index("p4") < by_hand.index(first_free) else Outcome.waitlist)
    assert outcomes["p6"] == Outcome.waitlist


def test_the_order_ignores_arrival_and_anything_but_seed_tier_and_id():
    entries = [Entry(f"id-{i}", i % 3, i) for i in range(50)]
    shuffled = entries[:]
    random.Random(7).shuffle(shuffled)
    changed_residents = [Entry(e.public_id, e.tier, 1000 + e.resident) for e in shuffled]

    first = lottery.draw(SEED, entries, 10, lambda _: False)
    assert lottery.draw(SEED, shuffled, 10, lambda _: False) == first
    assert lottery.draw(SEED, changed_residents, 10, lambda _: False) == first
    assert lottery.draw("b" * 64, entries, 10, lambda _: False) != first


def test_tiers_are_strict():
    entries = [Entry(f"low-{i}", 1) for i in range(30)] + [Entry(f"high-{i}", 0) for i in range(5)]
    for seed in ("1", "2", "3", "4"):
        ranked = lottery.draw(seed, entries, 8, lambda _: False)
        assert {item.public_id for item in ranked[:5]} == {f"high-{i}" for i in range(5)}
        assert all(item.outcome == Outcome.seat for item in ranked[:8])


def test_equal_applicants_win_equally_often_over_two_thousand_seeds():
    """Five seats among twenty equal applicants: each wins a quarter of the draws (chi-square, p > 0.001)."""
    applicants = [Entry(f"app-{i:02d}", 0) for i in range(20)]
    wins: Counter[str] = Counter()
    draws = 2000
    for n in range(draws):
        seed = hashlib.sha256(f"seed {n}".encode()).hexdigest()
        for item in lottery.draw(seed, applicants, 5, lambda _: False):
            if item.outcome == Outcome.seat:
                wins[item.public_id] += 1
    observed = [wins[entry.public_id] for entry in applicants]
    assert sum(observed) == draws * 5
    assert chisquare(observed).pvalue > 0.001


def test_verify_accepts_the_published_draw_and_finds_every_tampering():
    seed = lottery.new_seed()
    entries = [Entry(f"x{i}", i % 2, i) for i in range(12)]
    published = lottery.draw(seed, entries, 4, lambda entry: entry.resident == 3)
    assert lottery.verify(seed, lottery.commitment(seed), published, 4) == []

    assert lottery.verify("f" * 64, lottery.commitment(seed), published, 4)[0].startswith("the seed does not match")
    swapped = [published[1], published[0], *published[2:]]
    assert "the ranking is not the seeded order" in lottery.verify(seed, lottery.commitment(seed), swapped, 4)
    stolen = [
        Ranked(item.rank, item.public_id, item.tier, Outcome.seat if item.rank == 12 else item.outcome)
        for item in published
    ]
    assert "seats were not given down the ranking" in lottery.verify(seed, lottery.commitment(seed), stolen, 4)
