"""Whether a resident may apply to a class, from facts already read: the class's enrolment policy,
the resident's age in the class's term, and the applications the resident already holds."""

from datetime import date, datetime
from typing import Any

from booking.errors import AlreadyApplied, EnrolmentClosed, NotEligible, TermLimitReached

MAX_APPLICATIONS_PER_TERM = 12


def check_open(policy: Any | None, now: datetime) -> None:
    """The policy (an EnrolmentPolicy, or any object with its fields) takes applications now."""
    if policy is None:
        raise EnrolmentClosed("this class takes no applications (no enrolment policy)")
    if policy.outcome is not None:
        raise EnrolmentClosed("this class's enrolment has ended")
    if not policy.opens_at <= now < policy.closes_at:
        when = "opens" if now < policy.opens_at else "closed"
        at = policy.opens_at if now < policy.opens_at else policy.closes_at
        raise EnrolmentClosed(f"enrolment {when} at {at.isoformat()}", opens_at=policy.opens_at.isoformat())


def check_not_applied(applied: bool) -> None:
    if applied:
        raise AlreadyApplied("you have already applied to this class")


def age_in_term(birth_year: int, term_start: date) -> int:
    return term_start.year - birth_year


def check_eligible(policy: Any, birth_year: int, term_start: date) -> None:
    age = age_in_term(birth_year, term_start)
    if policy.min_age is not None and age < policy.min_age:
        raise NotEligible(f"this class is for residents aged {policy.min_age} or over", min_age=policy.min_age)
    if policy.max_age is not None and age > policy.max_age:
        raise NotEligible(f"this class is for residents aged {policy.max_age} or under", max_age=policy.max_age)


def check_term_limit(policy: Any, held: int, live: int) -> None:
    """``held``: the resident's seats this term; ``live``: their live applications this term."""
    if held >= policy.term_limit:
        raise TermLimitReached(f"you hold {held} classes this term, the limit is {policy.term_limit}", limit=held)
    if live >= MAX_APPLICATIONS_PER_TERM:
        raise TermLimitReached(
            f"at most {MAX_APPLICATIONS_PER_TERM} applications per term", limit=MAX_APPLICATIONS_PER_TERM
        )
