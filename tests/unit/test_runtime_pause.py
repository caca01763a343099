"""pause: the one way the runtime's loops wait (an interval cut short by a stop or a wake-up)."""

from __future__ import annotations

import asyncio

import pytest

from services.runtime.pause import pause

pytestmark = pytest.mark.unit


async def test_it_waits_the_seconds_when_no_event_is_set() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await pause(0.05, asyncio.Event()) is False
    assert await pause(0.01) is False
    assert loop.time() - started >= 0.05


async def test_an_event_set_meanwhile_ends_it_at_once() -> None:
    stop, wake = asyncio.Event(), asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, wake.set)
    started = asyncio.get_running_loop().time()
    assert await pause(30, stop, wake) is True
    assert asyncio.get_running_loop().time() - started < 5
    assert not stop.is_set()


async def test_an_event_already_set_returns_without_waiting() -> None:
    stop = asyncio.Event()
    stop.set()
    assert await pause(30, stop) is True
