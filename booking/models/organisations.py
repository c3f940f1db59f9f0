from enum import StrEnum

from sqlalchemy import String
from sqlmodel import Field, SQLModel


class OrganisationKind(StrEnum):
    school = "school"
    library = "library"
    study_room_operator = "study_room_operator"
    sports_centre = "sports_centre"
    community_centre = "community_centre"
    community_college = "community_college"
    community_school = "community_school"
    learning_point = "learning_point"
    university = "university"
    company = "company"
    ngo = "ngo"
    learning_group = "learning_group"
    government = "government"


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    kind: OrganisationKind = Field(sa_type=String(40), index=True)
    region_id: int | None = Field(default=None, foreign_key="regions.id", index=True, ondelete="RESTRICT")
    # The learning-credit scheme of the classes it offers: attended hours per credit and points
    # per hour, and how credits round (``rounding``: down_to_half, down_to_tenth, nearest_tenth).
    hours_per_credit: float = 16.0
    points_per_hour: float = 1.0
    credit_rounding: str = Field(default="down_to_half", max_length=20)
