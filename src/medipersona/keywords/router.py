"""Keyword API: datasets, import (admin), timeline series and chart (the persona's timeline analysis and chart:
``personas/timeline_router.py``).

    GET  /api/keywords/datasets
    DELETE /api/keywords/datasets/{id}              (admin)
    POST /api/keywords/import                       (admin; multipart ``file``: .csv or .zip) 200 / 422
    GET  /api/keywords/timeline?department=&chief_complaint=&gender=&age=
    GET  /api/keywords/timeline/chart.svg?...       (same parameters)
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile  # what request.form() holds

from medipersona.catalog.service import get_catalog
from medipersona.deps import AdminUser, CurrentUser, IntId, SessionDep
from medipersona.errors import InvalidInput, NotFound, PayloadTooLarge
from medipersona.keywords import store
from medipersona.keywords.importer import import_upload
from medipersona.keywords.params import ChartSizeDep, TimelineQueryDep
from medipersona.keywords.service import (
    chart_title,
    resolve_scope,
    svg_response,
    timeline_payload,
    timeline_result,
)

router = APIRouter(prefix="/api", tags=["keywords"])

MAX_UPLOAD_BYTES = 200 * 1024 * 1024
UPLOAD_TOO_LARGE = (f"ファイルが大きすぎます（上限{MAX_UPLOAD_BYTES // (1024 * 1024)}MB）。"
                    "ZIPに圧縮するか、診療科ごとに分けて取り込んでください。")


async def upload_size_guard(request: Request) -> None:
    """Refuse a too-large upload from its Content-Length before anything (auth, CSRF) parses the body."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_UPLOAD_BYTES + 64 * 1024:
        raise PayloadTooLarge(UPLOAD_TOO_LARGE)


UploadGuard = Depends(upload_size_guard)


def dataset_payload(ds) -> dict[str, Any]:
    catalog = get_catalog()
    dep = catalog.department(ds.department_id)
    cc = catalog.chief_complaint(ds.chief_complaint_id) if ds.chief_complaint_id else None
    return {
        "id": ds.id,
        "department": dep.name if dep else ds.department_id,
        "chief_complaint": (cc.name if cc else ds.chief_complaint_id) if ds.chief_complaint_id else None,
        "department_id": ds.department_id,
        "chief_complaint_id": ds.chief_complaint_id,
        "row_count": ds.row_count,
        "source_file": ds.source_file,
        "imported_at": ds.imported_at.isoformat() if ds.imported_at else None,
        "is_sample": bool(ds.is_sample),
        "generation": ds.generation,
    }


@router.get("/keywords/datasets")
async def list_datasets(user: CurrentUser, session: SessionDep) -> dict:
    """Every keyword dataset (department names and complaint names in Japanese)."""
    return {"datasets": [dataset_payload(ds) for ds in await store.list_datasets(session)]}


@router.delete("/keywords/datasets/{dataset_id}", status_code=204)
async def delete_dataset(dataset_id: IntId, request: Request, user: AdminUser) -> Response:
    """Remove one dataset (admin). Lookups then fall back to the department-level dataset."""
    from medipersona.keywords.writing import delete_dataset as remove

    if not await remove(request.app.state.db, dataset_id):
        raise NotFound("データセットが見つかりません。", code="dataset_not_found")
    return Response(status_code=204)


async def read_upload(request: Request, max_bytes: int = MAX_UPLOAD_BYTES) -> UploadFile:
    """The uploaded ``file`` of a multipart request, refused early (413) when the body is too large."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > max_bytes + 64 * 1024:
        raise PayloadTooLarge(UPLOAD_TOO_LARGE)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("ファイルを multipart/form-data の file 項目で送信してください。",
                           fields=[{"field": "file", "message": "ファイルを選択してください。"}])
    form = await request.form(max_files=1, max_fields=20)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not getattr(upload, "filename", None):
        raise InvalidInput("取り込むファイルを選択してください。",
                           fields=[{"field": "file", "message": "ファイルを選択してください。"}])
    size = upload.size
    if size is None:
        size = await anyio.to_thread.run_sync(lambda: upload.file.seek(0, 2))
        await anyio.to_thread.run_sync(upload.file.seek, 0)
    if size > max_bytes:
        raise PayloadTooLarge(UPLOAD_TOO_LARGE)
    if size == 0:
        raise InvalidInput("ファイルが空です。", fields=[{"field": "file", "message": "ファイルが空です。"}])
    return upload


@router.post("/keywords/import", dependencies=[UploadGuard])
async def import_keywords(request: Request, user: AdminUser, dry_run: bool = False) -> JSONResponse:
    """Import an uploaded CSV or zip. 200 when every file imported, 422 when some were rejected (listed).
    ``?dry_run=true``: validate and match only, write nothing (files get status ``checked``)."""
    upload = await read_upload(request)
    try:
        report = await import_upload(request.app.state.db, upload.filename or "", upload.file, dry_run=dry_run)
    finally:
        await upload.close()
    body = report.as_dict()
    if not report.ok:
        body["error"] = {
            "code": "import_rejected",
            "message": f"{len(report.rejected)}件のファイルを取り込めませんでした"
                       f"（{len(report.imported)}件は取り込みました）。",
        }
    return JSONResponse(body, status_code=200 if report.ok else 422)


@router.get("/keywords/timeline")
async def get_timeline(
    user: CurrentUser,
    session: SessionDep,
    query: TimelineQueryDep,
    max_points: Annotated[int, Query(ge=1, le=1000)] = 300,
) -> Response:
    """The timeline series and summary (PRODUCT.md §3) for a department / 主訴, gender and age."""
    dep, cc = resolve_scope(user, query.department, query.chief_complaint)
    result = await timeline_result(session, dep, cc, query.gender, query.age, max_points)
    # The store caches the result; its JSON is serialised once per cached result (hundreds of points).
    key = (id(result), dep.id, dep.name, cc.id if cc else None, cc.name if cc else None)
    cached = _timeline_json.get(key)
    if cached is None or cached[0] is not result:
        body = orjson.dumps({"department": {"id": dep.id, "name": dep.name},
                             "chief_complaint": {"id": cc.id, "name": cc.name} if cc else None, **result})
        cached = _timeline_json[key] = (result, body)
        while len(_timeline_json) > 64:
            _timeline_json.pop(next(iter(_timeline_json)))
    return Response(cached[1], media_type="application/json")


_timeline_json: dict[tuple, tuple[dict, bytes]] = {}


@router.get("/keywords/timeline/chart.svg")
async def get_timeline_chart(user: CurrentUser, session: SessionDep, query: TimelineQueryDep,
                             size: ChartSizeDep) -> Response:
    dep, cc = resolve_scope(user, query.department, query.chief_complaint)
    payload = await timeline_payload(session, dep, cc, query.gender, query.age, 300)
    return await svg_response(payload["series"], chart_title(dep, cc), size.width, size.height)
