"""Admin page /admin/keywords: the datasets, an upload form (CSV or zip) and per-file results."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, Request

from medipersona.catalog.service import get_catalog
from medipersona.deps import AdminUser, SessionDep
from medipersona.errors import AppError
from medipersona.keywords import store
from medipersona.keywords.importer import import_upload
from medipersona.keywords.router import MAX_UPLOAD_BYTES, UploadGuard, dataset_payload, read_upload
from medipersona.web.templating import render

router = APIRouter(include_in_schema=False)


async def _page(request: Request, session, *, report=None, error: str = "", dry_run: bool = False,
                status_code: int = 200):
    datasets = [dataset_payload(ds) for ds in await store.list_datasets(session)]
    catalog = get_catalog()
    per_department = Counter(d["department_id"] for d in datasets)
    coverage = [
        {"name": dep.name, "datasets": per_department.get(dep.id, 0), "expected": len(dep.chief_complaints) + 1,
         "sample": sum(1 for d in datasets if d["department_id"] == dep.id and d["is_sample"])}
        for dep in catalog.departments
    ]
    return render(
        request,
        "keywords/admin.html",
        {
            "datasets": datasets,
            "coverage": coverage,
            "total_rows": sum(d["row_count"] for d in datasets),
            "sample_count": sum(1 for d in datasets if d["is_sample"]),
            "report": report.as_dict() if report is not None else None,
            "dry_run": dry_run,
            "error": error,
            "max_upload_mb": MAX_UPLOAD_BYTES // (1024 * 1024),
            "max_upload_bytes": MAX_UPLOAD_BYTES,
        },
        status_code=status_code,
    )


@router.get("/admin/keywords")
async def keywords_admin(request: Request, user: AdminUser, session: SessionDep):
    return await _page(request, session)


@router.post("/admin/keywords", dependencies=[UploadGuard])
async def keywords_upload(request: Request, user: AdminUser, session: SessionDep):
    try:
        upload = await read_upload(request)
    except AppError as exc:
        return await _page(request, session, error=exc.message, status_code=exc.status_code)
    dry_run = (await request.form()).get("check_only") == "1"
    try:
        report = await import_upload(request.app.state.db, upload.filename or "", upload.file, dry_run=dry_run)
    finally:
        await upload.close()
    return await _page(request, session, report=report, dry_run=dry_run,
                       status_code=200 if report.ok else 422)
