"""The one ``httpx.AsyncClient`` per process for the outside data sources (Places, e-Stat): created lazily on
first use, closed at worker shutdown (``aclose_http_client`` in the app lifespan)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from medipersona.redact import RedactFilter

if TYPE_CHECKING:  # pragma: no cover
    import httpx

_CLIENT: httpx.AsyncClient | None = None
_CLIENT_LOOP: asyncio.AbstractEventLoop | None = None


_FILTER_INSTALLED = False


def http_client() -> httpx.AsyncClient:
    global _CLIENT, _CLIENT_LOOP, _FILTER_INSTALLED
    import httpx

    if not _FILTER_INSTALLED:
        logging.getLogger("httpx").addFilter(RedactFilter())  # the e-Stat appId is in the URL
        _FILTER_INSTALLED = True

    loop = asyncio.get_running_loop()
    if _CLIENT is None or _CLIENT.is_closed or _CLIENT_LOOP is not loop:
        _CLIENT = httpx.AsyncClient(limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
                                    follow_redirects=False, headers={"User-Agent": "medipersona"})
        _CLIENT_LOOP = loop
    return _CLIENT


async def aclose_http_client() -> None:
    global _CLIENT, _CLIENT_LOOP
    client, _CLIENT, _CLIENT_LOOP = _CLIENT, None, None
    if client is not None and not client.is_closed:
        try:
            await client.aclose()
        except RuntimeError:  # its loop is gone (tests): nothing left to close
            pass
