"""The FastAPI app factory: settings, database, routers, static files, error handling, background services."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from medipersona.db import Database
from medipersona.errors import AppError
from medipersona.settings import Settings, get_settings
from medipersona.web.middleware import (
    BodyLimitMiddleware,
    BodyTooLarge,
    SecurityHeadersMiddleware,
    StreamLimitMiddleware,
)
from medipersona.web.staticfiles import AppStaticFiles
from medipersona.web.templating import STATIC_DIR, render
from medipersona.web.validation import validation_error_body

log = logging.getLogger("medipersona")

HTTP_MESSAGES = {
    400: "リクエストの形式が正しくありません。",
    401: "ログインが必要です。",
    403: "この操作を行う権限がありません。",
    404: "ページまたはデータが見つかりません。",
    405: "この操作はサポートされていません。",
    413: "送信されたデータが大きすぎます。",
    415: "サポートされていない形式です。",
    422: "入力内容に誤りがあります。",
    429: "リクエストが多すぎます。しばらく待ってからお試しください。",
    500: "サーバーで予期しないエラーが発生しました。時間をおいてもう一度お試しください。",
    503: "サービスが一時的に利用できません。",
}


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in {"/metrics", "/healthz", "/readyz", "/openapi.json"} or (
        "application/json" in request.headers.get("accept", "") and "text/html" not in request.headers.get("accept", "")
    )


def _error_response(request: Request, status: int, code: str, message: str, fields=None, headers=None):
    if wants_json(request):
        err = {"code": code, "message": message}
        if fields:
            err["fields"] = fields
        return JSONResponse({"error": err}, status_code=status, headers=headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    response = render(request, "error.html", {"status": status, "message": message, "fields": fields or []},
                      status_code=status)
    if headers:
        response.headers.update(headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError):
        return _error_response(request, exc.status_code, exc.code, exc.message, exc.fields, exc.headers)

    @app.exception_handler(BodyTooLarge)
    async def _body_too_large(request: Request, exc: BodyTooLarge):
        return _error_response(request, 413, "payload_too_large", exc.message, headers={"Connection": "close"})

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        body = validation_error_body(exc.errors())
        if wants_json(request):
            return JSONResponse(body, status_code=422)
        return _error_response(request, 422, "validation_error", body["error"]["message"], body["error"]["fields"])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        message = HTTP_MESSAGES.get(exc.status_code, "リクエストを処理できませんでした。")
        if isinstance(exc.detail, str) and exc.detail and not exc.detail.isascii():
            message = exc.detail  # a Japanese detail raised by our own code
        code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(exc.status_code, "http_error")
        return _error_response(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(request, 500, "internal_error", HTTP_MESSAGES[500])


async def warm_up(app: FastAPI, settings: Settings, db: Database) -> None:
    """Do at worker start what the first requests would otherwise do on the event loop while users wait:
    build every included router's routes (FastAPI builds them at the first request that reaches each router,
    0.4-0.6 s in all) and import and build the clients of the AI providers this worker is configured for (the
    environment's and those an admin picked per task; the others stay unloaded)."""
    from starlette.routing import NoMatchFound

    from medipersona.providers.registry import configured_provider_names, warm_providers

    try:
        app.url_path_for("__warm_up__")  # looks through, and so builds, every included router's routes
    except NoMatchFound:
        pass
    picked: list[str] = []
    try:
        from medipersona.admin.service import load_admin_settings

        async with db.sessionmaker() as session:
            current = await load_admin_settings(session)
        picked = [*current.providers.values(), *current.fallbacks.values()]
    except Exception:  # noqa: BLE001 - unreadable admin settings: the environment's providers are warmed
        log.warning("reading the admin's provider choices at start failed; warming the environment's only")
    await warm_providers(settings, configured_provider_names(settings, *picked))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    from medipersona.ops.logging import configure_logging
    from medipersona.providers.registry import check_configuration

    configure_logging(settings)
    from medipersona import localtime

    localtime.configure(settings.timezone)
    # Unknown providers and missing keys fail here, at start-up, not at the first request.
    check_configuration(settings)
    from medipersona.media.s3 import check_s3_configuration

    check_s3_configuration(settings)
    from medipersona.domains import register_domains

    register_domains()  # the domains' job handlers and offline composers (infrastructure knows no domain)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        from medipersona.jobs.lifecycle import start_job_runner, stop_job_runner

        db = Database(settings)
        app.state.db = db
        from medipersona.catalog import service as catalog_service

        try:
            await catalog_service.load_catalog(db, force=True)
        except Exception:  # the database is down: start (readyz says 503); the watcher retries
            log.warning("catalog: database unreachable at start-up, using the bundled catalog for now")
        catalog_watch = asyncio.create_task(catalog_service.watch(db))
        await warm_up(app, settings, db)
        await start_job_runner(app)
        try:
            yield
        finally:
            await stop_job_runner(app)
            # Wait for the watcher to unwind: cancelled mid-query, SQLAlchemy closes its connection in a task of
            # its own, and a task still running when the loop closes is cancelled twice, which can leave
            # aiosqlite waiting forever for a thread that has already stopped (the process then never exits).
            catalog_watch.cancel()
            await asyncio.gather(catalog_watch, return_exceptions=True)
            catalog_service.reset_current()
            from medipersona.competitors.http import aclose_http_client
            from medipersona.exports.pool import shutdown_export_pool
            from medipersona.providers.registry import aclose_providers

            shutdown_export_pool()
            await aclose_providers()
            await aclose_http_client()
            await db.dispose()

    app = FastAPI(
        title="medipersona",
        version=__import__("medipersona").__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings

    from medipersona.accounts import pages as account_pages
    from medipersona.accounts import router as account_api
    from medipersona.admin import pages as admin_pages
    from medipersona.admin import router as admin_api
    from medipersona.catalog import pages as catalog_pages
    from medipersona.catalog import router as catalog_api
    from medipersona.competitors import pages as competitor_pages
    from medipersona.competitors import router as competitor_api
    from medipersona.exports import router as exports_api
    from medipersona.geo import router as geo_api
    from medipersona.interviews import pages as interview_pages
    from medipersona.interviews import router as interview_api
    from medipersona.keywords import pages as keyword_pages
    from medipersona.keywords import router as keyword_api
    from medipersona.media import router as media_router
    from medipersona.message_tests import pages as message_test_pages
    from medipersona.message_tests import router as message_test_api
    from medipersona.ops import router as ops_router
    from medipersona.persona_sets import pages as persona_set_pages
    from medipersona.persona_sets import router as persona_set_api
    from medipersona.personas import pages as persona_pages
    from medipersona.personas import router as persona_api
    from medipersona.personas import timeline_router as persona_timeline_api
    from medipersona.personas import wizard_pages as persona_wizard_pages
    from medipersona.web import docs

    for module in (
        ops_router,
        account_api,
        account_pages,
        admin_api,
        admin_pages,
        catalog_api,
        catalog_pages,
        persona_api,
        persona_wizard_pages,  # before persona_pages: /personas/new ahead of /personas/{persona_id}
        persona_pages,
        persona_timeline_api,
        keyword_api,
        keyword_pages,
        competitor_api,
        competitor_pages,
        geo_api,
        persona_set_api,
        persona_set_pages,
        interview_api,
        interview_pages,
        message_test_api,
        message_test_pages,
        exports_api,
        media_router,
        docs,
    ):
        app.include_router(module.router)

    from xstatic.pkg import leaflet as xstatic_leaflet  # Leaflet's dist files, installed with the app

    app.mount("/static/leaflet", StaticFiles(directory=xstatic_leaflet.BASE_DIR), name="leaflet")
    app.mount("/static", AppStaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    from medipersona.competitors.importer import MAX_FILE_BYTES as COMPETITOR_FILE_BYTES
    from medipersona.keywords.router import MAX_UPLOAD_BYTES as KEYWORD_UPLOAD_BYTES
    from medipersona.ops.http_metrics import MetricsMiddleware

    multipart_overhead = 64 * 1024
    app.add_middleware(StreamLimitMiddleware, max_per_user=settings.sse_max_streams_per_user)
    app.add_middleware(BodyLimitMiddleware, default_limit=settings.max_request_body_bytes, route_limits={
        "/api/keywords/import": KEYWORD_UPLOAD_BYTES + multipart_overhead,
        "/admin/keywords": KEYWORD_UPLOAD_BYTES + multipart_overhead,
        "/api/competitors/import": COMPETITOR_FILE_BYTES + multipart_overhead,
    })
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, tile_origin=settings.map_tile_origin)
    return app

