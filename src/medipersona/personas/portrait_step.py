"""The portrait step of a generation job: generate (retried until the job's deadline), store in shared storage,
note it on the persona.

Runs beside the text from the job's first moment (its inputs come with the job payload). Its provider and model
are the admin's choice for ``portrait`` (or the environment's); an admin may turn portraits off (画像なし):
the persona is then done without one (``image_status`` ``none``). A portrait that still fails does not fail the
persona: it is done with ``image_status`` ``failed`` and a Japanese note.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from medipersona.db import utcnow
from medipersona.jobs.registry import JobContext
from medipersona.media.service import (
    PreparedImage,
    image_row,
    portrait_url,
    prepare_image,
    store_row,
    upload,
    upsert_statement,
)
from medipersona.personas.models import Persona
from medipersona.personas.portrait_prompt import build_image_request
from medipersona.providers.base import ProviderError, on_request_sent
from medipersona.providers.registry import ProviderRoute

log = logging.getLogger("medipersona.personas")

NO_PORTRAIT = {"status": "none", "message": "画像なしの設定のため、似顔絵は作成していません。"}


async def portrait_route(ctx: JobContext) -> ProviderRoute | None:
    """The admin's provider/model for portraits (None: 画像なし); the environment's when unreadable."""
    from medipersona.admin import service as admin
    from medipersona.providers.registry import env_route

    try:
        # Not through the jobs' read slots: the admin settings are cached (a version check at most once a
        # second), and the portrait must not wait behind 200 starting jobs' reads. Usually no session opens.
        async with ctx.lazy_session(None) as session:
            return await admin.task_route(session, ctx.settings, "portrait")  # type: ignore[arg-type]
    except Exception:
        log.exception("reading the portrait settings failed; using the environment's")
        route = env_route(ctx.settings, "image")
        return ProviderRoute(route.provider, ctx.settings.image_model, route.fallback)


async def _already_stored(ctx: JobContext) -> bool:
    """A retried job (taken over after its worker died) whose portrait was stored by the earlier attempt."""
    async with ctx.session() as session:
        row = (await session.execute(select(Persona.image_status, Persona.image_digest)
                                     .where(Persona.id == ctx.persona_id))).first()
    return row is not None and row.image_status == "done" and bool(row.image_digest)


async def make_portrait(ctx: JobContext, spec: dict[str, Any], timings: dict[str, Any],
                        on_sent: Callable[[], None] | None = None) -> tuple[str, dict[str, Any] | None]:
    """Generate and store the portrait from ``spec`` (the job payload's ``image``: age, gender, seed ...).
    Returns the image status (done | none | failed) and, when it failed, the error to note on the persona.
    ``on_sent`` is called once the image request is sent, or when no request will be (at the latest when this
    returns)."""
    signal = on_sent or _nothing
    try:
        with on_request_sent(signal):
            return await _make_portrait(ctx, spec, timings)
    finally:
        signal()


def _nothing() -> None:
    return None


def _upsert_image(dialect: str):
    return upsert_statement(dialect, touch=True)


async def _make_portrait(ctx: JobContext, spec: dict[str, Any], timings: dict[str, Any]
                         ) -> tuple[str, dict[str, Any] | None]:
    from medipersona.providers.calls import CallInfo, image_call
    from medipersona.providers.steps import with_step_retries

    if ctx.attempt > 1 and await _already_stored(ctx):
        return "done", None
    route = await portrait_route(ctx)
    if route is None:
        ctx.patch(Persona, ctx.subject_id, image_status="none", image_digest=None, image_mime=None,
                  image_provider="", image_model="", updated_at=utcnow())
        ctx.emit("image", NO_PORTRAIT)
        return "none", None
    started = time.monotonic()
    info = CallInfo()
    request = build_image_request(spec, seed=int(spec.get("seed") or 0), model=route.model)

    async def generate(_attempt: int):
        return await image_call(ctx.settings, request, route=route, info=info)

    async def store(_attempt: int) -> PreparedImage:
        image = await prepare_image(result.data, result.mime)
        if ctx.settings.portrait_storage != "s3":
            # The row (with its bytes) goes with the job's next batch, beside the persona's patch and the image
            # event below: no batch of its own to wait for (200 portraits arriving together made two rounds).
            ctx.add_row("stored_image", _upsert_image, image_row(ctx.settings, image))
            return image
        # A bucket: the row is committed before the object is put (a sweep meanwhile sees it touched).
        await ctx.write(lambda tx: store_row(ctx.settings, tx.session, image))
        await upload(ctx.settings, image)
        return image

    try:
        result = await with_step_retries("portrait", generate, deadline=ctx.deadline)
        image = await with_step_retries("portrait_store", store, deadline=ctx.deadline, also_retry=(OSError,))
    except ProviderError as exc:
        log.warning("portrait failed for persona %s: %s", ctx.persona_id, exc.code)
        return _failed(ctx, info, timings, started, f"似顔絵を生成できませんでした。{exc.message}")
    except OSError:
        log.exception("storing the portrait failed for persona %s", ctx.persona_id)
        return _failed(ctx, info, timings, started, "似顔絵を保存できませんでした。")
    timings["image_seconds"] = round(time.monotonic() - started, 3)
    ctx.patch(Persona, ctx.subject_id, image_status="done", image_digest=image.digest, image_mime=image.mime,
              image_provider=info.provider or "", image_model=result.model or info.model or "",
              updated_at=utcnow())
    ctx.emit("image", {"status": "done", "url": portrait_url(image.digest)})
    return "done", None


def _failed(ctx: JobContext, info, timings: dict[str, Any], started: float, message: str
            ) -> tuple[str, dict[str, Any]]:
    timings["image_seconds"] = round(time.monotonic() - started, 3)
    error = {"code": "image_failed", "part": "image", "message": message}
    ctx.patch(Persona, ctx.subject_id, image_status="failed", image_digest=None, image_mime=None,
              image_provider=info.provider or "", image_model=info.model or "", updated_at=utcnow())
    ctx.emit("image", {"status": "failed", "message": message})
    return "failed", error
