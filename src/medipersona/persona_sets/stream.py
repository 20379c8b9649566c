"""One Server-Sent Events stream for a whole set: the members' job streams (``jobs.sse.job_event_stream``)
merged, each event tagged with its persona.

A browser allows about six connections per host, so a page of twelve members cannot follow twelve streams.
Events sent (no ids: a reconnecting client gets every member's state again from the start, which it applies
idempotently):

- ``member``   {"persona_id", "event": status|section|image|done|error, ...the member event's data}
- ``progress`` {"persona_id", "section", "chars", "target"} while a member's text streams (its deltas, text left out)
- ``done``     {"status": done|partial|failed} once every member has finished
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from medipersona.jobs.sse import PING_SECONDS, format_event, job_event_stream
from medipersona.personas.models import Persona

FORWARDED = frozenset({"status", "section", "image", "done", "error"})


def parse_frames(chunk: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The (type, data) events in a chunk of ``format_event`` frames (comments such as pings skipped)."""
    events = []
    for block in chunk.decode().split("\n\n"):
        type_, data = None, []
        for line in block.split("\n"):
            if line.startswith("event: "):
                type_ = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if type_:
            events.append((type_, json.loads("\n".join(data)) if data else {}))
    return events


def final_event(persona: Persona) -> tuple[str, dict[str, Any]]:
    """What a finished member's stream ends with, from the stored row (its events pruned, or it had no job)."""
    if persona.status == "failed":
        return "error", persona.error or {"code": "failed", "message": "生成に失敗しました。"}
    return "done", {"status": persona.status, "name": persona.name, "image_status": persona.image_status}


async def _member_stream(app: FastAPI, persona: Persona) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    if not persona.current_job_id:
        yield final_event(persona)
        return
    fallback = [final_event(persona)] if persona.status in ("done", "failed") else None
    async for chunk in job_event_stream(app, persona.current_job_id, fallback=fallback):
        for event in parse_frames(chunk):
            yield event


def set_status(finals: dict[str, str]) -> str:
    done = sum(1 for t in finals.values() if t == "done")
    if done == len(finals):
        return "done"
    return "failed" if done == 0 else "partial"


async def set_event_stream(app: FastAPI, members: list[Persona]) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[tuple[str, str | None, dict[str, Any]]] = asyncio.Queue()

    async def pump(persona: Persona) -> None:
        last = "error"
        try:
            async for type_, data in _member_stream(app, persona):
                if type_ in ("done", "error"):
                    last = type_
                await queue.put((persona.id, type_, data))
        except Exception:  # noqa: BLE001 - one member's broken stream must not end the others'
            await queue.put((persona.id, "error", {"code": "stream_failed",
                                                   "message": "進行状況を取得できませんでした。"}))
        finally:
            await queue.put((persona.id, None, {"final": last}))

    tasks = [asyncio.create_task(pump(p), name=f"set-member-{p.id}") for p in members]
    finals: dict[str, str] = {}
    try:
        while len(finals) < len(members):
            try:
                persona_id, type_, data = await asyncio.wait_for(queue.get(), timeout=PING_SECONDS)
            except TimeoutError:
                yield b": ping\n\n"
                continue
            if type_ is None:
                finals[persona_id] = data["final"]
                continue
            if type_ == "delta":
                frame = format_event("progress", {"persona_id": persona_id, "section": data.get("section"),
                                                  "chars": data.get("chars"), "target": data.get("target")})
            elif type_ in FORWARDED:
                frame = format_event("member", {**data, "persona_id": persona_id, "event": type_})
            else:
                continue
            yield frame
        yield format_event("done", {"status": set_status(finals) if finals else "failed"})
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
