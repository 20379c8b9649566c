"""Turns of the event loop for the jobs' bigger chunks of synchronous work.

A burst's 200 jobs all start, and all reach their text preparation (prompt, schema, the SDK's request, the
connection), at the same moment; run back to back, each is one event-loop iteration of 0.3–0.8 s in which no
socket is read: logins wait, the connections the portraits opened are only completed after it, and a request
still being inserted waits for each of its statements. ``LoopTurns.take()`` lets a few callers through per
iteration, so the loop polls its sockets between every few milliseconds of that work. ``first`` callers (a
job's start, which sends its portrait request) go before the others (text preparations, which have time).
"""

from __future__ import annotations

import asyncio

from medipersona.jobs.waiters import PriorityWaiters

TURNS_PER_ITERATION = 8


class LoopTurns:
    def __init__(self, per_iteration: int = TURNS_PER_ITERATION) -> None:
        self._free = per_iteration
        self._waiters = PriorityWaiters()

    async def take(self, first: bool = False) -> None:
        """Wait for a turn; the caller then runs its synchronous work up to its next real await. The turn is
        given back at the loop's next iteration (``call_soon``), whatever the caller does meanwhile."""
        loop = asyncio.get_running_loop()
        if self._free > 0 and not self._waiters:
            self._free -= 1
        else:
            await self._waiters.wait(first, lambda: loop.call_soon(self._give_back))
        loop.call_soon(self._give_back)

    def _give_back(self) -> None:
        if not self._waiters.hand_over():  # else the turn passed to that waiter
            self._free += 1
