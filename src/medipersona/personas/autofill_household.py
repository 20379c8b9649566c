"""Auto-fill's household rules: one household for the person (spouse, children at least 20 years younger,
parents for a minor, a grown child living with someone of 80+), the guardian it implies, and the life events
that fit that household."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from medipersona.personas.autofill_occupation import choose_occupation
from medipersona.personas.autofill_pools import MEDIA, life_stage
from medipersona.personas.autofill_tables import (
    DEPENDENT_AGE,
    ELDERLY_GUARDIAN_MEDIA,
    GUARDIAN_AGE,
    GUARDIAN_CONCERNS,
    GUARDIAN_MEDIA,
)
from medipersona.personas.consistency import classify_occupation, read_facts


# ----------------------------------------------------------------------------------------------- family
@dataclass
class Family:
    text: str
    married: bool = False
    children: list[int] = field(default_factory=list)  # ages
    lives_with_parents: bool = False
    household: int = 1
    parents: dict[str, int] = field(default_factory=dict)  # a minor's parents: {"父": 38, "母": 35}
    carer: tuple[str, int] | None = None  # an elderly person's grown child living with them: ("長女", 55)


def _spouse(gender: str) -> str:
    return {"male": "妻", "female": "夫"}.get(gender, "パートナー")


def _child_word(rng: random.Random, sexes: list[str]) -> str:
    sex = rng.choice(("男", "女"))
    nth = sum(1 for s in sexes if s == sex)
    sexes.append(sex)
    return ("長", "次", "三")[min(nth, 2)] + sex


def make_family(rng: random.Random, age: int, gender: str, occupation_kind: str, partnered: bool = False) -> Family:
    """One household for this age. ``partnered``: the complaint implies a partner (妊娠, 不妊)."""
    if age < 18:
        father, mother = age + rng.randint(27, 38), age + rng.randint(25, 36)
        parents = {"父": father, "母": mother}
        if rng.random() < 0.1:
            parents = {"母": mother} if rng.random() < 0.8 else {"父": father}
        members = [f"{rel}（{a}歳）" for rel, a in parents.items()]
        if rng.random() < 0.55:
            diff = rng.randint(1, 5)
            if rng.random() < 0.5 and age - diff >= 0:
                members.append(f"{rng.choice(('弟', '妹'))}（{age - diff}歳）")
            else:
                members.append(f"{rng.choice(('兄', '姉'))}（{age + diff}歳）")
        return Family("、".join(members) + f"と{len(members) + 1}人暮らし", lives_with_parents=True,
                      household=len(members) + 1, parents=parents)
    if age <= 22 and occupation_kind in ("student", "work", "parttime") and not partnered:
        if rng.random() < 0.5:
            return Family("一人暮らし（実家は県外）")
        return Family("両親と3人暮らし", lives_with_parents=True, household=3)
    if age >= DEPENDENT_AGE and not partnered and rng.random() < 0.45:
        rel = rng.choice(("長男", "長女", "次女", "次男"))
        carer_age = age - rng.randint(25, 35)
        widowed = occupation_kind != "homemaker" and rng.random() < 0.7  # a homemaker lives with a spouse
        text = f"{rel}（{carer_age}歳）の家族と同居" + ("（配偶者とは死別）" if widowed else "")
        if not widowed:
            text = f"{_spouse(gender)}、" + text
        return Family(text, married=not widowed, children=[carer_age], household=4, carer=(rel, carer_age))
    married_p = {True: 0.45, False: 0.75}[age < 35] if age < 60 else 0.7
    married = partnered or occupation_kind == "homemaker" or rng.random() < married_p
    spouse = _spouse(gender)
    if not married:
        if age >= 60 and rng.random() < 0.5:
            return Family("一人暮らし（配偶者とは死別、子どもは独立）", children=[age - rng.randint(25, 35)])
        if 23 <= age <= 40 and rng.random() < 0.25:
            return Family("両親と3人暮らし", lives_with_parents=True, household=3)
        return Family("一人暮らし")
    max_child_age = age - 22
    has_children = max_child_age >= 0 and rng.random() < (0.5 if age < 35 else 0.8)
    children: list[int] = []
    if has_children:
        count = rng.choice((1, 1, 2, 2, 3)) if age >= 30 else 1
        # children were born when this person was 22-42
        eldest = rng.randint(max(0, age - 42), max_child_age)
        children = sorted({max(0, eldest - i * rng.randint(1, 4)) for i in range(count)}, reverse=True)
    at_home = [c for c in children if c < 23]
    sexes: list[str] = []
    words = [f"{_child_word(rng, sexes)}（{c}歳）" for c in at_home]
    household = 2 + len(at_home)
    if at_home:
        text = f"{spouse}、" + "、".join(words) + f"と{household}人暮らし"
    else:
        text = f"{spouse}と2人暮らし"
        if children:
            text += "（子どもは独立）"
    return Family(text, married=True, children=children, household=household)


def family_from_text(text: str, age: int = 40) -> Family:
    """A hand-written family: its spouse, children and (for a minor) parents with their ages when given."""
    facts = read_facts({"family": text, "age": 40})
    parents = {rel: int(a) for rel, a in re.findall(r"(父|母)（(\d+)歳）", text)}
    for rel, gap in (("母", 30), ("父", 32)):
        if rel not in parents and (rel in text or "両親" in text) and age < 18:
            parents[rel] = age + gap
    return Family(text, married=facts.spouse, children=list(facts.children), lives_with_parents=facts.parents,
                  parents=parents)


# ------------------------------------------------------------------------------------------------ guardian
def make_guardian(rng: random.Random, age: int, family: Family, child_stage: str) -> dict[str, Any] | None:
    if age < GUARDIAN_AGE and family.parents:
        rel = "母" if "母" in family.parents and (rng.random() < 0.75 or "父" not in family.parents) else "父"
        g_age, g_gender = family.parents[rel], ("female" if rel == "母" else "male")
        concerns_pool = GUARDIAN_CONCERNS["teen" if age >= 13 else child_stage]
        extra_media = GUARDIAN_MEDIA
    elif age >= DEPENDENT_AGE and family.carer is not None:
        rel, g_age = family.carer
        g_gender = "female" if rel.endswith("女") else "male"
        concerns_pool = GUARDIAN_CONCERNS["elderly"]
        extra_media = ELDERLY_GUARDIAN_MEDIA
    else:
        return None
    occupation = choose_occupation(rng, g_age, g_gender, None, married=True)
    if classify_occupation(occupation) == "student":
        occupation = "会社員（事務職）"
    g_stage = life_stage(g_age, classify_occupation(occupation))
    media = rng.sample(MEDIA[g_stage], 2) + [rng.choice(extra_media)]
    return {"relation": rel, "age": g_age, "occupation": occupation, "media": "、".join(media),
            "concerns": "、".join(rng.sample(concerns_pool, 2))}


# ----------------------------------------------------------------------------------------------- events
# The life events are rules rather than a table: each fits only some ages, occupations and households.
def life_event_candidates(age: int, family: Family, occupation_kind: str) -> list[str]:
    small = [c for c in family.children if c <= 1]
    school_starter = [c for c in family.children if 6 <= c <= 7]
    grown = [c for c in family.children if c >= 22]
    out: list[str] = []
    if age < 1:
        out += ["寝返りができるようになった", "離乳食が始まった", "首がすわった", "初めての予防接種を受けた"]
    elif age < 3:
        out += ["歩けるようになった", "保育園に入園した", "卒乳した", "言葉が増えてきた"]
    elif age < 6:
        out += ["おむつが外れた", "自転車の補助輪が外れた", "ひらがなが読めるようになった"]
        out += ["幼稚園に入園した"] if age <= 4 else ["保育園の年長クラスになった"]
    elif age < 13:
        out += ["新しい習い事を始めた", "クラス替えで新しい友だちができた", "スイミングで進級した"]
        if age <= 7:
            out += ["小学校に入学した"]
        if age == 12:
            out += ["中学校に入学した"]
    elif age < 19 and occupation_kind == "student":
        out += ["部活動で大会に出場した"]
        if age <= 13:
            out += ["中学校に入学した"]
        if 14 <= age <= 15:
            out += ["高校受験を控えている"]
        if 15 <= age <= 16:
            out += ["高校に入学した"]
        if 16 <= age:
            out += ["大学受験に向けて塾に通い始めた"]
    elif age < 26 and occupation_kind == "student":
        out += ["大学に入学し生活リズムが変わった", "就職活動が始まった", "アルバイトを始めた", "一人暮らしを始めた"]
    else:
        if age < 40:
            out += ["引っ越しをした"]
            if occupation_kind in ("work", "parttime", "executive"):
                out += ["転職して通勤時間が長くなった"]
        if family.married and age < 40:
            out += ["昨年結婚した"]
        if small:
            out += ["第一子が誕生した" if len(family.children) == 1 else "第二子が誕生した"]
            if occupation_kind in ("work", "executive"):
                out += ["育児休業から職場復帰した"]
        if school_starter:
            out += ["子どもが小学校に入学した"]
        if 30 <= age < 60 and occupation_kind == "work":
            out += ["管理職に昇進した", "仕事の責任が増えて残業が多くなった"]
        if 35 <= age < 60:
            out += ["マイホームを購入した", "健康診断で再検査を勧められた"]
        if 45 <= age < 70:
            out += ["親の介護が始まった"]
        if grown:
            out += ["子どもが就職して独立した"]
        if grown and age >= 50:
            out += ["孫が生まれた"]
        if age >= 60 and occupation_kind == "retired":
            out += ["定年退職した"]
        elif age >= 60 and occupation_kind in ("work", "parttime"):
            out += ["再雇用で働き方が変わった"]
        if age >= 65:
            out += ["地域のサークル活動に参加し始めた", "運転免許の返納を考え始めた"]
        if age >= 80:
            out += ["足腰が弱り、外出に付き添いが必要になった"]
        out += ["生活習慣を見直し始めた"]
    return out
