"""A long loop over a batch hands the event loop to other tasks between slices of its work."""

from __future__ import annotations

import asyncio
import time

from services.runtime.cooperative import SLICE, cooperatively


async def test_another_task_runs_in_the_middle_of_a_long_loop() -> None:
    seen: list[int] = []
    ran_after: list[int] = []

    async def urgent() -> None:
        ran_after.append(len(seen))

    task = asyncio.create_task(urgent())
    async for n in cooperatively(range(10)):
        time.sleep(SLICE * 0.6)  # noqa: ASYNC251 - the point: work without an await
        seen.append(n)
    await task
    assert seen == list(range(10)), "every item, in order"
    assert ran_after[0] <= 2, "the other task ran after a slice, not after the whole loop"
