"""Fixtures shared by several test modules."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .fakes import FakeServer


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    """A fresh fake HTTP host on 127.0.0.1 (modules may define their own ``server``)."""
    async with FakeServer() as fake:
        yield fake
