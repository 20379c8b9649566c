"""Changes to the catalog in the database: entries added by imports, admin edits (the seed from catalog.json
and its attribute values: ``catalog.bundled``).

Every change runs in ONE transaction that also bumps ``catalog_state.version``; the worker that made it reloads
its snapshot at once, every other worker within ``service.CHECK_INTERVAL`` (its watcher compares the version).
Ids of new entries are derived from the normalised name (``new_department_id``/``new_complaint_id``): the same
export imported on two instances, or twice, names the same entry.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from medipersona.catalog.models import CatalogComplaint, CatalogDepartment, CatalogState
from medipersona.catalog.service import (
    Catalog,
    load_catalog,
    normalize_name,
)
from medipersona.db import Database, table_of, utcnow
from medipersona.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger("medipersona.catalog")

SECTION_IDS = ("medical", "dental", "others")
MAX_NAME_LENGTH = 60
DEP = table_of(CatalogDepartment)
CC = table_of(CatalogComplaint)


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]


def new_department_id(name: str) -> str:
    """The id of a department added by name: the same on every instance and every re-import."""
    return f"dep_{_digest(normalize_name(name))}"


def new_complaint_id(department_id: str, name: str) -> str:
    return f"{department_id}.cc_{_digest(normalize_name(name))}"


def infer_section(department_name: str) -> str:
    """歯 in the name → dental (歯科), else medical (医科); the admin can move it."""
    return "dental" if "歯" in department_name else "medical"


async def bump(conn) -> None:
    state = table_of(CatalogState)
    result = await conn.execute(update(state).where(state.c.id == 1)
                                .values(version=state.c.version + 1, token=secrets.token_hex(8)))
    if not result.rowcount:
        await conn.execute(insert(state).values(id=1, version=1, token=secrets.token_hex(8)))


# --------------------------------------------------------------------------------------------------------------
# Entries added by an import


@dataclass(frozen=True)
class NewEntry:
    """A department or complaint an import needs. ``kind``: department | chief_complaint."""

    kind: str
    id: str
    name: str
    department_id: str
    department_name: str
    section: str = "medical"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "department_id": self.department_id,
                "department": self.department_name, "section": self.section}

    def describe(self) -> str:
        if self.kind == "department":
            return f"診療科「{self.name}」"
        return f"主訴「{self.name}」（{self.department_name}）"


async def ensure_entries(db: Database, entries: list[NewEntry]) -> list[NewEntry]:
    """Add the entries that do not exist yet (by id), in one transaction. Returns the ones this call added
    (another instance may have added some a moment earlier: those are not reported twice)."""
    if not entries:
        return []
    for attempt in range(2):
        try:
            added = await _insert_entries(db, entries)
            break
        except IntegrityError:  # a concurrent import added the same entry: read again
            if attempt:
                raise
    if added:
        await load_catalog(db, force=True)
    return added


async def _insert_entries(db: Database, entries: list[NewEntry]) -> list[NewEntry]:
    unique = list({e.id: e for e in entries}.values())
    async with db.engine.begin() as conn:
        dep_ids = {e.id for e in unique if e.kind == "department"}
        cc_ids = {e.id for e in unique if e.kind == "chief_complaint"}
        have_deps = {r.id for r in await conn.execute(select(DEP.c.id).where(DEP.c.id.in_(dep_ids)))} if dep_ids else set()
        have_ccs = {r.id for r in await conn.execute(select(CC.c.id).where(CC.c.id.in_(cc_ids)))} if cc_ids else set()
        added = [e for e in unique if e.id not in (have_deps if e.kind == "department" else have_ccs)]
        if not added:
            return []
        now = utcnow()
        next_dep = (await conn.scalar(select(func.max(DEP.c.sort_order)))) or 0
        dep_rows: list[dict[str, Any]] = []
        for e in added:
            if e.kind == "department":
                next_dep += 1
                dep_rows.append({"id": e.id, "name": e.name, "name_key": normalize_name(e.name), "section": e.section,
                                 "search_terms": [], "hidden": False, "sort_order": next_dep, "origin": "import",
                                 "aliases": [], "created_at": now, "updated_at": now})
        if dep_rows:
            await conn.execute(insert(DEP), dep_rows)
        cc_rows = []
        orders: dict[str, int] = {}
        for e in added:
            if e.kind != "chief_complaint":
                continue
            if e.department_id not in orders:
                orders[e.department_id] = (await conn.scalar(
                    select(func.max(CC.c.sort_order)).where(CC.c.department_id == e.department_id))) or 0
            orders[e.department_id] += 1
            cc_rows.append(_complaint_row(e.id, e.department_id, e.name, orders[e.department_id], "import", now))
        if cc_rows:
            await conn.execute(insert(CC), cc_rows)
        await bump(conn)
    return added


def _complaint_row(cc_id: str, department_id: str, name: str, order: int, origin: str, now) -> dict:
    return {"id": cc_id, "department_id": department_id, "name": name, "name_key": normalize_name(name),
            "sexes": [], "age_min": 0, "age_max": 100, "kind": "procedure" if origin == "import" else "symptom",
            "pediatric": False, "hidden": False, "sort_order": order, "origin": origin, "aliases": [], "extra": {},
            "created_at": now, "updated_at": now}


# --------------------------------------------------------------------------------------------------------------
# Admin edits


def clean_name(name: str, label: str = "名前") -> str:
    text = " ".join((name or "").split())
    if not text:
        raise InvalidInput(f"{label}を入力してください。", fields=[{"field": "name", "message": f"{label}を入力してください。"}])
    if len(text) > MAX_NAME_LENGTH:
        message = f"{label}は{MAX_NAME_LENGTH}文字以内で入力してください。"
        raise InvalidInput(message, fields=[{"field": "name", "message": message}])
    return text


def _check_section(section: str) -> str:
    if section not in SECTION_IDS:
        raise InvalidInput("区分は 医科・歯科・その他 から選んでください。",
                           fields=[{"field": "section", "message": "区分を選んでください。"}])
    return section


async def _department_row(conn, department_id: str):
    row = (await conn.execute(select(DEP).where(DEP.c.id == department_id))).mappings().first()
    if row is None:
        raise NotFound("診療科が見つかりません。", code="department_not_found")
    return row


async def _complaint_row_of(conn, complaint_id: str):
    row = (await conn.execute(select(CC).where(CC.c.id == complaint_id))).mappings().first()
    if row is None:
        raise NotFound("主訴が見つかりません。", code="complaint_not_found")
    return row


async def _name_taken_department(conn, key: str, except_id: str | None = None) -> bool:
    for r in await conn.execute(select(DEP.c.id, DEP.c.name_key, DEP.c.aliases)):
        if r.id != except_id and (r.name_key == key or key in (r.aliases or ())):
            return True
    return False


async def _name_taken_complaint(conn, department_id: str, key: str, except_id: str | None = None) -> bool:
    for r in await conn.execute(select(CC.c.id, CC.c.name_key, CC.c.aliases).where(CC.c.department_id == department_id)):
        if r.id != except_id and (r.name_key == key or key in (r.aliases or ())):
            return True
    return False


async def _finish(db: Database) -> Catalog:
    return await load_catalog(db, force=True)


async def add_department(db: Database, name: str, section: str) -> str:
    name = clean_name(name, "診療科名")
    _check_section(section)
    key = normalize_name(name)
    async with db.engine.begin() as conn:
        if await _name_taken_department(conn, key):
            raise Conflict(f"診療科「{name}」は既にあります。", code="duplicate_name")
        dep_id = new_department_id(name)
        if (await conn.execute(select(DEP.c.id).where(DEP.c.id == dep_id))).first():
            dep_id = f"{dep_id}_{secrets.token_hex(2)}"
        order = ((await conn.scalar(select(func.max(DEP.c.sort_order)))) or 0) + 1
        now = utcnow()
        await conn.execute(insert(DEP).values(id=dep_id, name=name, name_key=key, section=section, search_terms=[],
                                              hidden=False, sort_order=order, origin="admin", aliases=[],
                                              created_at=now, updated_at=now))
        await bump(conn)
    await _finish(db)
    return dep_id


async def add_complaint(db: Database, department_id: str, name: str) -> str:
    name = clean_name(name, "主訴名")
    key = normalize_name(name)
    async with db.engine.begin() as conn:
        await _department_row(conn, department_id)
        if await _name_taken_complaint(conn, department_id, key):
            raise Conflict(f"主訴「{name}」はこの診療科に既にあります。", code="duplicate_name")
        cc_id = new_complaint_id(department_id, name)
        if (await conn.execute(select(CC.c.id).where(CC.c.id == cc_id))).first():
            cc_id = f"{cc_id}_{secrets.token_hex(2)}"
        order = ((await conn.scalar(select(func.max(CC.c.sort_order)).where(CC.c.department_id == department_id)))
                 or 0) + 1
        await conn.execute(insert(CC).values(**_complaint_row(cc_id, department_id, name, order, "admin", utcnow())))
        await bump(conn)
    await _finish(db)
    return cc_id


async def rename(db: Database, kind: str, entry_id: str, name: str) -> None:
    """Rename a department or complaint; the former name stays an alias (a re-import of an old file matches)."""
    is_dep = kind == "department"
    name = clean_name(name, "診療科名" if is_dep else "主訴名")
    key = normalize_name(name)
    async with db.engine.begin() as conn:
        row = await (_department_row(conn, entry_id) if is_dep else _complaint_row_of(conn, entry_id))
        taken = (await _name_taken_department(conn, key, entry_id) if is_dep
                 else await _name_taken_complaint(conn, row["department_id"], key, entry_id))
        if taken:
            raise Conflict(f"「{name}」は既にあります。統合する場合は「統合」を使ってください。", code="duplicate_name")
        aliases = [a for a in (row["aliases"] or ()) if a != key]
        if row["name_key"] != key and row["name_key"] not in aliases:
            aliases.append(row["name_key"])
        table = DEP if is_dep else CC
        await conn.execute(update(table).where(table.c.id == entry_id)
                           .values(name=name, name_key=key, aliases=aliases, updated_at=utcnow()))
        await bump(conn)
    await _finish(db)


async def set_hidden(db: Database, kind: str, entry_id: str, hidden: bool) -> None:
    is_dep = kind == "department"
    async with db.engine.begin() as conn:
        await (_department_row(conn, entry_id) if is_dep else _complaint_row_of(conn, entry_id))
        table = DEP if is_dep else CC
        await conn.execute(update(table).where(table.c.id == entry_id).values(hidden=hidden, updated_at=utcnow()))
        await bump(conn)
    await _finish(db)


async def move_department(db: Database, department_id: str, section: str) -> None:
    _check_section(section)
    async with db.engine.begin() as conn:
        await _department_row(conn, department_id)
        await conn.execute(update(DEP).where(DEP.c.id == department_id).values(section=section, updated_at=utcnow()))
        await bump(conn)
    await _finish(db)


async def merge_complaint(db: Database, source_id: str, target_id: str) -> dict[str, int]:
    """Merge a complaint into another of the same department: its personas and persona sets point to the
    target, its keyword rows join the target's dataset (keywords the target already has are dropped; when the
    target has no data, the dataset simply moves), its names become aliases of the target, the source is gone.
    One transaction. Returns counts for the message."""
    from medipersona.keywords.models import KeywordDataset, KeywordPack, scope_key
    from medipersona.keywords.pack import decode, encode
    from medipersona.keywords.writing import bump_keyword_version
    from medipersona.persona_sets.models import PersonaSet
    from medipersona.personas.models import Persona

    if source_id == target_id:
        raise InvalidInput("統合先には別の主訴を選んでください。",
                           fields=[{"field": "target_id", "message": "統合先には別の主訴を選んでください。"}])
    ds = table_of(KeywordDataset)
    packs = table_of(KeywordPack)
    async with db.engine.begin() as conn:
        source = await _complaint_row_of(conn, source_id)
        target = await _complaint_row_of(conn, target_id)
        if source["department_id"] != target["department_id"]:
            raise InvalidInput("統合先は同じ診療科の主訴を選んでください。",
                               fields=[{"field": "target_id", "message": "同じ診療科の主訴を選んでください。"}])
        dep_id = source["department_id"]
        pt = table_of(Persona)
        moved_personas = (await conn.execute(select(pt.c.id, pt.c.request)
                                             .where(pt.c.chief_complaint_id == source_id))).all()
        personas = (await conn.execute(update(pt).where(pt.c.chief_complaint_id == source_id)
                                       .values(chief_complaint_id=target_id))).rowcount
        # The request as the user sent it (the edit wizard starts from it) names the target too.
        requests = [{"pid": pid, "request": {**request, "chief_complaint": target_id}}
                    for pid, request in moved_personas
                    if isinstance(request, dict) and request.get("chief_complaint") == source_id]
        if requests:
            await conn.execute(update(pt).where(pt.c.id == bindparam("pid")).values(request=bindparam("request")),
                               requests)
        await conn.execute(update(table_of(PersonaSet)).where(table_of(PersonaSet).c.chief_complaint_id == source_id)
                           .values(chief_complaint_id=target_id))
        src_ds = (await conn.execute(select(ds.c.id, ds.c.row_count).where(ds.c.scope == scope_key(dep_id, source_id)))).first()
        dst_ds = (await conn.execute(select(ds.c.id).where(ds.c.scope == scope_key(dep_id, target_id)))).first()
        moved_rows = 0
        if src_ds is not None and dst_ds is None:
            await conn.execute(update(ds).where(ds.c.id == src_ds.id)
                               .values(scope=scope_key(dep_id, target_id), chief_complaint_id=target_id))
            moved_rows = src_ds.row_count
        elif src_ds is not None and dst_ds is not None:
            stored = dict((await conn.execute(select(packs.c.dataset_id, packs.c.data)
                                              .where(packs.c.dataset_id.in_([src_ds.id, dst_ds.id])))).all())
            target_rows = decode(stored[dst_ds.id]).rows()
            known = {row[1] for row in target_rows}
            moved = [row for row in decode(stored[src_ds.id]).rows() if row[1] not in known]
            moved_rows = len(moved)
            merged = target_rows + moved
            await conn.execute(update(packs).where(packs.c.dataset_id == dst_ds.id).values(data=encode(merged)))
            await conn.execute(update(ds).where(ds.c.id == dst_ds.id).values(row_count=len(merged),
                                                                             imported_at=utcnow()))
            await conn.execute(delete(packs).where(packs.c.dataset_id == src_ds.id))
            await conn.execute(delete(ds).where(ds.c.id == src_ds.id))
        aliases = list(target["aliases"] or ())
        for key in (source["name_key"], *(source["aliases"] or ())):
            if key not in aliases and key != target["name_key"]:
                aliases.append(key)
        await conn.execute(delete(CC).where(CC.c.id == source_id))
        await conn.execute(update(CC).where(CC.c.id == target_id).values(aliases=aliases, updated_at=utcnow()))
        await bump(conn)
        if src_ds is not None:
            await bump_keyword_version(conn)
    if src_ds is not None:
        from medipersona.keywords.store_cache import invalidate_local

        invalidate_local(db)
    await _finish(db)
    return {"personas": personas, "rows": moved_rows}


async def department_status(db: Database) -> list[dict[str, Any]]:
    """Every department and complaint (hidden ones too) with its data status, for the admin page and API."""
    catalog = await load_catalog(db, force=True)
    out = []
    for d in catalog.departments:
        dep_data = catalog.data_status(d.id)
        complaints: list[dict[str, Any]] = []
        for c in d.chief_complaints:
            st = catalog.data_status(d.id, c.id)
            complaints.append({"id": c.id, "name": c.name, "hidden": c.hidden, "rows": st.rows if st else 0,
                               "imported_at": st.imported_at if st else None,
                               "is_sample": st.is_sample if st else False})
        out.append({"id": d.id, "name": d.name, "section": d.section, "section_name": catalog.section_name(d.section),
                    "hidden": d.hidden, "rows": dep_data.rows if dep_data else 0,
                    "imported_at": dep_data.imported_at if dep_data else None,
                    "is_sample": dep_data.is_sample if dep_data else False,
                    "complaint_rows": sum(c["rows"] for c in complaints),
                    "with_data": sum(1 for c in complaints if c["rows"]),
                    "chief_complaints": complaints})
    return out
