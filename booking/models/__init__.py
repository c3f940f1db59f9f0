"""SQLModel tables, one module per aggregate."""

from booking.models.accounts import ApiToken, Role, RoleGrant, TokenKind, User
from booking.models.bookings import SLOT_HOLDING_STATES, Booking, BookingState, Occurrence
from booking.models.calendars import Closure, ClosureReason, OpeningHours, SpaceTree
from booking.models.events import BookingEvent, EventKind, OutboxMessage
from booking.models.idempotency import IdempotencyKey
from booking.models.learning import (
    DEFAULT_TIERS,
    HOLDING,
    Application,
    ApplicationState,
    Attendance,
    AttendanceStatus,
    Channel,
    EnrolmentMode,
    EnrolmentPolicy,
    LearningEvent,
    Outcome,
    Resident,
    ResidentAgent,
    SessionCode,
    Tier,
)
from booking.models.mail import MailDelivery
from booking.models.organisations import Organisation, OrganisationKind
from booking.models.policies import RULE_FIELDS, Approval, Policy
from booking.models.regions import PARENT_LEVEL, Region, RegionLevel
from booking.models.spaces import Space, SpaceKind
from booking.models.teaching import Allocation, AllocationStatus, ClassBooking, CommunityClass, Teacher
from booking.models.venues import DEFAULT_TIMEZONE, Venue, VenueKind
from booking.models.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

__all__ = [
    "DEFAULT_TIERS",
    "DEFAULT_TIMEZONE",
    "HOLDING",
    "PARENT_LEVEL",
    "RULE_FIELDS",
    "SLOT_HOLDING_STATES",
    "Allocation",
    "AllocationStatus",
    "ApiToken",
    "Application",
    "ApplicationState",
    "Approval",
    "Attendance",
    "AttendanceStatus",
    "Booking",
    "BookingEvent",
    "BookingState",
    "Channel",
    "ClassBooking",
    "Closure",
    "ClosureReason",
    "CommunityClass",
    "DeliveryState",
    "EnrolmentMode",
    "EnrolmentPolicy",
    "EventKind",
    "IdempotencyKey",
    "LearningEvent",
    "MailDelivery",
    "Occurrence",
    "OpeningHours",
    "Organisation",
    "OrganisationKind",
    "OutboxMessage",
    "Outcome",
    "Policy",
    "Region",
    "RegionLevel",
    "Resident",
    "ResidentAgent",
    "Role",
    "RoleGrant",
    "SessionCode",
    "Space",
    "SpaceKind",
    "SpaceTree",
    "Teacher",
    "Tier",
    "TokenKind",
    "User",
    "Venue",
    "VenueKind",
    "WebhookDelivery",
    "WebhookEndpoint",
]
