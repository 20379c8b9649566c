"""Prometheus scrape endpoint and the admins' monitoring page (HTML and JSON)."""

from __future__ import annotations

import hmac
import os
import time
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import Response

from medipersona import localtime
from medipersona.deps import AdminUser, SessionDep, SettingsDep, bearer_token, get_optional_principal
from medipersona.errors import Forbidden, NotAuthenticated
from medipersona.ops import metrics, monitoring, snapshots, system
from medipersona.providers.registry import provider_label
from medipersona.settings import Settings
from medipersona.web.templating import render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/admin", tags=["ops"])


async def _require_scraper(request: Request, session: SessionDep, settings: SettingsDep) -> None:
    """Admins (session or bearer) or ``Authorization: Bearer <MEDIPERSONA_METRICS_TOKEN>``."""
    token = bearer_token(request)
    if token and settings.metrics_token and hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        return
    principal = await get_optional_principal(request, session)
    if principal is None:
        raise NotAuthenticated("メトリクスの取得には管理者のログインまたはトークンが必要です。",
                               headers={"WWW-Authenticate": "Bearer"})
    if not principal.user.is_admin:
        raise Forbidden("管理者のみが利用できる機能です。", code="admin_only")


@router.get("/metrics")
async def prometheus_metrics(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Prometheus exposition format: every worker's metrics in one scrape under gunicorn."""
    await _require_scraper(request, session, settings)
    metrics.sample_process(settings.memory_limit_mb)
    metrics.sample_db(request.app)
    body, content_type = await anyio.to_thread.run_sync(metrics.render_latest)
    return Response(body, media_type=content_type.split(";")[0], headers={"Cache-Control": "no-store"})


_max_connections: dict[str, int | None] = {}


async def _postgres_max_connections(request: Request) -> int | None:
    """SHOW max_connections, once per process (None on SQLite or when it cannot be read)."""
    db = request.app.state.db
    if db.engine.dialect.name != "postgresql":
        return None
    url = str(db.engine.url)
    if url not in _max_connections:
        try:
            from sqlalchemy import text

            async with db.engine.connect() as conn:
                _max_connections[url] = int((await conn.execute(text("SHOW max_connections"))).scalar_one())
        except Exception:  # noqa: BLE001 - informational only
            return None
    return _max_connections[url]


async def build_report(request: Request, settings: Settings) -> dict[str, Any]:
    """Everything the monitoring page shows, from the aggregated metrics (all workers)."""
    metrics.sample_process(settings.memory_limit_mb)
    metrics.sample_db(request.app)
    samples = await anyio.to_thread.run_sync(metrics.collect_samples)
    now_ts = time.time()
    now = snapshots.snapshot_from_samples(samples)
    base = snapshots.HISTORY.baseline(now_ts)
    if base is not None and now_ts - base[0] >= 60:
        window = snapshots.window_delta(now, base[1])
        window_label = f"直近{max(1, round((now_ts - base[0]) / 60))}分"
    else:
        window, window_label = now, "起動以降"
    mem = await anyio.to_thread.run_sync(system.memory_info, settings.memory_limit_mb)
    memory_percent = mem.percent if mem.limit_bytes else None
    rss_total = sum(now.worker_rss.values())
    memory_detail = (f"{mem.used_bytes / 1048576:.0f} MB / {mem.limit_bytes / 1048576:.0f} MB"
                     f"・ワーカーの使用メモリ合計 {rss_total / 1048576:.0f} MB")
    indicators = monitoring.evaluate(now, window, memory_percent, memory_detail, window_label,
                                     await _postgres_max_connections(request))
    cpus, cpu_source = system.detect_cpus()
    return {
        "generated_at": localtime.format_datetime(now_ts, seconds=True),
        "window": window_label,
        "state": monitoring.overall_state(indicators),
        "indicators": [i.as_dict() for i in indicators],
        "providers": [{**row, "provider_label": provider_label(row["provider"])}
                      for row in monitoring.provider_rows(window)],
        "workers": monitoring.worker_rows(now),
        "environment": {
            "multiprocess": metrics.multiprocess_dir() is not None,
            "cpus": cpus,
            "cpu_source": cpu_source,
            "memory_limit_mb": round(mem.limit_bytes / 1048576),
            "memory_limit_source": mem.limit_source,
            "memory_used_source": mem.used_source,
            "serving_pid": os.getpid(),
        },
    }


@api_router.get("/monitoring")
async def monitoring_json(request: Request, _admin: AdminUser, settings: SettingsDep) -> dict[str, Any]:
    """The monitoring page's data: the seed's indicators with states (ok | caution | warning | unknown)."""
    return await build_report(request, settings)


@router.get("/admin/monitoring")
async def monitoring_page(request: Request, _admin: AdminUser, settings: SettingsDep):
    report = await build_report(request, settings)
    return render(request, "ops/monitoring.html", {
        "report": report, "state_labels": monitoring.STATE_LABELS, "thresholds": monitoring.page_thresholds(),
    })
