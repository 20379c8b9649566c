from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response

from medipersona.catalog.labels import (
    AGE_BANDS,
    EXTRA_FIELDS,
    GENDERS,
    INCOME_BANDS,
    PERSONA_SECTIONS,
    PROFILE_FIELDS,
    SETTING_TYPES,
)
from medipersona.catalog.service import get_catalog
from medipersona.deps import CurrentUser

router = APIRouter(prefix="/api", tags=["catalog"])


def catalog_payload(sections: list[str] | None = None, *, with_data: bool = False) -> dict:
    """The catalog as the API and the wizard see it (hidden entries left out); `sections` limits the departments
    shown; ``with_data`` (the wizard): complaints with keyword data first, each with ``has_data``."""
    data = get_catalog().as_api(with_data=with_data)
    if sections is not None:
        data["departments"] = [d for d in data["departments"] if d["section"] in sections]
    data["labels"] = {
        "genders": GENDERS,
        "income_bands": INCOME_BANDS,
        "setting_types": SETTING_TYPES,
        "profile_fields": [{"key": f.key, "label": f.label, "placeholder": f.placeholder} for f in PROFILE_FIELDS],
        "extra_fields": [{"key": f.key, "label": f.label} for f in EXTRA_FIELDS],
        "persona_sections": [
            {"key": s.key, "label": s.label, "default_length": s.default_length} for s in PERSONA_SECTIONS
        ],
        "age_bands": [{"code": c, "label": label} for c, label, _lo, _hi in AGE_BANDS],
    }
    return data


def _catalog_json(sections: tuple[str, ...] | None) -> bytes:
    # Serialised once per catalog snapshot and section combination (a change makes a new snapshot).
    memo = get_catalog()._memo
    key = ("api", sections)
    body = memo.get(key)
    if body is None:
        body = memo[key] = json.dumps(catalog_payload(list(sections) if sections is not None else None),
                                      ensure_ascii=False, separators=(",", ":")).encode()
    return body


@router.get("/catalog")
async def read_catalog(user: CurrentUser, all_sections: bool = False) -> Response:
    """Departments (limited to the user's sections unless an admin asks for all), complaints, types, purposes."""
    sections = None if (all_sections and user.is_admin) else tuple(user.sections)
    return Response(_catalog_json(sections), media_type="application/json")
