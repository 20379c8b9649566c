"""Portraits in an S3-compatible bucket, against a real local S3 server (moto in server mode, over HTTP):
generation stores the object, the media route serves it (and its WebP variant, stored beside it), the sweep
deletes what nothing references, and the database holds only metadata."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from medipersona.db import utcnow
from medipersona.media.models import StoredImage
from tests.personas.helpers import CREATE_BODY, wait_status

BUCKET = "mp-portraits"
KEYS = {"AWS_ACCESS_KEY_ID": "test-access-key", "AWS_SECRET_ACCESS_KEY": "test-secret-key"}


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server, monkeypatch):
    import boto3

    from medipersona.media.s3 import reset_stores

    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                          aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=BUCKET)
    reset_stores()
    yield client
    reset_stores()


@pytest.fixture
def settings_overrides(s3_server):
    return {"portrait_storage": "s3", "s3_bucket": BUCKET, "s3_endpoint_url": s3_server, "s3_prefix": "p/"}


def _keys(client) -> set[str]:
    return {o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_generation_stores_in_bucket_and_serves_from_it(bucket, app, admin_client, settings):
    from medipersona.media.service import sweep_unreferenced

    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    persona = await wait_status(admin_client, pid)
    assert persona["status"] == "done" and persona["image_status"] == "done"
    digest = persona["image_url"].rsplit("/", 1)[-1]
    assert _keys(bucket) == {f"p/{digest}.png"}
    stored = bucket.get_object(Bucket=BUCKET, Key=f"p/{digest}.png")["Body"].read()
    async with app.state.db.sessionmaker() as session:
        row = await session.get(StoredImage, (digest, "original"))
        assert row.location == "s3" and row.data is None and row.size == len(stored)

    png = await admin_client.get(persona["image_url"], headers={"Accept": "image/png"})
    assert png.status_code == 200 and png.content == stored
    webp = await admin_client.get(persona["image_url"], headers={"Accept": "image/webp,*/*"})
    assert webp.headers["content-type"] == "image/webp"
    assert _keys(bucket) == {f"p/{digest}.png", f"p/{digest}.webp"}

    # Exports read the original from the bucket too.
    pdf = await admin_client.get(f"/api/personas/{pid}/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    assert (await admin_client.delete(f"/api/personas/{pid}")).status_code == 204
    async with app.state.db.sessionmaker() as session:
        await session.execute(update(StoredImage).values(stored_at=utcnow() - timedelta(hours=1)))
        await session.commit()
    assert await sweep_unreferenced(settings, app.state.db) == 1
    assert _keys(bucket) == set()
    async with app.state.db.sessionmaker() as session:
        assert not list(await session.scalars(select(StoredImage.digest)))


async def test_bucket_without_keys_stops_start_up(settings, monkeypatch):
    from medipersona.app import create_app
    from medipersona.errors import ConfigurationError

    for name in KEYS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="AWS_ACCESS_KEY_ID"):
        create_app(settings)
