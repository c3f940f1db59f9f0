"""Public holidays from the ``holidays`` package, including China's substituted days off."""

from datetime import date
from functools import lru_cache

import holidays


class UnknownCountry(ValueError):
    pass


@lru_cache(maxsize=64)
def _year(country: str, year: int) -> tuple[tuple[date, str], ...]:
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError as error:
        raise UnknownCountry(f"no public-holiday calendar for country {country!r}") from error
    return tuple(sorted(calendar.items()))


def public_holidays(country: str, first: date, last: date) -> list[tuple[date, str]]:
    """(date, name) of every public holiday from ``first`` to ``last`` inclusive."""
    return [
        (day, name)
        for year in range(first.year, last.year + 1)
        for day, name in _year(country, year)
        if first <= day <= last
    ]


def is_supported(country: str) -> bool:
    try:
        _year(country, 2027)
    except UnknownCountry:
        return False
    return True
