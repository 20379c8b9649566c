"""A persona as the API and the pages show it: its JSON (``persona_to_api``, the list's ``persona_summary``), its
portrait's URL, the catalog names of its references, and the warnings its profile (or a create request's) gets
from the consistency rules."""

from __future__ import annotations

from typing import Any

from medipersona.catalog.labels import SECTION_KEYS, SECTION_LABELS, SETTING_TYPES
from medipersona.catalog.service import get_catalog
from medipersona.jobs.models import Job
from medipersona.media.service import portrait_url
from medipersona.personas.autofill import autofill
from medipersona.personas.consistency import check_profile
from medipersona.personas.models import Persona, persona_tags
from medipersona.personas.prompt import extras_labels, guardian_labels, profile_labels
from medipersona.personas.schemas import PersonaCreate
from medipersona.records import iso

STATUS_LABELS = {"queued": "待機中", "running": "生成中", "done": "完了", "failed": "失敗"}


def image_url(persona: Persona) -> str | None:
    """The portrait's immutable, content-hashed URL (shared storage: any instance serves it)."""
    return portrait_url(persona.image_digest) if persona.image_status == "done" else None


def _ref(kind: str, ident: str | None) -> dict[str, Any] | None:
    if not ident:
        return None
    catalog = get_catalog()
    obj = {"department": catalog.department, "chief_complaint": catalog.chief_complaint,
           "purpose": catalog.purpose, "patient_type": catalog.patient_type}[kind](ident)
    return {"id": ident, "name": obj.name if obj else ident}


def profile_warnings(persona: Persona) -> list[dict[str, str]]:
    """Contradictions in the profile (rule list of ``personas/consistency.py``): warnings, never errors."""
    complaint = get_catalog().chief_complaint(persona.chief_complaint_id)
    return [v.as_api() for v in check_profile(persona.profile or {}, persona.extras or {}, complaint=complaint)]


def request_warnings(data: PersonaCreate) -> list[dict[str, str]]:
    """The warnings a create request would get (its profile auto-filled as ``new_persona`` does, rules only)."""
    catalog = get_catalog()
    complaint = catalog.chief_complaint(data.chief_complaint)
    given_profile = data.profile.model_dump(exclude_none=True) if data.profile else {}
    given_extras = data.extras.model_dump(exclude_none=True) if data.extras else {}
    profile, extras = autofill(given_profile, given_extras, department_id=data.department,
                               seed=data.seed or 0, complaint=complaint)
    return [v.as_api() for v in check_profile(profile, extras, complaint=complaint)]


def persona_to_api(persona: Persona, job: Job | None = None) -> dict[str, Any]:
    sections = persona.sections or {}
    out: dict[str, Any] = {
        "id": persona.id,
        "status": persona.status,
        "status_label": STATUS_LABELS.get(persona.status, persona.status),
        "owner_id": persona.owner_id,
        "name": persona.name,
        "department": _ref("department", persona.department_id),
        "chief_complaint": _ref("chief_complaint", persona.chief_complaint_id),
        "purpose": _ref("purpose", persona.purpose_id),
        "setting_type": persona.setting_type,
        "setting_type_label": SETTING_TYPES.get(persona.setting_type, persona.setting_type),
        "patient_type": _ref("patient_type", persona.patient_type_id),
        "seed": persona.seed,
        "profile": persona.profile or {},
        "profile_labels": profile_labels(persona.profile or {}),
        "guardian_labels": guardian_labels(persona.profile or {}),
        "demographics": (persona.profile or {}).get("demographics"),
        "warnings": profile_warnings(persona),
        "extras": persona.extras or {},
        "extras_labels": extras_labels(persona.extras or {}),
        "extra_fields": persona.extra_fields or [],
        "sections": {key: sections[key] for key in SECTION_KEYS if sections.get(key)},
        "section_labels": dict(SECTION_LABELS),
        "keywords_used": persona.keywords_used or [],
        "image_status": persona.image_status,
        "image_url": image_url(persona),
        "text_provider": persona.text_provider,
        "text_model": persona.text_model,
        "image_provider": persona.image_provider,
        "image_model": persona.image_model,
        "timings": persona.timings or {},
        "error": persona.error,
        "note": persona.note,
        "tags": persona_tags(persona),
        "stale_sections": list(persona.stale_sections or []),
        "timeline_status": persona.timeline_status,
        "created_at": iso(persona.created_at),
        "updated_at": iso(persona.updated_at),
        "finished_at": iso(persona.finished_at),
        "events_url": f"/api/personas/{persona.id}/events",
        "job": None,
    }
    if job is not None:
        out["job"] = {"id": job.id, "kind": job.kind, "status": job.status, "attempts": job.attempts,
                      "section": (job.payload or {}).get("section")}
    return out


def persona_summary(persona: Persona) -> dict[str, Any]:
    return {
        "id": persona.id,
        "name": persona.name,
        "status": persona.status,
        "department": _ref("department", persona.department_id),
        "chief_complaint": _ref("chief_complaint", persona.chief_complaint_id),
        "patient_type": _ref("patient_type", persona.patient_type_id),
        "gender": persona.gender or None,
        "age": persona.age,
        "tags": persona_tags(persona),
        "note": persona.note,
        "owner_id": persona.owner_id,
        "image_url": image_url(persona),
        "created_at": iso(persona.created_at),
    }
