"""What the offline persona text knows about the persona: the generation context read into facts (the
``{field}`` values of the templates) and the template tags excluded for this person (child or adult, worker,
household, the kind of chief complaint ...)."""

from __future__ import annotations

import random
from typing import Any

from medipersona.personas.offline_text_pools import (
    GUARDIAN_WORDS,
    KIND_TAG_SET,
    KIND_TAGS,
    SERVICE_WORDS,
    TYPE_TRAITS,
)
from medipersona.providers.composers import parse_age

EXTRA_KEYS = ("motto", "concerns", "favorite_person", "media", "personality_keywords", "health_actions", "holiday")


def text_of(value: Any) -> str:
    """A context value as one line of text (lists joined with 、)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value if v)
    return str(value).strip()


def _first_sentence(text: str) -> str:
    return text.split("。")[0].strip()


def pick_keywords(keywords: list[dict[str, Any]], rng: random.Random) -> list[str]:
    """2-4 keywords (from the 6 largest by volume), seeded, in volume order."""
    names = []
    seen = set()
    for row in sorted(keywords or [], key=lambda r: -(r.get("volume") or 0)):
        kw = text_of(row.get("keyword"))
        if kw and kw not in seen:
            seen.add(kw)
            names.append(kw)
        if len(names) >= 6:
            break
    if len(names) <= 2:
        return names
    count = rng.randint(2, min(4, len(names)))
    chosen = set(rng.sample(range(len(names)), count))
    return [n for i, n in enumerate(names) if i in chosen]


def _who(age: str, gender: str, is_child: bool) -> str:
    """45歳の女性 / 5歳の男の子 / 45歳 (gender other or unknown)."""
    if is_child:
        noun = {"男性": "男の子", "male": "男の子", "女性": "女の子", "female": "女の子"}.get(gender, "子ども")
    else:
        noun = {"男性": "男性", "male": "男性", "女性": "女性", "female": "女性"}.get(gender, "")
    if not age:
        return ""
    return f"{age}の{noun}" if noun else age


def read_facts(context: dict[str, Any], rng: random.Random) -> tuple[dict[str, str], set[str]]:
    """(facts, excluded tags): the known, non-empty facts by template field, and the tags that do not fit.

    Draws from ``rng`` (the keywords), so it runs at the same point of the seeded sequence as before."""
    profile = context.get("profile") or {}
    pt = context.get("patient_type") or {}
    extras = context.get("extras") or {}
    complaint = text_of(context.get("chief_complaint"))
    age_years = parse_age(profile.get("age"))
    occupation = text_of(profile.get("occupation"))
    guardian = context.get("guardian") or {}
    relation = text_of(guardian.get("続柄"))
    is_child = age_years is not None and (age_years < 13 or (age_years < 15 and bool(relation)))
    is_student = any(w in occupation for w in ("学生", "生徒", "園児", "児童", "未就学")) or (
        age_years is not None and age_years < 18)
    facts = {
        "complaint": complaint,
        "department": text_of(context.get("department")),
        "age": text_of(profile.get("age")),
        "who": _who(text_of(profile.get("age")), text_of(profile.get("gender")), is_child),
        "occupation": occupation,
        "family": text_of(profile.get("family")),
        "hobby": text_of(profile.get("hobby")),
        "life_events": text_of(profile.get("life_events")),
        "income": text_of(profile.get("income")),
        "place": text_of(profile.get("prefecture")) + text_of(profile.get("municipality")),
        "pt_name": text_of(pt.get("name")),
        **{key: text_of(extras.get(key)) for key in EXTRA_KEYS},
        "pt_trait": _first_sentence(text_of(pt.get("description"))),
        "guardian": GUARDIAN_WORDS.get(relation, relation) or "保護者",
        "motto_plain": text_of(extras.get("motto")).replace("（家庭の方針）", ""),
        "child_complaint": complaint if complaint.startswith(("子ども", "小児", "乳幼児", "乳歯")) else f"子どもの{complaint}",
        "g_media": text_of(guardian.get("よく見るメディア/SNS")),
    }
    traits = TYPE_TRAITS.get(facts["pt_name"])
    if traits:
        facts["pt_value"], facts["pt_demand"], facts["pt_review"] = traits
        facts["pt_reason"] = f"{facts['pt_name']}らしく、{traits[0]}"
    elif facts["pt_trait"]:
        facts["pt_value"] = facts["pt_trait"] + "。"
    for i, kw in enumerate(pick_keywords(context.get("keywords") or [], rng), start=1):
        facts[f"kw{i}"] = kw
    kind_tag = KIND_TAGS.get(text_of(context.get("complaint_kind")))
    if kind_tag is None:
        kind_tag = "service" if any(w in complaint for w in SERVICE_WORDS) else "symptom"
    excluded = KIND_TAG_SET - {kind_tag}
    excluded |= {"noproc"} if kind_tag == "procedure" else set()
    excluded |= {"nocheck"} if kind_tag == "checkup" else set()
    if "一人暮らし" in facts["family"] or "単身" in facts["family"]:
        excluded |= {"household"}
    if is_child or not relation:
        excluded |= {"dependent"}
    kind_of_work = _work_kind(occupation)
    excluded |= {"worker"} if kind_of_work != "work" else {"nonworker"}
    if is_child:
        excluded |= {"adult", "student", "self"}
    else:
        excluded |= {"child"}
        excluded |= {"adult"} if is_student else {"student"}
    return {k: v for k, v in facts.items() if v}, excluded


def _work_kind(occupation: str) -> str:
    """work (goes to work) | other (pupil, student, retiree, homemaker, no work): for the worker/nonworker tags."""
    if any(w in occupation for w in ("学生", "生徒", "未就学", "園児", "年金", "退職", "主婦", "主夫", "無職")):
        return "other"
    return "work"
