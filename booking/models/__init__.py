"""SQLModel tables, one module per aggregate."""

from booking.models.accounts import ApiToken, Role, RoleGrant, TokenKind, User
from booking.models.bookings import SLOT_HOLDING_STATES, Booking, BookingState, Occurrence
from booking.models.calendars import Closure, ClosureReason, OpeningHours, SpaceTree
from booking.models.events import BookingEvent, EventKind, OutboxMessage
from booking.models.idempotency import IdempotencyKey
from booking.models.organisations import Organisation, OrganisationKind
from booking.models.policies import RULE_FIELDS, Approval, Policy
from booking.models.regions import PARENT_LEVEL, Region, RegionLevel
from booking.models.spaces import Space, SpaceKind
from booking.models.teaching import Allocation, AllocationStatus, ClassBooking, CommunityClass, Teacher
from booking.models.venues import DEFAULT_TIMEZONE, Venue, VenueKind

__all__ = [
    "DEFAULT_TIMEZONE",
    "PARENT_LEVEL",
    "RULE_FIELDS",
    "SLOT_HOLDING_STATES",
    "Allocation",
    "AllocationStatus",
    "ApiToken",
    "Approval",
    "Booking",
    "BookingEvent",
    "BookingState",
    "ClassBooking",
    "Closure",
    "ClosureReason",
    "CommunityClass",
    "EventKind",
    "IdempotencyKey",
    "Occurrence",
    "OpeningHours",
    "Organisation",
    "OrganisationKind",
    "OutboxMessage",
    "Policy",
    "Region",
    "RegionLevel",
    "Role",
    "RoleGrant",
    "Space",
    "SpaceKind",
    "SpaceTree",
    "Teacher",
    "TokenKind",
    "User",
    "Venue",
    "VenueKind",
]
