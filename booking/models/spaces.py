from enum import StrEnum

from sqlalchemy import Column, String
from sqlmodel import Field, SQLModel

from booking.models.base import JSONList


class SpaceKind(StrEnum):
    classroom = "classroom"
    gym = "gym"
    court = "court"
    hall = "hall"
    reading_room = "reading_room"
    computer_lab = "computer_lab"
    kitchen = "kitchen"
    workshop = "workshop"
    field = "field"
    meeting_room = "meeting_room"
    studio = "studio"
    seminar_room = "seminar_room"
    music_room = "music_room"
    art_room = "art_room"
    dance_studio = "dance_studio"
    activity_room = "activity_room"
    multipurpose_room = "multipurpose_room"


class Space(SQLModel, table=True):
    """A bookable unit of a venue. A space with children is divisible: booking it holds all its leaves."""

    __tablename__ = "spaces"

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venues.id", index=True, ondelete="RESTRICT")
    parent_id: int | None = Field(default=None, foreign_key="spaces.id", index=True, ondelete="RESTRICT")
    name: str = Field(max_length=200)
    kind: SpaceKind = Field(sa_type=String(40), index=True)
    capacity: int
    features: list[str] = Field(default_factory=list, sa_column=Column(JSONList, nullable=False))
    buffer_before_min: int = 0
    buffer_after_min: int = 0
