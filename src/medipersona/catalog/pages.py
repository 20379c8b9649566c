"""Admin catalog (カタログ管理): ``/admin/catalog`` (page, plain forms) and ``/api/admin/catalog`` (JSON).

Lists departments and complaints with their keyword data (rows, last import); add, rename, hide/show, merge a
complaint into another (its keyword data and personas follow), move a department to another section. Every
change goes through ``catalog.editing`` (one transaction + version bump: every worker follows within a second).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from medipersona.catalog import editing
from medipersona.catalog.service import get_catalog
from medipersona.deps import AdminUser, DatabaseDep
from medipersona.errors import AppError, InvalidInput
from medipersona.web.templating import render

router = APIRouter()

Kind = Literal["department", "chief_complaint"]


class AddDepartment(BaseModel):
    name: str = Field(max_length=200)
    section: str = Field(max_length=16)


class AddComplaint(BaseModel):
    name: str = Field(max_length=200)


class Rename(BaseModel):
    name: str = Field(max_length=200)


class Visibility(BaseModel):
    hidden: bool


class Move(BaseModel):
    section: str = Field(max_length=16)


class Merge(BaseModel):
    target_id: str = Field(max_length=128)


def _status_json(items: list[dict]) -> list[dict]:
    for d in items:
        d["imported_at"] = d["imported_at"].isoformat() if d["imported_at"] else None
        for c in d["chief_complaints"]:
            c["imported_at"] = c["imported_at"].isoformat() if c["imported_at"] else None
    return items


# ------------------------------------------------------------------------------------------------------------ API


@router.get("/api/admin/catalog", tags=["admin"])
async def api_catalog(user: AdminUser, db: DatabaseDep) -> dict:
    """Every department and complaint, hidden ones too, with rows and last import of its keyword data."""
    return {"sections": [{"id": s.id, "name": s.name} for s in get_catalog().sections],
            "departments": _status_json(await editing.department_status(db))}


@router.post("/api/admin/catalog/departments", status_code=201, tags=["admin"])
async def api_add_department(body: AddDepartment, user: AdminUser, db: DatabaseDep) -> dict:
    return {"id": await editing.add_department(db, body.name, body.section)}


@router.post("/api/admin/catalog/departments/{department_id}/complaints", status_code=201, tags=["admin"])
async def api_add_complaint(department_id: str, body: AddComplaint, user: AdminUser, db: DatabaseDep) -> dict:
    return {"id": await editing.add_complaint(db, department_id, body.name)}


@router.post("/api/admin/catalog/{kind}/{entry_id}/rename", tags=["admin"])
async def api_rename(kind: Kind, entry_id: str, body: Rename, user: AdminUser, db: DatabaseDep) -> dict:
    await editing.rename(db, kind, entry_id, body.name)
    return {"ok": True}


@router.post("/api/admin/catalog/{kind}/{entry_id}/visibility", tags=["admin"])
async def api_visibility(kind: Kind, entry_id: str, body: Visibility, user: AdminUser, db: DatabaseDep) -> dict:
    await editing.set_hidden(db, kind, entry_id, body.hidden)
    return {"ok": True}


@router.post("/api/admin/catalog/departments/{department_id}/move", tags=["admin"])
async def api_move(department_id: str, body: Move, user: AdminUser, db: DatabaseDep) -> dict:
    await editing.move_department(db, department_id, body.section)
    return {"ok": True}


@router.post("/api/admin/catalog/chief_complaint/{complaint_id}/merge", tags=["admin"])
async def api_merge(complaint_id: str, body: Merge, user: AdminUser, db: DatabaseDep) -> dict:
    return await editing.merge_complaint(db, complaint_id, body.target_id)


# ------------------------------------------------------------------------------------------------------------ page

async def _page(request: Request, db, *, message: str = "", error: str = "", status_code: int = 200,
                department: str = ""):
    catalog = get_catalog()
    departments = await editing.department_status(db)
    selected = next((d for d in departments if d["id"] == department), None)
    return render(request, "admin/catalog.html", {
        "departments": departments,
        "selected": selected,
        "sections": catalog.sections,
        "message": message,
        "error": error,
        "total_complaints": sum(len(d["chief_complaints"]) for d in departments),
        "with_data": sum(d["with_data"] for d in departments),
    }, status_code=status_code)


@router.get("/admin/catalog", include_in_schema=False)
async def catalog_admin(request: Request, user: AdminUser, db: DatabaseDep, department: str = ""):
    return await _page(request, db, department=department)


@router.post("/admin/catalog", include_in_schema=False)
async def catalog_admin_post(request: Request, user: AdminUser, db: DatabaseDep):
    form = await request.form()
    value = {k: str(form.get(k) or "").strip()[:200] for k in
             ("action", "kind", "id", "name", "section", "target_id", "department")}
    action, department = value["action"], value["department"]
    kind = "department" if value["kind"] == "department" else "chief_complaint"
    try:
        if action == "add_department":
            department = await editing.add_department(db, value["name"], value["section"])
            message = f"診療科「{value['name']}」を追加しました。"
        elif action == "add_complaint":
            await editing.add_complaint(db, department, value["name"])
            message = f"主訴「{value['name']}」を追加しました。"
        elif action == "rename":
            await editing.rename(db, kind, value["id"], value["name"])
            message = f"名前を「{value['name']}」に変更しました。"
        elif action in ("hide", "show"):
            await editing.set_hidden(db, kind, value["id"], action == "hide")
            message = "非表示にしました。" if action == "hide" else "表示するようにしました。"
        elif action == "move":
            await editing.move_department(db, value["id"], value["section"])
            message = f"区分を「{get_catalog().section_name(value['section'])}」に変更しました。"
        elif action == "merge":
            if not value["target_id"]:
                raise InvalidInput("統合先の主訴を選んでください。")
            counts = await editing.merge_complaint(db, value["id"], value["target_id"])
            message = (f"統合しました（ペルソナ {counts['personas']}件、キーワード {counts['rows']:,}行を"
                       f"統合先に移しました）。")
        else:
            raise InvalidInput("操作を選んでください。")
    except AppError as exc:
        return await _page(request, db, error=exc.message, status_code=exc.status_code, department=department)
    return await _page(request, db, message=message, department=department)
