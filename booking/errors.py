"""The error tree. Every error has an HTTP status and a stable snake_case code.

Services raise these; ``booking/api/problems.py`` renders them as RFC 9457 problem+json.
"""

from typing import Any, ClassVar


class VenueshareError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(VenueshareError):
    status, code, title = 404, "not_found", "Not found"

    def __init__(self, resource: str, resource_id: object) -> None:
        super().__init__(f"{resource} {resource_id} does not exist", resource=resource, id=resource_id)


class InvalidRequest(VenueshareError):
    """A request that cannot be valid; ``errors`` names each offending field."""

    status, code, title = 422, "invalid_request", "Invalid request"

    def __init__(self, detail: str, *, field: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail, errors=errors or [{"field": field, "message": detail}])


class NaiveDatetime(VenueshareError):
    status, code, title = 422, "naive_datetime", "Timestamp without a UTC offset"


class StartsInPast(VenueshareError):
    status, code, title = 422, "starts_in_past", "Booking starts in the past"


class CapacityExceeded(VenueshareError):
    status, code, title = 422, "capacity_exceeded", "More attendees than the space holds"


class InvalidParent(VenueshareError):
    status, code, title = 422, "invalid_parent", "Invalid parent"


class InvalidStateTransition(VenueshareError):
    status, code, title = 409, "invalid_state_transition", "Not allowed in the current state"


class InUse(VenueshareError):
    status, code, title = 409, "in_use", "Still referenced"


class BookingConflict(VenueshareError):
    status, code, title = 409, "booking_conflict", "The space is already booked"


class IdempotencyKeyReused(VenueshareError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency-Key reused with another body"


class IdempotencyKeyInvalid(VenueshareError):
    status, code, title = 422, "invalid_idempotency_key", "Invalid Idempotency-Key"


class AmbiguousLocalTime(VenueshareError):
    status, code, title = 422, "ambiguous_local_time", "Local time skipped or repeated by a DST change"


class OutsideOpeningHours(VenueshareError):
    status, code, title = 422, "outside_opening_hours", "Outside the space's opening hours"


class SpaceClosed(VenueshareError):
    status, code, title = 422, "space_closed", "The space is closed then"


class UnsupportedRecurrence(VenueshareError):
    status, code, title = 422, "unsupported_recurrence", "Recurrence rule outside the supported subset"


class RecurrenceTooLong(VenueshareError):
    status, code, title = 422, "recurrence_too_long", "Recurrence past the limits"


class WindowTooLong(VenueshareError):
    status, code, title = 422, "window_too_long", "Search window too long"


class InvalidOpeningHours(VenueshareError):
    status, code, title = 422, "invalid_opening_hours", "Invalid opening hours"


class Unauthorized(VenueshareError):
    status, code, title = 401, "unauthorized", "Sign-in required or failed"


class TooManyAttempts(VenueshareError):
    status, code, title = 429, "too_many_attempts", "Too many failed attempts"


class UsernameTaken(VenueshareError):
    status, code, title = 409, "username_taken", "Username taken"


class Forbidden(VenueshareError):
    status, code, title = 403, "forbidden", "Not allowed"


class PolicyViolation(VenueshareError):
    """A request that breaks a rule of the space's booking policy; names the rule and its limit."""

    status, code, title = 422, "policy_violation", "Against the space's booking policy"

    def __init__(self, detail: str, *, rule: str, limit: object, **extra: object) -> None:
        super().__init__(detail, rule=rule, limit=limit, **extra)


class StaleVersion(VenueshareError):
    status, code, title = 412, "stale_version", "The resource changed since you read it"


class CheckInClosed(VenueshareError):
    status, code, title = 409, "checkin_closed", "No session is open for check-in now"


class InvalidCalendar(VenueshareError):
    status, code, title = 422, "invalid_calendar", "Not a usable iCalendar file"


class UnknownTimezone(VenueshareError):
    status, code, title = 422, "unknown_timezone", "Unknown time zone"


class TooManyOccurrences(VenueshareError):
    status, code, title = 422, "too_many_occurrences", "Too many occurrences in the import window"


class CalendarTooComplex(VenueshareError):
    status, code, title = 422, "calendar_too_complex", "Calendar too complex to import"


class CalendarTooLarge(VenueshareError):
    status, code, title = 413, "calendar_too_large", "Calendar too large"


class UnsupportedMediaType(VenueshareError):
    status, code, title = 415, "unsupported_media_type", "Unsupported content type"


class UrlNotAllowed(VenueshareError):
    status, code, title = 422, "url_not_allowed", "URL not allowed"


class TooManyEndpoints(VenueshareError):
    status, code, title = 409, "too_many_endpoints", "Too many webhook endpoints"


class FetchFailed(VenueshareError):
    status, code, title = 502, "fetch_failed", "Fetching the calendar failed"


class ImportConflict(VenueshareError):
    status, code, title = 409, "import_conflict", "Another import of this calendar ran at the same time"


class NotAResident(VenueshareError):
    status, code, title = 403, "not_a_resident", "No resident profile"


class EnrolmentClosed(VenueshareError):
    status, code, title = 409, "enrolment_closed", "Enrolment is not open"


class AlreadyApplied(VenueshareError):
    status, code, title = 409, "already_applied", "Already applied to this class"


class TermLimitReached(VenueshareError):
    status, code, title = 409, "term_limit_reached", "At the limit of classes this term"


class ClassFull(VenueshareError):
    status, code, title = 409, "class_full", "No seats left"


class NotEligible(VenueshareError):
    status, code, title = 403, "not_eligible", "Outside the class's target group"


class AttendanceLocked(VenueshareError):
    status, code, title = 409, "attendance_locked", "Attendance can no longer be changed"


class WrongCode(VenueshareError):
    status, code, title = 422, "wrong_code", "Wrong check-in code"


class SessionCancelled(VenueshareError):
    status, code, title = 409, "session_cancelled", "The session was cancelled"


class SessionNotStarted(VenueshareError):
    status, code, title = 409, "session_not_started", "The session has not started yet"


class CsrfFailed(VenueshareError):
    """A page's form came back without the token the page gave it (or from another site)."""

    status, code, title = 403, "csrf_failed", "The form expired or came from elsewhere"
