"""The bundled catalog (catalog.json) in the database: the seed rows of migration 0011, and the sync every
``migrate`` runs (bundled entries a database lacks are added; bundled complaints' attribute values follow the
file; names, sections, hidden flags and order stay as the admin set them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from medipersona.catalog.editing import CC, DEP, bump
from medipersona.catalog.service import bundled_raw, complaint_attributes, load_catalog, normalize_name
from medipersona.db import Database, utcnow


def seed_rows(raw: dict | None = None) -> tuple[list[dict], list[dict]]:
    """catalog.json as table rows (departments, complaints), ids unchanged, in file order. Reads whatever
    complaint attributes the file has (``complaint_attributes``)."""
    raw = raw or bundled_raw()
    now = utcnow()
    deps, ccs = [], []
    for i, d in enumerate(raw["departments"]):
        deps.append({"id": d["id"], "name": d["name"], "name_key": normalize_name(d["name"]), "section": d["section"],
                     "search_terms": list(d.get("search_terms", ())), "hidden": bool(d.get("hidden", False)),
                     "sort_order": i, "origin": "bundled", "aliases": [], "created_at": now, "updated_at": now})
        for j, c in enumerate(d["chief_complaints"]):
            ccs.append({"id": c["id"], "department_id": d["id"], "name": c["name"],
                        "name_key": normalize_name(c["name"]), **complaint_attributes(c, d),
                        "hidden": bool(c.get("hidden", False)), "sort_order": j, "origin": "bundled", "aliases": [],
                        "created_at": now, "updated_at": now})
    return deps, ccs


async def sync_bundled(db: Database) -> int:
    """Run by every ``migrate``: bundled entries missing from the database are added, and the attribute values
    of bundled complaints (sexes, ages, kind, pediatric, extra) follow catalog.json. Names, sections, hidden
    flags and order stay as the admin set them. Returns the number of changed rows."""
    deps, ccs = seed_rows()
    changed = 0
    async with db.engine.begin() as conn:
        have_deps = {r.id for r in await conn.execute(select(DEP.c.id))}
        have = {r.id: r for r in await conn.execute(
            select(CC.c.id, CC.c.origin, *[CC.c[a] for a in (*ATTRS, "extra")]))}
        new_deps = [d for d in deps if d["id"] not in have_deps]
        new_ccs = [c for c in ccs if c["id"] not in have and c["department_id"] in (have_deps | {d["id"] for d in new_deps})]
        # A bundled complaint merged away by the admin is an alias of its target: never re-added.
        merged: set[tuple[str, str]] = set()
        for r in await conn.execute(select(CC.c.department_id, CC.c.aliases)):
            merged.update((r.department_id, key) for key in (r.aliases or ()))
        new_ccs = [c for c in new_ccs if (c["department_id"], c["name_key"]) not in merged]
        if new_deps:
            await conn.execute(insert(DEP), new_deps)
        if new_ccs:
            await conn.execute(insert(CC), new_ccs)
        changed += len(new_deps) + len(new_ccs)
        for c in ccs:
            row = have.get(c["id"])
            if row is None or row.origin != "bundled":
                continue
            values = {a: c[a] for a in (*ATTRS, "extra") if _differs(getattr(row, a), c[a])}
            if values:
                await conn.execute(update(CC).where(CC.c.id == c["id"]).values(**values))
                changed += 1
        if changed:
            await bump(conn)
    if changed:
        await load_catalog(db, force=True)
    return changed


ATTRS = ("sexes", "age_min", "age_max", "kind", "pediatric")


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return list(a or ()) != list(b or ())
    return a != b
