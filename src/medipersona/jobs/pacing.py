"""Turns of the event loop for the jobs' bigger chunks of synchronous work.

A burst's 200 jobs all reach their text preparation (prompt, schema, the SDK's request, the connection) at the
same moment; run back to back, that is one event-loop iteration of ~0.8 s in which no socket is read: logins
wait, and the connections the portraits opened are only completed after it. ``LoopTurns.take()`` lets a few
callers through per iteration, so the loop polls its sockets between every few milliseconds of that work.
"""

from __future__ import annotations

import asyncio

TURNS_PER_ITERATION = 8


class LoopTurns:
    def __init__(self, per_iteration: int = TURNS_PER_ITERATION) -> None:
        self._slots = asyncio.Semaphore(per_iteration)

    async def take(self) -> None:
        """Wait for a turn; the caller then runs its synchronous work up to its next real await. The turn is
        given back at the loop's next iteration (``call_soon``), whatever the caller does meanwhile."""
        await self._slots.acquire()
        asyncio.get_running_loop().call_soon(self._slots.release)
