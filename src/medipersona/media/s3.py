"""Portraits in an S3-compatible bucket (AWS S3, MinIO, Cloudflare R2 ...), through obstore's native async
client (Rust ``object_store``: no thread pool, no botocore import).

Keys come from the environment only (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, optionally
``AWS_SESSION_TOKEN``); bucket, endpoint, region and prefix from the settings. One client per process and
configuration. Failures surface as ``OSError`` (a missing object as ``None`` from ``get_object``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from medipersona.errors import ConfigurationError
from medipersona.settings import Settings

KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
_stores: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def check_s3_configuration(settings: Settings) -> None:
    """Raise ConfigurationError (at start-up) when the bucket is selected but not configured."""
    if settings.portrait_storage != "s3":
        return
    missing = [] if settings.s3_bucket.strip() else ["MEDIPERSONA_S3_BUCKET"]
    missing += [v for v in KEY_VARIABLES if not os.environ.get(v, "").strip()]
    if missing:
        raise ConfigurationError(
            "MEDIPERSONA_PORTRAIT_STORAGE=s3 needs " + ", ".join(missing) + " in the environment."
        )


def _config_key(settings: Settings) -> tuple[Any, ...]:
    return (settings.s3_bucket, settings.s3_endpoint_url, settings.s3_region,
            *(os.environ.get(v, "") for v in (*KEY_VARIABLES, "AWS_SESSION_TOKEN")))


def _store(settings: Settings):
    key = _config_key(settings)
    store = _stores.get(key)
    if store is None:
        with _lock:
            store = _stores.get(key)
            if store is None:
                from obstore.store import S3Store

                options: dict[str, Any] = {
                    "region": settings.s3_region,
                    "access_key_id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
                    "secret_access_key": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
                }
                if os.environ.get("AWS_SESSION_TOKEN"):
                    options["token"] = os.environ["AWS_SESSION_TOKEN"]
                client_options: dict[str, Any] = {"timeout": "30s", "connect_timeout": "5s"}
                if settings.s3_endpoint_url:
                    options["endpoint"] = settings.s3_endpoint_url
                    # Path-style URLs: what MinIO and most S3-compatible servers expect.
                    options["virtual_hosted_style_request"] = False
                    if settings.s3_endpoint_url.startswith("http://"):
                        client_options["allow_http"] = True
                store = S3Store(settings.s3_bucket, client_options=client_options, **options)  # type: ignore[arg-type]  # ClientConfig is a TypedDict of these keys
                _stores[key] = store
    return store


def _as_os_error(exc: Exception) -> OSError:
    return exc if isinstance(exc, OSError) else OSError(f"object storage: {type(exc).__name__}")


async def put_object(settings: Settings, key: str, data: bytes, mime: str) -> None:
    import obstore

    try:
        await obstore.put_async(_store(settings), key, data, attributes={"Content-Type": mime})
    except Exception as exc:  # noqa: BLE001 - obstore raises its own error types
        raise _as_os_error(exc) from exc


async def get_object(settings: Settings, key: str) -> bytes | None:
    import obstore

    try:
        result = await obstore.get_async(_store(settings), key)
        return bytes(await result.bytes_async())
    except FileNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001
        raise _as_os_error(exc) from exc


async def delete_objects(settings: Settings, keys: list[str]) -> None:
    import obstore

    try:
        await obstore.delete_async(_store(settings), keys)
    except FileNotFoundError:
        return
    except Exception as exc:  # noqa: BLE001
        raise _as_os_error(exc) from exc


def reset_stores() -> None:
    """Forget the clients (tests that change the configuration)."""
    _stores.clear()
