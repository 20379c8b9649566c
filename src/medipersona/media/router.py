"""Serving stored portraits.

GET /media/portraits/{sha256}   the portrait whose original has this SHA-256: immutable (a new image gets a new
                                URL), ``Cache-Control: public, max-age=31536000, immutable``, ETag / 304, WebP
                                when the client's Accept names it, else the original PNG/JPEG (``Vary: Accept``).

The URL is a capability: it names the image by a hash nobody can guess, so a CDN (or a browser) may cache and
serve it without asking who is logged in. The portraits are images of fictional people.
Persona routes serve the same representations privately (``respond_with_image(..., public=False)``).
"""

from __future__ import annotations

import asyncio
import logging
import re

from fastapi import APIRouter, Request, Response

from medipersona.errors import NotFound
from medipersona.jobs.dblock import write_lock
from medipersona.media import service
from medipersona.media.models import ORIGINAL
from medipersona.media.variants import convert_async

log = logging.getLogger("medipersona.media")

router = APIRouter(include_in_schema=False)

IMMUTABLE = "public, max-age=31536000, immutable"
PRIVATE = "private, no-cache"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# Representations: "webp" for clients that accept it, "fallback" (the PNG/JPEG original, or a PNG made from a
# WebP original) for the others.
_inflight: dict[tuple[str, str], asyncio.Task] = {}


def accepts_webp(accept: str | None) -> bool:
    for part in (accept or "").lower().split(","):
        media, _, params = part.strip().partition(";")
        if media.strip() != "image/webp":
            continue
        match = re.search(r"q\s*=\s*([0-9.]+)", params)
        try:
            return match is None or float(match.group(1)) > 0
        except ValueError:
            return False
    return False


def _etag(digest: str, representation: str) -> str:
    return f'"{digest}-{representation}"'


def _not_modified(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(",")) or header.strip() == "*"


async def respond_with_image(request: Request, digest: str | None, *, public: bool) -> Response:
    """The negotiated representation of stored image ``digest`` (304 when the client has it already)."""
    if not digest or not _DIGEST.match(digest):
        raise NotFound("画像が見つかりません。")
    representation = "webp" if accepts_webp(request.headers.get("accept")) else "fallback"
    etag = _etag(digest, representation)
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE if public else PRIVATE, "Vary": "Accept"}
    if _not_modified(request, etag):  # the ETag is known from the URL alone: no database read
        return Response(status_code=304, headers=headers)
    settings, db = request.app.state.settings, request.app.state.db
    async with db.sessionmaker() as session:
        rows = await service.stored_rows(session, digest)
        original = rows.get(ORIGINAL)
        if original is None:
            raise NotFound("画像が見つかりません。")
        wanted = _wanted_variant(original.mime, representation)
        row = rows.get(wanted)
        data = await service.read_bytes(settings, session, digest, row) if row is not None else None
        if data is None:
            source = await service.read_bytes(settings, session, digest, original)
    if data is None:
        if source is None:
            raise NotFound("画像ファイルが見つかりません。")
        data, mime = await _derive(request, digest, wanted, source, original.mime)
    else:
        assert row is not None  # data was read from it
        mime = row.mime
    if request.method == "HEAD":
        return Response(status_code=200, headers={**headers, "Content-Length": str(len(data))}, media_type=mime)
    return Response(data, media_type=mime, headers=headers)


def _wanted_variant(original_mime: str, representation: str) -> str:
    if representation == "webp":
        return ORIGINAL if original_mime == "image/webp" else "webp"
    return "png" if original_mime == "image/webp" else ORIGINAL


async def _derive(request: Request, digest: str, variant: str, source: bytes, source_mime: str) -> tuple[bytes, str]:
    """Make a variant once per process at a time, store it for every instance; the original when that fails."""
    key = (digest, variant)
    task = _inflight.get(key)
    if task is None:
        task = asyncio.create_task(_make_variant(request.app, digest, variant, source))
        _inflight[key] = task
        task.add_done_callback(lambda _t: _inflight.pop(key, None))
    try:
        return await asyncio.shield(task), f"image/{variant}"
    except Exception:  # noqa: BLE001 - an image the converter cannot read is still served as it is
        log.warning("deriving the %s variant of %s failed; serving the original", variant, digest[:12],
                    exc_info=True)
        return source, source_mime


async def _make_variant(app, digest: str, variant: str, source: bytes) -> bytes:
    data = await convert_async(source, variant)
    image = service.PreparedImage(digest, f"image/{variant}", data)
    try:
        async with write_lock(app.state.db.engine), app.state.db.sessionmaker() as session:
            await service.store_row(app.state.settings, session, image, variant=variant)
            await session.commit()
        await service.upload(app.state.settings, image)
    except Exception:  # noqa: BLE001 - not stored: the next request derives it again
        log.exception("storing the %s variant of %s failed", variant, digest[:12])
    return data


@router.api_route("/media/portraits/{digest}", methods=["GET", "HEAD"])
async def portrait(digest: str, request: Request) -> Response:
    return await respond_with_image(request, digest, public=True)
