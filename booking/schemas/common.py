"""Field types shared by request and response schemas."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, TypeVar
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from booking.errors import NaiveDatetime
from integrations.holidays import is_supported

# A validation message that starts with "<code>:" is answered with that problem code
# instead of the generic invalid_request (see booking/api/problems.py).
NAIVE_DATETIME_MESSAGE = "naive_datetime: a timestamp needs a UTC offset, e.g. 2027-03-01T19:00:00+08:00"


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("naive_datetime", NAIVE_DATETIME_MESSAGE)
    return value.astimezone(UTC)


def _known_timezone(name: str) -> str:
    if name not in _timezones():
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


_TIMEZONES: set[str] = set()


def _timezones() -> set[str]:
    if not _TIMEZONES:
        _TIMEZONES.update(available_timezones())
    return _TIMEZONES


def _normalise_features(values: list[str]) -> list[str]:
    return sorted({value.strip().lower() for value in values if value.strip()})


def aware(field: str, value: datetime | None) -> datetime | None:
    """For instants that arrive outside a schema (query strings): same rule, same error code."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        message = NAIVE_DATETIME_MESSAGE.split(":", 1)[1].strip()
        raise NaiveDatetime(message, errors=[{"field": field, "source": "query", "message": message}])
    return value.astimezone(UTC)


def _known_country(code: str) -> str:
    if not is_supported(code):
        raise ValueError(f"no public-holiday calendar for country {code!r}")
    return code


Instant = Annotated[datetime, AfterValidator(_require_offset)]
TimeZoneName = Annotated[str, AfterValidator(_known_timezone)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Features = Annotated[
    list[Annotated[str, Field(max_length=50)]], Field(max_length=50), AfterValidator(_normalise_features)
]
CountryCode = Annotated[str, Field(min_length=2, max_length=2, pattern="^[A-Z]{2}$"), AfterValidator(_known_country)]
MAX_BUFFER = timedelta(days=1)  # a space's buffer before or after a session
BufferMinutes = Annotated[int, Field(ge=0, le=MAX_BUFFER // timedelta(minutes=1))]

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; ``total`` counts every match."""

    items: list[T]
    total: int
    limit: int
    offset: int


def local(instant: datetime, timezone: str) -> datetime:
    """The instant as wall-clock time at the venue, with the venue's offset."""
    return instant.astimezone(ZoneInfo(timezone))
