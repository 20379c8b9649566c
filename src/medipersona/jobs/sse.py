"""A reusable Server-Sent Events stream over ``JobEvent`` rows.

    return StreamingResponse(job_event_stream(request.app, job_id, after_id=last_id), **SSE_RESPONSE_KWARGS)

Wire format per event: ``id: <row id>`` / ``event: <type>`` / ``data: <JSON>``. A client that connects late (or
reconnects with ``Last-Event-ID``) first gets every event after ``after_id`` (so: the state so far), then follows
live. The stream ends after a ``done`` or ``error`` event. While the job runs in this worker, new rows arrive
through the in-process hub (no polling); otherwise the table is polled every ``settings.job_poll_seconds``.
A ``: ping`` comment is sent after ``PING_SECONDS`` of silence (proxies with idle timeouts).

Event semantics for clients: on ``status`` with ``"status": "running"`` (a new attempt, e.g. after a takeover),
drop partially streamed text; ``delta`` {"section", "text", "offset"} appends ``text`` at ``offset``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import orjson
from fastapi import FastAPI
from sqlalchemy import select

from medipersona.jobs.models import TERMINAL_EVENTS, Job, JobEvent

SSE_RESPONSE_KWARGS: dict[str, Any] = {
    "media_type": "text/event-stream",
    "headers": {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
}
PING_SECONDS = 15.0  # keep-alive comment after this much silence (proxies with idle timeouts)
LOCAL_SAFETY_POLL = 15.0  # seconds: even a local job's stream looks at the table now and then
MISSING_JOB_MESSAGE = {"code": "job_missing", "message": "処理が見つかりません。削除された可能性があります。"}


def format_event(type: str, data: Any, event_id: int | str | None = None) -> bytes:
    """One SSE frame. The data is compact JSON on one line (orjson: UTF-8, no newline can occur in it; a burst
    formats ~10,000 of these). Non-string keys become strings, as with ``json.dumps`` and ``db.json_text``."""
    head = f"id: {event_id}\nevent: {type}\n" if event_id is not None else f"event: {type}\n"
    return head.encode() + b"data: " + orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS) + b"\n\n"


def static_event_stream(events: Iterable[tuple[str, Any]]) -> AsyncIterator[bytes]:
    """A stream of fixed events (e.g. the stored state of a persona that has no job)."""

    async def gen() -> AsyncIterator[bytes]:
        for type, data in events:
            yield format_event(type, data)

    return gen()


MAX_EVENT_ID = 2**53  # far beyond any real id; larger values would overflow the database's BIGINT


def parse_last_event_id(value: str | None) -> int:
    try:
        return min(MAX_EVENT_ID, max(0, int(value or 0)))
    except ValueError:
        return 0


async def _read_rows(app: FastAPI, job_id: str, after_id: int, session=None) -> list[dict[str, Any]]:
    stmt = (
        select(JobEvent.id, JobEvent.type, JobEvent.data)
        .where(JobEvent.job_id == job_id, JobEvent.id > after_id)
        .order_by(JobEvent.id)
        .limit(2000)
    )
    if session is not None:  # the request's own session: read once, then give the connection back
        try:
            rows = (await session.execute(stmt)).all()
        finally:
            await session.close()
    else:
        async with app.state.db.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
    return [{"id": int(r.id), "type": r.type, "data": r.data} for r in rows]


async def _job_status(app: FastAPI, job_id: str) -> str | None:
    async with app.state.db.engine.connect() as conn:
        return await conn.scalar(select(Job.status).where(Job.id == job_id))


EventView = Callable[[str, Any], tuple[str, Any] | None]


def _format_after(events, last: int, view: EventView | None = None) -> tuple[list[bytes], int, bool]:
    """SSE frames for the events after id ``last`` (up to a terminal one): (frames, new last id, finished).
    ``view`` maps each event to the (type, data) a client sees, or drops it (None); the job's own terminal
    events end the stream either way."""
    frames: list[bytes] = []
    for event in events:
        if event["id"] <= last:
            continue
        last = event["id"]
        shown = (event["type"], event["data"]) if view is None else view(event["type"], event["data"])
        if shown is not None:
            frames.append(format_event(shown[0], shown[1], event["id"]))
        if event["type"] in TERMINAL_EVENTS or (shown is not None and shown[0] in TERMINAL_EVENTS):
            return frames, last, True
    return frames, last, False


class LazyStoredState:
    """A ``fallback`` for ``job_event_stream``: the stored state of a finished subject (a persona, an analysis) as
    events, read only if its job's events were pruned. ``events_of`` turns the row of ``model`` with id ``ident``
    (read in a session of its own) into events; ``missing`` is sent when the row is gone."""

    def __init__(self, app: FastAPI, model: type, ident: str, events_of: Callable[[Any], list[tuple[str, dict]]],
                 missing: list[tuple[str, dict]]) -> None:
        self.app = app
        self.model = model
        self.ident = ident
        self.events_of = events_of
        self.missing = missing

    async def events(self) -> list[tuple[str, dict]]:
        async with self.app.state.db.sessionmaker() as session:
            row = await session.get(self.model, self.ident)
        if row is None:
            return self.missing
        return self.events_of(row)


async def job_event_stream(
    app: FastAPI,
    job_id: str,
    *,
    after_id: int = 0,
    ping_seconds: float | None = None,
    poll_seconds: float | None = None,
    session=None,
    fallback: Any = None,
    view: EventView | None = None,
) -> AsyncIterator[bytes]:
    """``session``: optionally the request's session, used for the first read and then closed.
    ``fallback``: events to send instead when the job has finished and its events were pruned: a list of
    (type, data), or an object whose ``async events()`` returns one (loaded only when needed).
    ``view``: follow one part of a job (see ``_format_after``), e.g. the timeline analysis a generation runs."""
    settings = app.state.settings
    runtime = app.state.jobs
    ping = ping_seconds or PING_SECONDS
    poll = poll_seconds or settings.job_poll_seconds
    last = after_id
    queue = runtime.hub.subscribe(job_id)
    idle_reads = 0
    try:
        need_read = True
        local_at_read = False
        last_sent = time.monotonic()
        while True:
            if need_read:
                # Locality is checked *before* reading: if the job ran here then, every later row reaches us
                # through the hub (we subscribed first), so the hub alone is gap-free from now on.
                local_at_read = runtime.is_local(job_id)
                # A job created and run here keeps its events in the hub: the state so far comes from memory
                # (taken with no await since subscribing, so the queue carries exactly what follows it).
                replay = runtime.hub.replay(job_id) if local_at_read else None
                if replay is None:
                    rows = await _read_rows(app, job_id, last, session)
                else:
                    rows = replay
                    if session is not None:
                        await session.close()
                session = None
                chunk, last, finished = _format_after(rows, last, view)
                if chunk:
                    yield b"".join(chunk)
                    last_sent = time.monotonic()
                if finished:
                    return
                if rows:
                    idle_reads = 0
                else:
                    idle_reads += 1
                    # First read empty, or nothing for a while: has the job gone, or finished long ago
                    # (events pruned)?
                    if idle_reads == 1 and last == after_id or idle_reads % 20 == 0:
                        status = await _job_status(app, job_id)
                        if status is None:
                            yield format_event("error", MISSING_JOB_MESSAGE)
                            return
                        if status in ("done", "failed") and not await _read_rows(app, job_id, last):
                            if fallback is not None and hasattr(fallback, "events"):
                                fallback = await fallback.events()
                            for type, data in fallback or [("done" if status == "done" else "error",
                                                            {"status": status})]:
                                yield format_event(type, data)
                            return
                need_read = False
            timeout = LOCAL_SAFETY_POLL if local_at_read else poll
            timeout = min(timeout, max(0.05, ping - (time.monotonic() - last_sent)))
            try:
                event = await asyncio.wait_for(queue.get(), timeout=timeout)
            except TimeoutError:
                if time.monotonic() - last_sent >= ping - 0.01:
                    yield b": ping\n\n"
                    last_sent = time.monotonic()
                need_read = True
                continue
            if not local_at_read:
                # The job may have moved here after rows we have not read yet: read the table.
                need_read = True
                continue
            batch = [event]
            while not queue.empty():
                batch.append(queue.get_nowait())
            chunk, last, finished = _format_after(batch, last, view)
            if chunk:
                # one write per wake-up, however many events it carries
                yield b"".join(chunk)
                last_sent = time.monotonic()
            if finished:
                return
            if not runtime.is_local(job_id):
                need_read = True
    finally:
        runtime.hub.unsubscribe(job_id, queue)
        if session is not None:
            await session.close()
