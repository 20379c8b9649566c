"""Loads the catalog package data once per process and answers lookups by id and by name."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import select


@dataclass(frozen=True)
class Section:
    id: str
    name: str


@dataclass(frozen=True)
class ChiefComplaint:
    """A chief complaint (主訴) and the attributes that keep personas believable.

    ``sexes``: the genders (codes of ``labels.GENDERS``) it applies to; empty = any.
    ``age_min``/``age_max``: the typical age range in whole years (inclusive).
    ``kind``: one of ``labels.COMPLAINT_KINDS`` (symptom, disease, procedure, checkup, prevention).
    ``pediatric``: the patient is a child (the guardian searches and decides).
    ``hidden``: hidden from the wizard (personas that use it still render).
    """

    id: str
    name: str
    department_id: str
    sexes: tuple[str, ...] = ()
    age_min: int = 0
    age_max: int = 100
    kind: str = "symptom"
    pediatric: bool = False
    hidden: bool = False


@dataclass(frozen=True)
class Department:
    """A department (診療科). ``search_terms``: words that find clinics of this specialty on a map
    (e.g. 眼科 → 眼科, 眼科クリニック, 眼科医院); empty = the department's name."""

    id: str
    name: str
    section: str
    chief_complaints: tuple[ChiefComplaint, ...]
    search_terms: tuple[str, ...] = ()
    hidden: bool = False


@dataclass(frozen=True)
class PatientType:
    id: str
    name: str
    description: str
    example: str


@dataclass(frozen=True)
class Purpose:
    id: str
    name: str
    description: str


_SPACES = re.compile(r"[\s\u3000\u200b\ufeff]+")


def normalize_name(name: str) -> str:
    """Name key for matching file names, imports and user input to the catalog: NFKC (full/half width:
    ４ == 4, ｱｲ == アイ), no whitespace of any kind, case-folded."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", name or "")).casefold()


@dataclass(frozen=True)
class DataStatus:
    """The keyword data of one department or complaint (``keyword_datasets``)."""

    rows: int
    imported_at: Any
    is_sample: bool


@dataclass(frozen=True)
class Catalog:
    sections: tuple[Section, ...]
    departments: tuple[Department, ...]
    patient_types: tuple[PatientType, ...]
    purposes: tuple[Purpose, ...]
    prefectures: tuple[str, ...]
    _departments: dict[str, Department] = field(default_factory=dict, repr=False)
    _complaints: dict[str, ChiefComplaint] = field(default_factory=dict, repr=False)
    _patient_types: dict[str, PatientType] = field(default_factory=dict, repr=False)
    _purposes: dict[str, Purpose] = field(default_factory=dict, repr=False)
    _department_names: dict[str, Department] = field(default_factory=dict, repr=False)
    _complaint_names: dict[tuple[str, str], ChiefComplaint] = field(default_factory=dict, repr=False)
    # scope_key(department, complaint) -> DataStatus; empty for the bundled (file) catalog.
    data: dict[str, DataStatus] = field(default_factory=dict, repr=False)
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # serialised forms of this snapshot

    def department(self, department_id: str) -> Department | None:
        return self._departments.get(department_id)

    def chief_complaint(self, complaint_id: str) -> ChiefComplaint | None:
        return self._complaints.get(complaint_id)

    def patient_type(self, type_id: str) -> PatientType | None:
        return self._patient_types.get(type_id)

    def purpose(self, purpose_id: str) -> Purpose | None:
        return self._purposes.get(purpose_id)

    def department_by_name(self, name: str) -> Department | None:
        """By name or a former name (aliases), after ``normalize_name``."""
        return self._department_names.get(normalize_name(name))

    def chief_complaint_by_name(self, department_id: str, name: str) -> ChiefComplaint | None:
        return self._complaint_names.get((department_id, normalize_name(name)))

    def departments_in(self, sections: list[str] | tuple[str, ...]) -> list[Department]:
        return [d for d in self.departments if d.section in sections]

    def section_name(self, section_id: str) -> str:
        return next((s.name for s in self.sections if s.id == section_id), section_id)

    def data_status(self, department_id: str, complaint_id: str | None = None) -> DataStatus | None:
        return self.data.get(f"{department_id}|{complaint_id or ''}")

    def has_data(self, department_id: str, complaint_id: str | None = None) -> bool:
        return f"{department_id}|{complaint_id or ''}" in self.data

    @property
    def complaint_count(self) -> int:
        return len(self._complaints)

    def as_api(self, *, include_hidden: bool = False, with_data: bool = False) -> dict:
        """The shape of ``GET /api/catalog``. Hidden entries are left out unless asked for. ``with_data`` (the
        wizard): each complaint also says ``has_data``, and complaints with keyword data come first."""

        def complaints(d: Department) -> list[dict]:
            items = [c for c in d.chief_complaints if include_hidden or not c.hidden]
            if not with_data:
                return [{"id": c.id, "name": c.name} for c in items]
            out = [{"id": c.id, "name": c.name, "has_data": self.has_data(d.id, c.id)} for c in items]
            out.sort(key=lambda c: not c["has_data"])  # stable: catalog order within each group
            return out

        return {
            "sections": [{"id": s.id, "name": s.name} for s in self.sections],
            "departments": [
                {
                    "id": d.id,
                    "name": d.name,
                    "section": d.section,
                    "chief_complaints": complaints(d),
                }
                for d in self.departments if include_hidden or not d.hidden
            ],
            "patient_types": [
                {"id": p.id, "name": p.name, "description": p.description, "example": p.example}
                for p in self.patient_types
            ],
            "purposes": [{"id": p.id, "name": p.name, "description": p.description} for p in self.purposes],
            "prefectures": list(self.prefectures),
        }


# --------------------------------------------------------------------------------------------------------------
# The bundled file (data/catalog.json): seeds the database; static parts (sections, types, purposes, prefectures)


COMPLAINT_ATTRIBUTES = ("sexes", "age_min", "age_max", "kind", "pediatric")


def complaint_attributes(raw: dict, department: dict) -> dict[str, Any]:
    """The attributes of a complaint in catalog.json (optional ``sexes``, ``age`` [min, max], ``kind``,
    ``pediatric``, default: the department's ``pediatric``) as column values; other keys go to ``extra``."""
    age_min, age_max = raw.get("age", (0, 100))
    known = {"id", "name", "sexes", "age", "kind", "pediatric", "hidden"}
    return {
        "sexes": list(raw.get("sexes", ())),
        "age_min": int(age_min),
        "age_max": int(age_max),
        "kind": raw.get("kind", "symptom"),
        "pediatric": bool(raw.get("pediatric", department.get("pediatric", False))),
        "extra": {k: v for k, v in raw.items() if k not in known},
    }


def _complaint(raw: dict, department: dict) -> ChiefComplaint:
    attrs = complaint_attributes(raw, department)
    return ChiefComplaint(
        id=raw["id"], name=raw["name"], department_id=department["id"], sexes=tuple(attrs["sexes"]),
        age_min=attrs["age_min"], age_max=attrs["age_max"], kind=attrs["kind"], pediatric=attrs["pediatric"],
        hidden=bool(raw.get("hidden", False)),
    )


def _assemble(raw: dict, departments: tuple[Department, ...], aliases: dict[str, list[str]] | None = None,
              data: dict[str, DataStatus] | None = None) -> Catalog:
    catalog = Catalog(
        sections=tuple(Section(**s) for s in raw["sections"]),
        departments=departments,
        patient_types=tuple(PatientType(**p) for p in raw["patient_types"]),
        purposes=tuple(Purpose(**p) for p in raw["purposes"]),
        prefectures=tuple(raw["prefectures"]),
        data=dict(data or {}),
    )
    aliases = aliases or {}
    for d in departments:
        catalog._departments[d.id] = d
        for key in aliases.get(d.id, ()):
            catalog._department_names.setdefault(key, d)
        catalog._department_names[normalize_name(d.name)] = d
    for d in departments:
        for c in d.chief_complaints:
            catalog._complaints[c.id] = c
            for key in aliases.get(c.id, ()):
                catalog._complaint_names.setdefault((d.id, key), c)
            catalog._complaint_names[(d.id, normalize_name(c.name))] = c
    catalog._patient_types.update({p.id: p for p in catalog.patient_types})
    catalog._purposes.update({p.id: p for p in catalog.purposes})
    return catalog


def _build(raw: dict) -> Catalog:
    departments = tuple(
        Department(
            id=d["id"],
            name=d["name"],
            section=d["section"],
            chief_complaints=tuple(_complaint(c, d) for c in d["chief_complaints"]),
            search_terms=tuple(d.get("search_terms", ())),
        )
        for d in raw["departments"]
    )
    return _assemble(raw, departments)


@lru_cache(maxsize=1)
def bundled_raw() -> dict:
    text = resources.files("medipersona.catalog").joinpath("data/catalog.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def bundled_catalog() -> Catalog:
    """The catalog as shipped in catalog.json (before any database exists; the seed of every database)."""
    return _build(bundled_raw())


def get_catalog() -> Catalog:
    """The catalog this process reads now (sync and cheap: an in-memory snapshot).

    Once the app has started, the snapshot of its database (refreshed by ``watch`` within a second of any change
    made by any worker); before that (CLI tools, unit tests without an app), the bundled catalog."""
    return _current if _current is not None else bundled_catalog()


# --------------------------------------------------------------------------------------------------------------
# The database snapshot: one per database URL, refreshed when catalog_state or keyword_state changes

CHECK_INTERVAL = 0.5  # seconds between version checks per worker (the watcher's period)

_current: Catalog | None = None


def _url_of(bind: Any) -> str:
    return str(getattr(bind, "url", bind))


class CatalogService:
    """The cached catalog of one database. ``snapshot(conn)`` re-reads the tables only when the catalog or the
    keyword data changed (the version rows), at most once per ``CHECK_INTERVAL`` unless forced."""

    def __init__(self) -> None:
        self.catalog: Catalog | None = None
        self.version: tuple | None = None
        self.checked_at = 0.0

    async def snapshot(self, conn, *, force: bool = False) -> Catalog:
        now = time.monotonic()
        if not force and self.catalog is not None and now - self.checked_at < CHECK_INTERVAL:
            return self.catalog
        version = await _versions(conn)
        if force or self.catalog is None or version != self.version:
            self.catalog = await _load(conn)
            self.version = version
        self.checked_at = now
        return self.catalog


_services: dict[str, CatalogService] = {}


@cache
def _versions_statement():
    """The catalog's and the keyword data's version and token in one row (None where a row is missing): one
    statement, built once, for the check every worker makes twice a second."""
    from medipersona.catalog.models import CatalogState
    from medipersona.keywords.models import KeywordState

    return select(*(select(column).where(model.id == 1).scalar_subquery()
                    for model in (CatalogState, KeywordState) for column in (model.version, model.token)))


async def _versions(conn) -> tuple:
    return tuple((await conn.execute(_versions_statement())).one())


async def _load(conn) -> Catalog:
    from medipersona.catalog.models import CatalogComplaint, CatalogDepartment
    from medipersona.keywords.models import KeywordDataset

    dep_t = CatalogDepartment.__table__
    cc_t = CatalogComplaint.__table__
    ds_t = KeywordDataset.__table__
    deps = (await conn.execute(select(dep_t).order_by(dep_t.c.sort_order, dep_t.c.id))).mappings().all()
    ccs = (await conn.execute(select(cc_t).order_by(cc_t.c.department_id, cc_t.c.sort_order, cc_t.c.id))
           ).mappings().all()
    datasets = (await conn.execute(select(ds_t.c.scope, ds_t.c.row_count, ds_t.c.imported_at, ds_t.c.is_sample))).all()
    by_dep: dict[str, list[ChiefComplaint]] = {}
    aliases: dict[str, list[str]] = {}
    for c in ccs:
        by_dep.setdefault(c["department_id"], []).append(ChiefComplaint(
            id=c["id"], name=c["name"], department_id=c["department_id"], sexes=tuple(c["sexes"] or ()),
            age_min=c["age_min"], age_max=c["age_max"], kind=c["kind"], pediatric=c["pediatric"],
            hidden=c["hidden"],
        ))
        aliases[c["id"]] = list(c["aliases"] or ())
    departments = []
    for d in deps:
        departments.append(Department(
            id=d["id"], name=d["name"], section=d["section"], chief_complaints=tuple(by_dep.get(d["id"], ())),
            search_terms=tuple(d["search_terms"] or ()), hidden=d["hidden"],
        ))
        aliases[d["id"]] = list(d["aliases"] or ())
    data = {row.scope: DataStatus(row.row_count, row.imported_at, bool(row.is_sample)) for row in datasets}
    return _assemble(bundled_raw(), tuple(departments), aliases, data)


async def load_catalog(source: Any, *, force: bool = False) -> Catalog:
    """The catalog of a database (``Database``, ``AsyncSession`` or ``AsyncConnection``), cached per database;
    becomes what ``get_catalog()`` answers in this process. ``force``: read the tables now (after a change)."""
    global _current
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

    if isinstance(source, AsyncSession):
        service = _services.setdefault(_url_of(source.bind), CatalogService())
        catalog = await service.snapshot(await source.connection(), force=force)
    elif isinstance(source, AsyncConnection):
        service = _services.setdefault(_url_of(source.engine), CatalogService())
        catalog = await service.snapshot(source, force=force)
    else:  # a Database
        service = _services.setdefault(_url_of(source.engine), CatalogService())
        async with source.engine.connect() as conn:
            catalog = await service.snapshot(conn, force=force)
    _current = catalog
    return catalog


def reset_current() -> None:
    """Back to the bundled catalog (an app stopped: tests open many databases in one process)."""
    global _current
    _current = None
    _services.clear()


async def watch(db, interval: float = CHECK_INTERVAL) -> None:
    """Run in each worker (app lifespan): keeps ``get_catalog()`` within ``interval`` of the database."""
    log = logging.getLogger("medipersona.catalog")
    warned_at = -1e9
    while True:
        try:
            await load_catalog(db)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup: keep the last snapshot, try again (warn once a minute)
            if time.monotonic() - warned_at > 60:
                warned_at = time.monotonic()
                log.warning("catalog refresh failed; keeping the last snapshot", exc_info=True)
        await asyncio.sleep(interval)
