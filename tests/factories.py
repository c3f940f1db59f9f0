"""Factories: create through the public API with sensible defaults, override what matters."""

from datetime import datetime
from typing import Any

import httpx


class Factory:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def _create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def region(self, **overrides: Any) -> dict[str, Any]:
        return await self._create("/regions", {"name": "临江区", "level": "district", **overrides})

    async def organisation(self, **overrides: Any) -> dict[str, Any]:
        return await self._create("/organisations", {"name": "社区学习小组", "kind": "learning_group", **overrides})

    async def venue(self, **overrides: Any) -> dict[str, Any]:
        if "region_id" not in overrides:
            overrides["region_id"] = (await self.region())["id"]
        if "owner_id" not in overrides:
            overrides["owner_id"] = (await self.organisation(kind="school", name="临江第一中学"))["id"]
        return await self._create("/venues", {"name": "临江第一中学", "kind": "school", **overrides})

    async def space(self, **overrides: Any) -> dict[str, Any]:
        venue_id = overrides.pop("venue_id", None) or (await self.venue())["id"]
        body = {"name": "Classroom 101", "kind": "classroom", "capacity": 40, **overrides}
        return await self._create(f"/venues/{venue_id}/spaces", body)

    async def hall(self, courts: int = 2, **overrides: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A divisible sports hall and its courts."""
        hall = await self.space(name="Sports hall", kind="hall", capacity=200, **overrides)
        parts = [
            await self.space(
                venue_id=hall["venue_id"], name=f"Court {chr(65 + i)}", kind="court", capacity=100, parent_id=hall["id"]
            )
            for i in range(courts)
        ]
        return hall, parts

    @staticmethod
    def booking_body(space_id: int, organisation_id: int, starts_at: str, ends_at: str, **overrides: Any) -> dict:
        return {
            "space_id": space_id,
            "organisation_id": organisation_id,
            "title": "Calligraphy for seniors",
            "attendees": 10,
            "starts_at": starts_at,
            "ends_at": ends_at,
            **overrides,
        }

    async def book(
        self, space_id: int, organisation_id: int, starts_at: str, ends_at: str, **overrides
    ) -> httpx.Response:
        return await self.client.post(
            "/bookings", json=self.booking_body(space_id, organisation_id, starts_at, ends_at, **overrides)
        )


def at(day: int, hour: int, minute: int = 0) -> str:
    """A Shanghai wall-clock instant in March 2027, with its offset, for request bodies."""
    return datetime.fromisoformat(f"2027-03-{day:02d}T{hour:02d}:{minute:02d}:00+08:00").isoformat()
