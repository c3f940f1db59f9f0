"""Fixtures most API tests share: an organisation to book for and a room to book."""

import pytest


@pytest.fixture
async def org(make):
    return await make.organisation()


@pytest.fixture
async def room(make):
    return await make.space()
