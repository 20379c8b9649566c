"""The gunicorn worker class (``gunicorn_conf.worker_class``): the maintained ``uvicorn-worker`` one, without
a WebSocket protocol.

No route speaks WebSocket (live progress is SSE), but uvicorn's default (``ws="auto"``) imports the
``websockets`` package into every worker: ~2 MB of each worker's RSS for nothing. With ``ws="none"`` an upgrade
request is an ordinary request (404). The seed's ``--worker-class uvicorn_worker.UvicornWorker`` still works.
"""

from __future__ import annotations

from typing import Any, ClassVar

from uvicorn_worker import UvicornWorker as _UvicornWorker


class UvicornWorker(_UvicornWorker):
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {**_UvicornWorker.CONFIG_KWARGS, "ws": "none"}
