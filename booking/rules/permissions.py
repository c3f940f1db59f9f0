"""Who may do what: pure answers from an actor's grants and the facts of a resource.

An ``Actor`` is what a request acts as: anonymous, or a user with role grants. Grants are
scoped: a district administrator to a region subtree (or the whole district when the grant
names no region), a venue manager, organiser or teacher to an organisation. The functions
below answer yes or no; services turn a no into 403, or 404 where even existence is private.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int | None = None
    everywhere: bool = False  # district administrator of the whole district
    admin_regions: frozenset[int] = frozenset()  # every region in the subtrees administered
    managed: frozenset[int] = frozenset()  # organisations whose staff (venue managers) the actor is
    member_of: frozenset[int] = frozenset()  # organisations the actor books for, as organiser
    teaches_for: frozenset[int] = frozenset()
    resident: bool = False

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None or self.everywhere  # the system acts without a user

    @property
    def is_admin(self) -> bool:
        return self.everywhere or bool(self.admin_regions)


ANONYMOUS = Actor()
# The district itself, acting without a person: loading demo data, system jobs.
SYSTEM = Actor(everywhere=True)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a venue or space sits and who owns it."""

    region_id: int
    owner_id: int


@dataclass(frozen=True, slots=True)
class BookingScope:
    """Whose a booking is and whose space it is in."""

    organisation_id: int
    organisation_region_id: int | None
    place: Place


def administers(actor: Actor, region_id: int | None) -> bool:
    """District administrators of the region's subtree; a region-less thing is the whole district's."""
    return actor.everywhere or (region_id is not None and region_id in actor.admin_regions)


def manages_place(actor: Actor, place: Place) -> bool:
    """Manage a venue or space: its hours, closures, policies, and approve requests for it."""
    return place.owner_id in actor.managed or administers(actor, place.region_id)


def manages_organisation(actor: Actor, organisation_id: int, region_id: int | None) -> bool:
    """Edit an organisation and what it offers (its classes, its teachers)."""
    return organisation_id in actor.managed or administers(actor, region_id)


def books_for(actor: Actor, organisation_id: int, region_id: int | None) -> bool:
    """Request, see and cancel bookings in an organisation's name."""
    return organisation_id in actor.member_of or manages_organisation(actor, organisation_id, region_id)


def sees_booking(actor: Actor, scope: BookingScope) -> bool:
    return books_for(actor, scope.organisation_id, scope.organisation_region_id) or manages_place(actor, scope.place)


def decides_booking(actor: Actor, scope: BookingScope) -> bool:
    """Approve or reject a request; such staff are also not held to the space's policy."""
    return manages_place(actor, scope.place)


def may_grant(
    actor: Actor, role: str, organisation_id: int | None, organisation_region_id: int | None, region_id: int | None
) -> bool:
    """Give someone a role: district administrators within their subtree; an organisation's staff
    the organisation's own roles (never a district role)."""
    if organisation_id is not None:
        return manages_organisation(actor, organisation_id, organisation_region_id)
    return administers(actor, region_id) if role != "resident" or region_id is not None else actor.is_admin


def sees_user(actor: Actor, grants: list[tuple[int | None, int | None, int | None]]) -> bool:
    """An account is seen by whoever could have given one of its grants, each given as
    (organisation, the organisation's region, region)."""

    def gives(organisation_id: int | None, organisation_region_id: int | None, region_id: int | None) -> bool:
        if organisation_id is not None:
            return manages_organisation(actor, organisation_id, organisation_region_id)
        return administers(actor, region_id)

    return actor.everywhere or any(gives(*grant) for grant in grants)


def sees_teacher(actor: Actor, organisation_id: int | None, region_id: int | None) -> bool:
    """A teacher's record is personal data: their organisation's staff and district administrators."""
    if organisation_id is not None and organisation_id in actor.managed:
        return True
    return administers(actor, region_id)
