"""Portraits in shared storage: content-hashed immutable URLs, ETag/304, WebP for clients that accept it (PNG
otherwise), the private persona route, and the sweep of portraits nothing references any more."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import select, update

from medipersona.db import utcnow
from medipersona.media.models import StoredImage
from tests.personas.helpers import CREATE_BODY, wait_status

WEBP_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
OLD_ACCEPT = "image/png,image/*;q=0.8,*/*;q=0.5"


async def _generated(admin_client) -> dict:
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    return await wait_status(admin_client, pid)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_hashed_url_etag_and_webp_negotiation(app, admin_client):
    from PIL import Image

    persona = await _generated(admin_client)
    url = persona["image_url"]
    digest = url.rsplit("/", 1)[-1]
    assert url == f"/media/portraits/{digest}" and len(digest) == 64

    png = await admin_client.get(url, headers={"Accept": OLD_ACCEPT})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert png.headers["vary"] == "Accept"
    import hashlib

    assert hashlib.sha256(png.content).hexdigest() == digest  # the URL names the stored content

    webp = await admin_client.get(url, headers={"Accept": WEBP_ACCEPT})
    assert webp.status_code == 200 and webp.headers["content-type"] == "image/webp"
    assert webp.content[:4] == b"RIFF" and webp.content[8:12] == b"WEBP"
    assert webp.headers["etag"] != png.headers["etag"]
    with Image.open(BytesIO(webp.content)) as decoded, Image.open(BytesIO(png.content)) as original:
        assert decoded.size == original.size
    # The variant is derived once and stored for every instance.
    async with app.state.db.sessionmaker() as session:
        variants = set(await session.scalars(select(StoredImage.variant).where(StoredImage.digest == digest)))
    assert variants == {"original", "webp"}

    for response, accept in ((png, OLD_ACCEPT), (webp, WEBP_ACCEPT)):
        again = await admin_client.get(url, headers={"Accept": accept, "If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and not again.content
        assert again.headers["etag"] == response.headers["etag"]
    # The hashed URL is a capability: no login needed (a CDN caches it for everyone).
    del admin_client.headers["Authorization"]
    anonymous = await admin_client.get(url, headers={"Accept": OLD_ACCEPT})
    assert anonymous.status_code == 200 and anonymous.content == png.content
    head = await admin_client.head(url, headers={"Accept": WEBP_ACCEPT})
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(webp.content)


async def test_private_route_unknown_digests_and_bad_names(admin_client, member_client):
    persona = await _generated(admin_client)
    private = await admin_client.get(f"/api/personas/{persona['id']}/image", headers={"Accept": OLD_ACCEPT})
    assert private.status_code == 200 and private.headers["cache-control"] == "private, no-cache"
    assert private.headers["etag"]
    # Someone else's persona: not found (no existence leak) on the private route.
    assert (await member_client.get(f"/api/personas/{persona['id']}/image")).status_code == 404
    for name in ("0" * 64, "abc", "../../etc/passwd", "Z" * 64):
        response = await admin_client.get(f"/media/portraits/{name}")
        assert response.status_code == 404, name
        assert "画像" in response.text or response.status_code == 404


async def test_webp_original_falls_back_to_png(app, admin_client, settings):
    """A provider that returns WebP: old clients get a PNG made from it."""
    from PIL import Image

    from medipersona.media.service import prepare_image, store_row

    buf = BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, format="WEBP", quality=90)
    image = await prepare_image(buf.getvalue(), "image/webp")
    async with app.state.db.sessionmaker() as session:
        await store_row(settings, session, image)
        await session.commit()
    url = f"/media/portraits/{image.digest}"
    assert (await admin_client.get(url, headers={"Accept": WEBP_ACCEPT})).content == buf.getvalue()
    old = await admin_client.get(url, headers={"Accept": OLD_ACCEPT})
    assert old.headers["content-type"] == "image/png" and old.content.startswith(b"\x89PNG")
    with Image.open(BytesIO(old.content)) as decoded:
        assert decoded.size == (64, 48)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_sweep_removes_only_unreferenced_and_not_recent(app, admin_client, settings):
    from medipersona.media.service import sweep_unreferenced

    first = await _generated(admin_client)
    digest = first["image_url"].rsplit("/", 1)[-1]
    copy = (await admin_client.post(f"/api/personas/{first['id']}/duplicate")).json()
    assert (await admin_client.delete(f"/api/personas/{first['id']}")).status_code == 204
    assert (await admin_client.get(copy["image_url"])).status_code == 200  # the copy still names it
    assert (await admin_client.delete(f"/api/personas/{copy['id']}")).status_code == 204
    # Unreferenced now, but stored moments ago: a job storing the same image right now keeps it.
    assert await sweep_unreferenced(settings, app.state.db) == 0
    async with app.state.db.sessionmaker() as session:
        await session.execute(update(StoredImage).where(StoredImage.digest == digest)
                              .values(stored_at=utcnow() - timedelta(hours=1)))
        await session.commit()
    assert await sweep_unreferenced(settings, app.state.db) == 1
    assert (await admin_client.get(f"/media/portraits/{digest}")).status_code == 404
    async with app.state.db.sessionmaker() as session:
        assert not list(await session.scalars(select(StoredImage.variant).where(StoredImage.digest == digest)))
