"""Loads the catalog package data once per process and answers lookups by id and by name."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources


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


def normalize_name(name: str) -> str:
    """Name key for matching file names and user input to the catalog (NFKC, no spaces, lower case)."""
    return unicodedata.normalize("NFKC", name).replace(" ", "").replace("\u3000", "").lower()


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

    def department(self, department_id: str) -> Department | None:
        return self._departments.get(department_id)

    def chief_complaint(self, complaint_id: str) -> ChiefComplaint | None:
        return self._complaints.get(complaint_id)

    def patient_type(self, type_id: str) -> PatientType | None:
        return self._patient_types.get(type_id)

    def purpose(self, purpose_id: str) -> Purpose | None:
        return self._purposes.get(purpose_id)

    def department_by_name(self, name: str) -> Department | None:
        return self._department_names.get(normalize_name(name))

    def chief_complaint_by_name(self, department_id: str, name: str) -> ChiefComplaint | None:
        return self._complaint_names.get((department_id, normalize_name(name)))

    def departments_in(self, sections: list[str] | tuple[str, ...]) -> list[Department]:
        return [d for d in self.departments if d.section in sections]

    def section_name(self, section_id: str) -> str:
        return next((s.name for s in self.sections if s.id == section_id), section_id)

    @property
    def complaint_count(self) -> int:
        return len(self._complaints)

    def as_api(self) -> dict:
        return {
            "sections": [{"id": s.id, "name": s.name} for s in self.sections],
            "departments": [
                {
                    "id": d.id,
                    "name": d.name,
                    "section": d.section,
                    "chief_complaints": [{"id": c.id, "name": c.name} for c in d.chief_complaints],
                }
                for d in self.departments
            ],
            "patient_types": [
                {"id": p.id, "name": p.name, "description": p.description, "example": p.example}
                for p in self.patient_types
            ],
            "purposes": [{"id": p.id, "name": p.name, "description": p.description} for p in self.purposes],
            "prefectures": list(self.prefectures),
        }


def _complaint(raw: dict, department: dict) -> ChiefComplaint:
    """A complaint from catalog.json: optional ``sexes``, ``age`` ([min, max]), ``kind``, ``pediatric``
    (default: the department's ``pediatric``)."""
    age_min, age_max = raw.get("age", (0, 100))
    return ChiefComplaint(
        id=raw["id"],
        name=raw["name"],
        department_id=department["id"],
        sexes=tuple(raw.get("sexes", ())),
        age_min=int(age_min),
        age_max=int(age_max),
        kind=raw.get("kind", "symptom"),
        pediatric=bool(raw.get("pediatric", department.get("pediatric", False))),
    )


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
    catalog = Catalog(
        sections=tuple(Section(**s) for s in raw["sections"]),
        departments=departments,
        patient_types=tuple(PatientType(**p) for p in raw["patient_types"]),
        purposes=tuple(Purpose(**p) for p in raw["purposes"]),
        prefectures=tuple(raw["prefectures"]),
    )
    for d in departments:
        catalog._departments[d.id] = d
        catalog._department_names[normalize_name(d.name)] = d
        for c in d.chief_complaints:
            catalog._complaints[c.id] = c
            catalog._complaint_names[(d.id, normalize_name(c.name))] = c
    catalog._patient_types.update({p.id: p for p in catalog.patient_types})
    catalog._purposes.update({p.id: p for p in catalog.purposes})
    return catalog


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    text = resources.files("medipersona.catalog").joinpath("data/catalog.json").read_text(encoding="utf-8")
    return _build(json.loads(text))
