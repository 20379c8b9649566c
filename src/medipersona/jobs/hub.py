"""In-process fan-out of committed job events to the SSE streams of this worker."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any


class EventHub:
    """In-process fan-out of committed events, keyed by job id (used by SSE streams of this worker).

    For a job created and run by this worker (``open_log``), the hub also keeps every event it published, so
    a stream that connects while the job runs gets the state so far from memory instead of reading the
    table: under a burst, 200 streams connecting would otherwise cost 200 reads in the burst's busiest
    second. The log is dropped when the job ends (its stream then reads the table, like any other)."""

    def __init__(self) -> None:
        self._subs: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self._logs: dict[str, list[dict[str, Any]]] = {}

    def open_log(self, job_id: str, events: list[dict[str, Any]]) -> None:
        self._logs[job_id] = list(events)

    def close_log(self, job_id: str) -> None:
        self._logs.pop(job_id, None)

    def has_log(self, job_id: str) -> bool:
        return job_id in self._logs

    def replay(self, job_id: str) -> list[dict[str, Any]] | None:
        """The events published so far for a logged job (a copy), or None when the job is not logged here."""
        log = self._logs.get(job_id)
        return None if log is None else list(log)

    def subscribe(self, job_id: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subs[job_id].add(queue)
        return queue

    def unsubscribe(self, job_id: str, queue: asyncio.Queue) -> None:
        subs = self._subs.get(job_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                self._subs.pop(job_id, None)

    def publish(self, job_id: str, event: dict[str, Any]) -> None:
        log = self._logs.get(job_id)
        if log is not None:
            log.append(event)
        for queue in self._subs.get(job_id, ()):
            queue.put_nowait(event)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())
