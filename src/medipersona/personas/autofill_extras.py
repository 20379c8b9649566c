"""Auto-fill's fixed extras (座右の銘 … キャッチコピー) and the rule-checked choice every free-text field uses:
only values that pass the rule list of ``personas/consistency.py`` for this person are drawn."""

from __future__ import annotations

import random
from typing import Any

from medipersona.catalog.labels import age_label
from medipersona.personas.autofill_pools import (
    CATCH_TRAITS,
    CHILD_REASONS,
    CONCERNS,
    HEALTH_ACTIONS,
    HOLIDAYS,
    INFANT_REASONS,
    MEDIA,
    MOTTOS,
    PEOPLE,
    REASONS,
    TRAITS,
    life_stage,
)
from medipersona.personas.autofill_tables import CHILD_CATCH, EXTRA_FALLBACKS
from medipersona.personas.consistency import Facts, text_ok


def age_group(age: int) -> str:
    """The pool key of an age (kept for callers; the stages of ``autofill_pools.life_stage``)."""
    return life_stage(age, "student" if age < 19 else "work")


def pick(r: random.Random, facts: Facts, key: str, pool: tuple[str, ...] | list[str], fallback: str) -> str:
    ok = [v for v in pool if text_ok(facts, key, v)]
    return r.choice(ok) if ok else fallback


def pick_many(r: random.Random, facts: Facts, key: str, pool: tuple[str, ...], k: int, fallback: str) -> str:
    ok = [v for v in pool if text_ok(facts, key, v)]
    if not ok:
        return fallback
    return "、".join(r.sample(ok, min(k, len(ok))))


def _kid_word(gender: str) -> str:
    return {"male": "男の子", "female": "女の子"}.get(gender, "子")


def _role(p: dict[str, Any], kind: str, stage: str) -> str:
    occ = str(p["occupation"])
    if kind == "student":
        for word in ("小学生", "中学生", "高校生", "大学院生", "大学生"):
            if word in occ:
                return word
        return "学生"
    if kind in ("retired", "unemployed") or stage == "elderly":
        if p["age"] < 60:
            return "生活者"
        return random.Random(f"{p.get('name')}:{p['age']}").choice(("シニア", f"{p['age'] // 10 * 10}代", "人生の先輩"))
    if kind == "parttime":
        return "パートタイマー" if "パート" in occ else "アルバイト"
    if kind == "homemaker":
        return occ.split("（", 1)[0]
    role = occ.split("（", 1)[0]
    if role.endswith("経営"):
        role += "者"
    return role


def make_catchphrase(r: random.Random, p: dict[str, Any], facts: Facts, stage: str, kind: str) -> str:
    hobby = str(p["hobby"]).split("、")[0]
    if stage in ("infant", "preschool", "child"):
        who = f"{age_label(p['age'], int(p.get('age_months') or 0))}の{_kid_word(p['gender'])}"
        options = [f"{hobby}が大好きな{who}", f"{r.choice(CHILD_CATCH)}{who}"]
        return pick(r, facts, "catchphrase", options, who)
    role = _role(p, kind, stage)
    traits = CATCH_TRAITS.get(stage, CATCH_TRAITS["young"])
    options = [f"{r.choice(traits)}{role}", f"{hobby}が好きな{role}", f"{r.choice(traits)}{role}"]
    return pick(r, facts, "catchphrase", options, role)


# The extras drawn from one stage pool: key -> (pools by life stage, how many values joined with 、; None: one).
# One value is drawn with choice, several with sample: the two use the seed differently, so they stay distinct.
_EXTRA_POOLS: dict[str, tuple[dict[str, tuple[str, ...]], int | None]] = {
    "motto": (MOTTOS, None),
    "concerns": (CONCERNS, 2),
    "media": (MEDIA, 2),
    "personality_keywords": (TRAITS, 3),
    "health_actions": (HEALTH_ACTIONS, None),
    "holiday": (HOLIDAYS, None),
}


def favorite_person(r: random.Random, facts: Facts, stage: str) -> str:
    person = pick(r, facts, "favorite_person", PEOPLE[stage], EXTRA_FALLBACKS["favorite_person"])
    reasons = INFANT_REASONS if stage == "infant" else CHILD_REASONS if stage in ("preschool", "child") else REASONS
    return f"{person}（{r.choice(reasons)}）"


def make_extra(key: str, r: random.Random, p: dict[str, Any], facts: Facts, stage: str, kind: str) -> str:
    if key == "favorite_person":
        return favorite_person(r, facts, stage)
    if key == "catchphrase":
        return make_catchphrase(r, p, facts, stage, kind)
    pools, count = _EXTRA_POOLS[key]  # a KeyError: EXTRA_FIELDS and this module change together
    if count is None:
        return pick(r, facts, key, pools[stage], EXTRA_FALLBACKS[key])
    return pick_many(r, facts, key, pools[stage], count, EXTRA_FALLBACKS[key])
