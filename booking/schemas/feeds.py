from sqlmodel import SQLModel


class FeedLinks(SQLModel):
    https: str  # for Google Calendar ("From URL") and any client
    webcal: str  # opens the subscription dialog of Apple Calendar and Outlook


class PrivateFeedIssued(FeedLinks):
    """Shown once: the link holds the key, and only its hash is kept."""
