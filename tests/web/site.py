"""A small site for the page tests: the learning world's class (Mondays 19:00–20:30 in March
2027, first come, two seats, enrolment open), a resident who signs in with a password, and
helpers that drive the pages as a browser without JavaScript would (cookies, forms, CSRF)."""

import re
from dataclasses import dataclass
from html import unescape

import httpx

from tests.learning import LearningWorld, build_learning_world, set_policy

RESIDENT = {"username": "li-xiuying", "password": "secret-pass-1955", "display_name": "李秀英", "birth_year": 1955}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Site:
    world: LearningWorld
    resident_id: str  # the registered resident's public id
    pages: httpx.AsyncClient  # a visitor's browser: keeps cookies, follows nothing by itself


async def build_site(make, as_user, engine, clock, client, base_url: str, transport=None) -> Site:
    world = await build_learning_world(make, as_user, engine, clock)
    await set_policy(engine, world.offer, clock.now, mode="first_come", seats=2)
    registered = await client.post("/residents", json={**RESIDENT, "home_region_id": world.community})
    assert registered.status_code == 201, registered.text
    pages = (
        httpx.AsyncClient(transport=transport, base_url=base_url) if transport else httpx.AsyncClient(base_url=base_url)
    )
    return Site(world=world, resident_id=registered.json()["public_id"], pages=pages)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return unescape(found.group(1))


async def post_form(pages: httpx.AsyncClient, from_page: str, action: str, fields: dict) -> httpx.Response:
    """Open ``from_page``, then send a form to ``action`` with that page's CSRF token."""
    opened = await pages.get(from_page)
    return await pages.post(action, data={"csrf_token": csrf_of(opened.text), **fields})


async def sign_in(pages: httpx.AsyncClient, username: str, password: str, next_page: str = "/me/classes"):
    answer = await post_form(
        pages, "/signin", "/signin", {"username": username, "password": password, "next": next_page}
    )
    assert answer.status_code == 303, answer.text
    return answer


def text_of(html: str) -> str:
    """The page's words without tags, for assertions about what a reader sees."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
