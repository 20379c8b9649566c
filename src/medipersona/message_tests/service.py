"""Message-test logic without HTTP: validate (the personas or the set, the message, the optional leaflet image)
and create (a row + a durable job, one commit), retry a failed test, read, list, delete.

Nothing is stored when anything is refused: the image file is written only after every check passed and is removed
again if the insert fails.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy import delete as sa_delete
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.accounts.models import User
from medipersona.db import utcnow
from medipersona.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from medipersona.jobs.dblock import write_lock
from medipersona.jobs.lifecycle import wake_local_runners
from medipersona.jobs.models import Job
from medipersona.jobs.service import first_event, new_job
from medipersona.message_tests.models import MessageTest, new_test_id
from medipersona.message_tests.schemas import IMAGE_MAX_BYTES, KIND_LABELS, MessageTestCreate
from medipersona.personas.character import persona_card
from medipersona.personas.checks import require_section
from medipersona.personas.models import Persona
from medipersona.personas.service import release_connection
from medipersona.providers.base import sniff_image_mime
from medipersona.quota import check_daily_quota
from medipersona.records import iso, owned_or_404
from medipersona.settings import Settings

log = logging.getLogger("medipersona.message_tests")

JOB_KIND = "message_test"
NOT_FOUND_MESSAGE = "メッセージテストが見つかりません。"
STATUS_LABELS = {"queued": "待機中", "running": "テスト中", "done": "完了", "failed": "失敗"}
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}



def _field(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, fields=[{"field": field, "in": "body", "message": message}])


def uploads_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "uploads" / "message_tests"


async def resolve_personas(session: AsyncSession, user: User, data: MessageTestCreate) -> list[Persona]:
    """The personas who read the message, in order: the given ones (404 for unknown or other users' ones, 409 for
    unfinished ones) or the finished members of the set (409 while it is generating); 403 for departments outside
    the user's sections."""
    if data.set_id:
        from medipersona.persona_sets.service import get_set, members_of

        members = [m for m in await members_of(session, await get_set(session, user, data.set_id)) if m is not None]
        if any(m.status in ("queued", "running") for m in members):
            raise Conflict("ペルソナセットの生成が終わっていません。すべてのペルソナが完成してからテストしてください。",
                           code="set_not_ready")
        personas = [m for m in members if m.status == "done"]
        if not personas:
            raise Conflict("このペルソナセットには完成したペルソナがありません。", code="set_empty")
    else:
        ids = list(data.persona_ids or [])
        found = {p.id: p for p in await session.scalars(select(Persona).where(Persona.id.in_(ids)))}
        missing = [i for i in ids if i not in found or (found[i].owner_id != user.id and not user.is_admin)]
        if missing:
            raise NotFound("指定されたペルソナが見つかりません。削除されたか、利用する権限がありません。",
                           code="persona_not_found")
        personas = [found[i] for i in ids]
        unfinished = [p.name or p.id for p in personas if p.status != "done"]
        if unfinished:
            raise Conflict("生成が完了していないペルソナが含まれています（" + "、".join(unfinished[:5]) + "）。"
                           "完成してからテストしてください。", code="persona_not_ready")
    for persona in personas:
        require_section(user, persona.department_id)
    return personas


def decode_image(settings: Settings, data: MessageTestCreate) -> tuple[bytes, str] | None:
    """The leaflet image's bytes and type, if one was sent and the configured provider can read images."""
    if data.image is None:
        return None
    from medipersona.providers.registry import provider_label, text_accepts_images

    if not text_accepts_images(settings):
        raise _field("image", f"現在のAIプロバイダー（{provider_label(settings.text_provider)}）は画像を読み取れないため、"
                              "チラシの画像は使えません。画像を外して、文章だけでテストしてください。")
    try:
        raw = base64.b64decode(data.image.data.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise _field("image.data", "画像データ（base64）を読み取れませんでした。") from None
    if len(raw) > IMAGE_MAX_BYTES:
        raise PayloadTooLarge(f"画像は{IMAGE_MAX_BYTES // (1024 * 1024)}MB以内にしてください。", code="image_too_large")
    mime = sniff_image_mime(raw, default="")
    if mime not in EXTENSIONS:
        raise _field("image", "画像はPNG・JPEG・WebPのいずれかにしてください。")
    return raw, mime


def _verify_image(raw: bytes) -> bool:
    from io import BytesIO

    from PIL import Image

    try:
        with Image.open(BytesIO(raw)) as img:
            img.verify()
        return True
    except Exception:  # noqa: BLE001 - any decoder error means "not a readable image"
        return False


def _write_file(path: Path, raw: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(raw)
    tmp.replace(path)


async def create_test(session: AsyncSession, settings: Settings, user: User, data: MessageTestCreate) -> MessageTest:
    personas = await resolve_personas(session, user, data)
    image = decode_image(settings, data)
    if image is not None and not await anyio.to_thread.run_sync(_verify_image, image[0]):
        raise _field("image", "画像ファイルを読み取れませんでした。壊れていないPNG・JPEG・WebPの画像を選んでください。")
    calls = len(personas) + 1  # one reaction each, then the summary
    await check_daily_quota(session, user, calls)
    await release_connection(session)
    test = MessageTest(id=new_test_id(), owner_id=user.id, status="queued", set_id=data.set_id,
                       persona_ids=[p.id for p in personas], kind=data.kind, message=data.message, model_calls=calls,
                       results=[], summary={}, text_provider="", text_model="", timings={})
    path = None
    if image is not None:
        path = uploads_dir(settings) / f"{test.id}{EXTENSIONS[image[1]]}"
        await anyio.to_thread.run_sync(_write_file, path, image[0])
        test.image_path, test.image_mime = path.name, image[1]
    job = new_job(JOB_KIND, None, {"test_id": test.id}, owner_id=user.id)
    test.current_job_id = job.id
    try:
        async with write_lock(session.bind):
            session.add(test)
            session.add(job)
            await session.flush()
            session.add(first_event(job))
            await session.commit()
    except BaseException:
        if path is not None:
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))
        raise
    wake_local_runners(settings)
    return test


async def retry_test(session: AsyncSession, settings: Settings, user: User, test_id: str) -> MessageTest:
    """Run a failed test again with the same personas and message (its failed job is replaced)."""
    test = await get_test(session, user, test_id)
    if test.status != "failed":
        raise Conflict("失敗したメッセージテストだけ再実行できます。", code="not_failed")
    await check_daily_quota(session, user, test.model_calls)
    previous = test.current_job_id
    job = new_job(JOB_KIND, None, {"test_id": test.id}, owner_id=user.id)
    await release_connection(session)
    async with write_lock(session.bind):
        if previous:
            await session.execute(sa_delete(Job).where(Job.id == previous))
        test.status, test.error, test.finished_at = "queued", None, None
        test.results, test.summary, test.current_job_id, test.updated_at = [], {}, job.id, utcnow()
        session.add(test)
        session.add(job)
        await session.flush()
        session.add(first_event(job))
        await session.commit()
    wake_local_runners(settings)
    return test


async def get_test(session: AsyncSession, user: User, test_id: str) -> MessageTest:
    """The test if the user owns it (admins: any); 404 otherwise (no existence leak)."""
    return await owned_or_404(session, MessageTest, test_id, user, message=NOT_FOUND_MESSAGE, code="test_not_found")


def reader_of(persona: Persona) -> dict[str, Any]:
    """Who read the message, as stored with the result (kept even if the persona is deleted later)."""
    card = persona_card(persona)
    return {"persona_id": persona.id, "name": persona.name, "patient_type": card["patient_type_name"],
            "age_label": card["age_label"], "gender_label": card["gender_label"]}


def test_to_api(test: MessageTest) -> dict[str, Any]:
    return {
        "id": test.id,
        "status": test.status,
        "status_label": STATUS_LABELS.get(test.status, test.status),
        "owner_id": test.owner_id,
        "set_id": test.set_id,
        "persona_ids": list(test.persona_ids or []),
        "kind": test.kind,
        "kind_label": KIND_LABELS.get(test.kind, test.kind),
        "message": test.message,
        "image_url": f"/api/message-tests/{test.id}/image" if test.image_path else None,
        "results": list(test.results or []),
        "summary": dict(test.summary or {}) or None,
        "text_provider": test.text_provider,
        "text_model": test.text_model,
        "error": test.error,
        "created_at": iso(test.created_at),
        "finished_at": iso(test.finished_at),
        "events_url": f"/api/message-tests/{test.id}/events",
        "chart_url": f"/api/message-tests/{test.id}/chart.svg",
    }


async def list_tests(session: AsyncSession, user: User, *, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    query = select(MessageTest)
    if not user.is_admin:
        query = query.where(MessageTest.owner_id == user.id)
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = await session.scalars(query.order_by(MessageTest.created_at.desc(), MessageTest.id)
                                 .offset((page - 1) * per_page).limit(per_page))
    items = []
    for t in rows:
        stats = (t.summary or {}).get("stats") or {}
        items.append({"id": t.id, "status": t.status, "status_label": STATUS_LABELS.get(t.status, t.status),
                      "kind_label": KIND_LABELS.get(t.kind, t.kind), "excerpt": t.message[:60],
                      "personas": len(t.persona_ids or []), "average": stats.get("average"),
                      "would_book": stats.get("would_book"), "owner_id": t.owner_id,
                      "created_at": iso(t.created_at)})
    return {"items": items, "total": total, "page": page, "per_page": per_page, "pages": max(1, -(-total // per_page))}


def image_file(settings: Settings, test: MessageTest) -> Path | None:
    """The stored leaflet image, if it is a file under the uploads folder (anything else is ignored)."""
    if not test.image_path:
        return None
    root = uploads_dir(settings).resolve()
    path = (root / Path(test.image_path).name).resolve()
    return path if path.parent == root else None


async def delete_test(session: AsyncSession, settings: Settings, user: User, test_id: str) -> None:
    """Delete the test, its job (events go with it) and its image."""
    test = await get_test(session, user, test_id)
    job_id, image = test.current_job_id, image_file(settings, test)
    await release_connection(session)
    async with write_lock(session.bind):
        if job_id:
            await session.execute(sa_delete(Job).where(Job.id == job_id))
        await session.execute(sa_delete(MessageTest).where(MessageTest.id == test.id))
        await session.commit()
    if image is not None:
        await anyio.to_thread.run_sync(lambda: image.unlink(missing_ok=True))
