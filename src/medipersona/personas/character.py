"""A finished persona as a character to play: the prompt blocks and the offline context shared by interviews and
message tests.

Everything a model reads is a label (45歳, 女性, 年収500〜600万円): the profile (name included), the other traits,
the patient type with its traits and example, the department, chief complaint and purpose, the six sections, and
the keyword data of the chief complaint (the searches of people of the persona's age band and gender).
"""

from __future__ import annotations

from typing import Any

from medipersona.catalog.labels import PERSONA_SECTIONS, age_label, gender_label, income_label
from medipersona.catalog.service import get_catalog
from medipersona.personas.models import Persona
from medipersona.personas.prompt import (
    age_band_label,
    extras_labels,
    guardian_labels,
    guardian_summary,
    keyword_lines,
    profile_context,
    profile_labels,
)

KEYWORD_LIMIT = 10


def persona_card(persona: Persona) -> dict[str, Any]:
    """Who the persona is, as labels: what a card, a results table or a document header shows."""
    from medipersona.personas.representation import STATUS_LABELS, image_url

    profile = persona.profile or {}
    ptype = get_catalog().patient_type(persona.patient_type_id) if persona.patient_type_id else None
    age = profile.get("age")
    return {
        "id": persona.id,
        "status": persona.status,
        "status_label": STATUS_LABELS.get(persona.status, persona.status),
        "name": persona.name,
        "age": age,
        "age_label": age_label(int(age), int(profile.get("age_months") or 0)) if isinstance(age, int) else "",
        "gender": profile.get("gender"),
        "gender_label": gender_label(profile.get("gender")) or "",
        "patient_type": {"id": ptype.id, "name": ptype.name} if ptype else None,
        "patient_type_name": ptype.name if ptype else "",
        "occupation": str(profile.get("occupation") or ""),
        "family": str(profile.get("family") or ""),
        "income_label": income_label(profile.get("income")) or "",
        "place": "".join(str(profile.get(k) or "") for k in ("prefecture", "municipality")),
        "hobby": str(profile.get("hobby") or ""),
        "guardian": guardian_summary(profile),
        "image_status": persona.image_status,
        "image_url": image_url(persona),
        "url": f"/personas/{persona.id}",
    }


def _keywords(persona: Persona) -> list[dict[str, Any]]:
    return [k for k in (persona.keywords_used or []) if isinstance(k, dict)][:KEYWORD_LIMIT]


def character_blocks(persona: Persona) -> list[str]:
    """Prompt lines describing the persona (headed blocks, blank lines between them). The keyword data is what
    the persona was generated with (``keywords_used``)."""
    catalog = get_catalog()
    department = catalog.department(persona.department_id)
    complaint = catalog.chief_complaint(persona.chief_complaint_id)
    purpose = catalog.purpose(persona.purpose_id)
    complaint_name = complaint.name if complaint else persona.chief_complaint_id
    blocks = ["【プロフィール】", *(f"- {label}: {value}" for label, value in profile_labels(persona.profile or {}).items())]
    guardian = guardian_labels(persona.profile or {})
    if guardian:  # a child (or a dependent elderly patient): the guardian searches, compares and decides
        blocks += ["", "【保護者】（受診先を探し、比較し、決める家族）",
                   *(f"- {label}: {value}" for label, value in guardian.items())]
    extras = extras_labels(persona.extras or {}, persona.extra_fields or [])
    if extras:
        blocks += ["", "【その他の特徴】", *(f"- {label}: {value}" for label, value in extras.items())]
    ptype = catalog.patient_type(persona.patient_type_id) if persona.patient_type_id else None
    if ptype is not None:
        blocks += ["", f"【患者タイプ】{ptype.name}", f"- 特徴: {ptype.description}", f"- 例: {ptype.example}"]
    blocks += ["", "【受診の状況】", f"- 診療科: {department.name if department else persona.department_id}",
               f"- 主訴: {complaint_name}"]
    if purpose is not None:
        blocks.append(f"- このペルソナを作った目的（クリニック側）: {purpose.name}")
    sections = persona.sections or {}
    blocks += ["", "【あなたについての詳しい説明】"]
    blocks += [f"- {spec.label}: {sections[spec.key]}" for spec in PERSONA_SECTIONS if sections.get(spec.key)]
    lines = keyword_lines(_keywords(persona))
    if lines:
        profile = persona.profile or {}
        who = "・".join(x for x in (age_band_label(profile.get("age")), gender_label(profile.get("gender"))) if x)
        blocks += ["", f"【検索キーワードデータ】「{complaint_name}」で検索した人（{who or 'この患者層'}）が前後に検索している言葉:",
                   *lines]
    return blocks


def character_context(persona: Persona) -> dict[str, Any]:
    """The same facts as data, for the offline composers."""
    catalog = get_catalog()
    department = catalog.department(persona.department_id)
    complaint = catalog.chief_complaint(persona.chief_complaint_id)
    purpose = catalog.purpose(persona.purpose_id)
    ptype = catalog.patient_type(persona.patient_type_id) if persona.patient_type_id else None
    profile = persona.profile or {}
    return {
        "name": persona.name,
        "profile": profile_context(profile),
        "guardian": guardian_labels(profile),
        "age": profile.get("age") if isinstance(profile.get("age"), int) else None,
        "gender": profile.get("gender"),
        "extras": extras_labels(persona.extras or {}, persona.extra_fields or []),
        "patient_type": {"id": ptype.id, "name": ptype.name, "description": ptype.description} if ptype else None,
        "department": department.name if department else persona.department_id,
        "chief_complaint": complaint.name if complaint else persona.chief_complaint_id,
        "complaint_kind": complaint.kind if complaint else "symptom",
        "purpose": purpose.name if purpose else "",
        "sections": {spec.key: (persona.sections or {}).get(spec.key, "") for spec in PERSONA_SECTIONS},
        "keywords": [str(k.get("keyword") or "") for k in _keywords(persona) if k.get("keyword")],
    }


# --- speaking as the character (offline composers) -------------------------------------------------------------

# Plain endings and their polite spoken form, longest first (the section texts are written in plain style).
_POLITE_ENDINGS: tuple[tuple[str, str], ...] = (
    ("ている", "ています"), ("ていない", "ていません"), ("である", "です"), ("だった", "だったんです"),
    ("たい", "たいです"), ("ない", "ないんです"), ("だ", "なんです"), ("た", "たんです"),
)
_ALREADY_POLITE = ("です", "ます", "ました", "でした", "ません", "ください", "でしょう")
_VERB_ENDS = set("うくすつぬふむゆるぐずづぶぷい")


def sentences(text: str) -> list[str]:
    """The sentences of a text (each ending in 。, ！ or ？)."""
    out, current = [], ""
    for ch in (text or "").strip():
        current += ch
        if ch in "。！？":
            if current.strip():
                out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip() + "。")
    return out


def spoken(sentence: str, name: str = "") -> str:
    """A plain third-person sentence of a section as the persona would say it: 私, polite ending."""
    text = sentence.strip()
    for subject in ([f"{name}さんは", f"{name}は"] if name else []) + ["彼女は", "彼は", "本人は"]:
        text = text.replace(subject, "私は")
    end = text[-1] if text and text[-1] in "。！？" else "。"
    body = text.rstrip("。！？")
    if not body or body.endswith(_ALREADY_POLITE):
        return body + end
    for plain, polite in _POLITE_ENDINGS:
        if body.endswith(plain):
            return body[: -len(plain)] + polite + end
    if body[-1] in _VERB_ENDS:
        return body + "んです" + end
    return body + "です" + end
