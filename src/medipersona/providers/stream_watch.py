"""The time-outs of a streamed answer: no chunk for ``idle`` seconds, or the whole call past its deadline.

One timer per quiet spell, not one per chunk: a real API streams a chunk per token (a persona's text is over a
thousand of them), and an ``asyncio.timeout`` around every ``anext`` created, armed and cancelled a timer each
time. Here a chunk only stores the loop's time; the timer, when it fires, looks at when the last chunk came and
sets itself again for the rest of the spell, or expires.

Only the waits for the provider count: while the stream's consumer has a chunk (the generator is suspended at
its ``yield``), the watch is paused, as the per-``anext`` timeout was.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

# A timer may fire up to the loop's clock resolution early; a spell that has less than this left has run out.
_EARLY = 0.001


class StreamWatch:
    """``async with StreamWatch(idle, deadline) as watch:`` around the loop reading a stream, with
    ``watch.waiting()`` before each read and ``watch.got()`` after it. Raises ``TimeoutError`` out of the block
    when a read waited ``idle`` seconds or ran past ``deadline`` (the loop's time), cancelling the read as
    ``asyncio.timeout`` does (and, like it, telling its own cancellation from anybody else's)."""

    def __init__(self, idle: float, deadline: float) -> None:
        self.idle = idle
        self.deadline = deadline
        self.expired = False
        self._since = 0.0
        self._reading = False

    async def __aenter__(self) -> StreamWatch:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None, "StreamWatch is used inside a task"
        self._task = task
        self._cancelling = task.cancelling()
        self._handle: asyncio.TimerHandle | None = None
        return self

    def waiting(self) -> None:
        """A read starts: the spell's clock runs. The timer set for an earlier spell fires before this one ends
        and sets itself again; it is moved only when this spell must end sooner (the deadline)."""
        self._since = self._loop.time()
        self._reading = True
        due = self._due()
        if self._handle is None or self._handle.when() > due:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = self._loop.call_at(due, self._check)

    def got(self) -> None:
        """A read ended: the clock stops until the next ``waiting``."""
        self._reading = False

    def _due(self) -> float:
        return min(self._since + self.idle, self.deadline)

    def _check(self) -> None:
        now = self._loop.time()
        if not self._reading:  # the consumer has a chunk: nothing is timed now; look again later
            self._handle = self._loop.call_at(now + self.idle, self._check)
            return
        due = self._due()
        if due - now > _EARLY:  # chunks came since the timer was set: the spell goes on
            self._handle = self._loop.call_at(due, self._check)
            return
        self._handle = None
        self.expired = True
        self._task.cancel()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        # As asyncio.Timeout: our own cancellation becomes TimeoutError; one requested by somebody else as well
        # (task.cancel() more than once) stays a cancellation.
        if self.expired and exc_type is asyncio.CancelledError and self._task.uncancel() <= self._cancelling:
            raise TimeoutError from exc
