"""Two FIFO queues of waiters, the ``first`` ones served before the others: the hand-over shared by the SQLite
write lock (``jobs.dblock.WriteLock``) and the loop turns (``jobs.pacing.LoopTurns``)."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable


class PriorityWaiters:
    def __init__(self) -> None:
        self._queues: tuple[collections.deque[asyncio.Future], collections.deque[asyncio.Future]] = (
            collections.deque(), collections.deque())

    def __bool__(self) -> bool:
        return bool(self._queues[0] or self._queues[1])

    async def wait(self, first: bool, pass_on: Callable[[], object]) -> None:
        """Wait until ``hand_over`` picks this waiter. Cancelled just as it was picked, it calls ``pass_on``
        (what the holder would have done on release), so the hand-over is not lost."""
        future = asyncio.get_running_loop().create_future()
        queue = self._queues[0 if first else 1]
        queue.append(future)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                pass_on()
            else:
                queue.remove(future)
            raise

    def hand_over(self) -> bool:
        """Wake the next waiter (first ones first); False when nobody waits."""
        for queue in self._queues:
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(None)
                    return True
        return False
