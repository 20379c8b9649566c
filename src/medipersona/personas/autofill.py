"""Server-side auto-fill of empty profile fields and fixed extras: one household and one life stage, deterministic.

    profile, extras = autofill(profile, extras, department_id="internal_medicine", seed=42,
                               complaint=complaint, shares=shares)

The fields are drawn in order, each from what is already known (given values are kept as they are):
gender and age (→ the chief complaint's sexes and typical age range; with keyword data, weighted by the data's
gender and age-band shares, clipped to those attributes; otherwise the department's rules) → life stage →
family (one household: spouse, children at least 20 years younger, parents for a minor) → occupation → income →
guardian (under 15: a parent; 80+ living with a grown child: that child) → life events → hobby → place → name →
extras (座右の銘 … キャッチコピー). Free-text values are drawn only among those that pass the rule list of
``personas/consistency.py`` for this person, so an auto-filled profile has no violation (property-tested over
10,000 auto-fills per mode in tests/personas/test_autofill_properties.py).

``profile["demographics"]`` records how gender and age were chosen ({"source": "keywords" | "rules" | "given",
"label": ...}); the persona page shows the label. Each field draws from its own ``random.Random`` seeded by
(seed, field): the same inputs and seed always give the same persona.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from medipersona.catalog.labels import AGE_BANDS, EXTRA_FIELDS, INCOME_BANDS, MAX_AGE, age_label
from medipersona.personas.autofill_pools import (
    CATCH_TRAITS,
    CHILD_REASONS,
    CONCERNS,
    HEALTH_ACTIONS,
    HOBBIES,
    HOLIDAYS,
    INFANT_REASONS,
    MEDIA,
    MOTTOS,
    PEOPLE,
    REASONS,
    TRAITS,
    life_stage,
)
from medipersona.personas.consistency import Facts, classify_occupation, read_facts, text_ok

__all__ = ["GIVEN_NAMES", "OCCUPATIONS", "PENSION_INCOMES", "PRESCHOOL", "SURNAMES", "autofill",
           "classify_occupation", "given_names_for", "GUARDIAN_AGE"]

INCOME_ORDER: tuple[str, ...] = tuple(INCOME_BANDS)
PENSION_INCOMES = ("100-200", "200-300", "300-400")
NO_INCOME = "none"
PARTNER_COMPLAINT_WORDS = ("妊娠", "不妊", "避妊", "産後")  # complaints that imply a partner in the household
GUARDIAN_AGE = 15  # under this age the profile gains a guardian
DEPENDENT_AGE = 80  # from this age, living with a grown child, that child may be the guardian


def _band_range(lo: str, hi: str) -> tuple[str, ...]:
    i, j = INCOME_ORDER.index(lo), INCOME_ORDER.index(hi)
    return INCOME_ORDER[i:j + 1]


def _rng(seed: int, name: str) -> random.Random:
    return random.Random(zlib.crc32(f"{seed}:{name}".encode()))


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --------------------------------------------------------------------------------------------- occupations
@dataclass(frozen=True)
class Occupation:
    label: str
    min_age: int
    max_age: int
    incomes: tuple[str, ...]
    kind: str = "work"  # work | parttime | homemaker | retired | student | preschool
    genders: tuple[str, ...] = ("male", "female", "other")


OCCUPATIONS: tuple[Occupation, ...] = (
    Occupation("会社員（事務職）", 22, 64, _band_range("300-400", "500-600")),
    Occupation("会社員（営業職）", 22, 64, _band_range("400-500", "800-1000")),
    Occupation("会社員（技術職）", 22, 64, _band_range("400-500", "800-1000")),
    Occupation("会社員（管理職）", 35, 64, _band_range("700-800", "1000-1500")),
    Occupation("公務員", 22, 64, _band_range("400-500", "800-1000")),
    Occupation("看護師", 22, 64, _band_range("400-500", "600-700")),
    Occupation("小学校教員", 23, 64, _band_range("400-500", "700-800")),
    Occupation("介護職員", 20, 65, _band_range("200-300", "400-500")),
    Occupation("販売スタッフ", 20, 60, _band_range("200-300", "300-400")),
    Occupation("飲食店経営（自営業）", 28, 75, _band_range("300-400", "700-800")),
    Occupation("フリーランス（Webデザイナー）", 23, 60, _band_range("200-300", "600-700")),
    Occupation("ITエンジニア", 22, 60, _band_range("500-600", "1000-1500")),
    Occupation("医療事務", 20, 64, _band_range("200-300", "400-500")),
    Occupation("建設作業員", 20, 64, _band_range("300-400", "500-600")),
    Occupation("会社役員", 40, 75, _band_range("1000-1500", "gte2000")),
    Occupation("パート（スーパー勤務）", 20, 72, ("lt100", "100-200"), "parttime"),
    Occupation("アルバイト（飲食店）", 18, 35, ("lt100", "100-200"), "parttime"),
    Occupation("専業主婦", 22, 80, (NO_INCOME,), "homemaker", ("female",)),
    Occupation("専業主夫", 25, 80, (NO_INCOME,), "homemaker", ("male",)),
    Occupation("嘱託社員（再雇用）", 60, 70, _band_range("200-300", "400-500")),
    Occupation("無職（年金生活）", 65, MAX_AGE, PENSION_INCOMES, "retired"),
    Occupation("無職（家族と同居）", 60, MAX_AGE, (NO_INCOME, "lt100"), "unemployed"),
    Occupation("シルバー人材センター会員（年金生活）", 65, 80, PENSION_INCOMES, "retired"),
)
PRESCHOOL = "未就学児"
STUDENT_LABELS = (
    (6, 12, "学生（小学生）"),
    (13, 15, "学生（中学生）"),
    (16, 18, "学生（高校生）"),
    (19, 22, "学生（大学生）"),
)

# Age brackets by what an occupation text says (first match wins), for a given occupation and no age.
_OCCUPATION_AGES: tuple[tuple[tuple[str, ...], int, int], ...] = (
    (("未就学", "園児", "乳児", "幼児"), 1, 5),
    (("小学",), 6, 12),
    (("中学",), 13, 15),
    (("高校",), 16, 18),
    (("大学院",), 22, 26),
    (("大学", "専門学校", "短大", "学生"), 18, 22),
    (("年金", "定年", "退職"), 65, 85),
    (("役員", "管理職", "部長", "課長"), 40, 62),
    (("嘱託", "再雇用"), 60, 68),
)



def child_occupation(age: int) -> str:
    if age < 6:
        return PRESCHOOL
    for low, high, label in STUDENT_LABELS:
        if low <= age <= high:
            return label
    return "学生（大学生）"


def is_minor_occupation(text: str) -> bool:
    return classify_occupation(text) in ("preschool", "student")


def incomes_for_age(age: int) -> tuple[str, ...]:
    """Plausible bands for a working adult of this age (used when the occupation is free text)."""
    if age < 18:
        return (NO_INCOME,)
    if age < 25:
        return _band_range("lt100", "300-400")
    if age < 35:
        return _band_range("200-300", "600-700")
    if age < 45:
        return _band_range("300-400", "800-1000")
    if age < 60:
        return _band_range("400-500", "1000-1500")
    if age < 65:
        return _band_range("200-300", "700-800")
    return _band_range("100-200", "400-500")


def incomes_for_occupation(text: str, age: int) -> tuple[str, ...]:
    for occ in OCCUPATIONS:
        if occ.label == text:
            return occ.incomes
    kind = classify_occupation(text)
    if kind == "preschool" or (kind == "student" and age < 16):
        return (NO_INCOME,)
    if kind == "student":
        return (NO_INCOME, "lt100")
    if kind == "retired":
        return PENSION_INCOMES
    if kind == "homemaker":
        return (NO_INCOME,)
    if kind == "unemployed":
        return (NO_INCOME, "lt100")
    if kind == "parttime":
        return ("lt100", "100-200", "200-300")
    if kind == "executive":
        return _band_range("800-1000", "gte2000")
    return incomes_for_age(age)


# ----------------------------------------------------------------------------------------------- places
PREFECTURE_CAPITALS: dict[str, tuple[str, ...]] = {
    "北海道": ("札幌市", "旭川市", "函館市"), "青森県": ("青森市", "八戸市"), "岩手県": ("盛岡市",),
    "宮城県": ("仙台市", "石巻市"), "秋田県": ("秋田市",), "山形県": ("山形市",), "福島県": ("福島市", "郡山市"),
    "茨城県": ("水戸市", "つくば市"), "栃木県": ("宇都宮市",), "群馬県": ("前橋市", "高崎市"),
    "埼玉県": ("さいたま市", "川口市", "所沢市", "川越市"), "千葉県": ("千葉市", "船橋市", "柏市", "市川市"),
    "東京都": ("世田谷区", "練馬区", "大田区", "杉並区", "八王子市", "町田市", "江東区"),
    "神奈川県": ("横浜市", "川崎市", "相模原市", "藤沢市"), "新潟県": ("新潟市",), "富山県": ("富山市",),
    "石川県": ("金沢市",), "福井県": ("福井市",), "山梨県": ("甲府市",), "長野県": ("長野市", "松本市"),
    "岐阜県": ("岐阜市",), "静岡県": ("静岡市", "浜松市"), "愛知県": ("名古屋市", "豊田市", "岡崎市"),
    "三重県": ("津市", "四日市市"), "滋賀県": ("大津市",), "京都府": ("京都市", "宇治市"),
    "大阪府": ("大阪市", "堺市", "豊中市", "吹田市"), "兵庫県": ("神戸市", "姫路市", "西宮市"),
    "奈良県": ("奈良市",), "和歌山県": ("和歌山市",), "鳥取県": ("鳥取市",), "島根県": ("松江市",),
    "岡山県": ("岡山市", "倉敷市"), "広島県": ("広島市", "福山市"), "山口県": ("山口市", "下関市"),
    "徳島県": ("徳島市",), "香川県": ("高松市",), "愛媛県": ("松山市",), "高知県": ("高知市",),
    "福岡県": ("福岡市", "北九州市", "久留米市"), "佐賀県": ("佐賀市",), "長崎県": ("長崎市", "佐世保市"),
    "熊本県": ("熊本市",), "大分県": ("大分市",), "宮崎県": ("宮崎市",), "鹿児島県": ("鹿児島市",),
    "沖縄県": ("那覇市", "沖縄市"),
}
# Rough population weights: big prefectures are picked more often.
_PREFECTURE_WEIGHTS = {"東京都": 14, "神奈川県": 9, "大阪府": 9, "愛知県": 7, "埼玉県": 7, "千葉県": 6,
                       "兵庫県": 5, "北海道": 5, "福岡県": 5, "静岡県": 3, "広島県": 3, "京都府": 3, "宮城県": 2}


# ----------------------------------------------------------------------------------------------- names
SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
            "山口", "松本", "井上", "木村", "林", "斎藤", "清水", "山崎", "森", "池田", "橋本", "阿部", "石川",
            "前田", "藤田", "小川", "岡田", "長谷川", "村上", "近藤", "石井", "坂本", "遠藤", "青木", "藤井")
# (born from year, names) newest first
GIVEN_NAMES: dict[str, tuple[tuple[int, tuple[str, ...]], ...]] = {
    "male": (
        (2010, ("蓮", "陽翔", "湊", "蒼", "樹", "悠真", "朝陽", "大和", "碧", "律")),
        (1990, ("翔太", "大翔", "拓海", "颯太", "健太", "大輝", "翔", "優斗", "陸", "海斗")),
        (1970, ("大輔", "拓也", "直樹", "健太郎", "剛", "達也", "和也", "誠", "学", "哲也")),
        (1950, ("浩", "修", "隆", "明", "和彦", "健一", "浩二", "正樹", "茂樹", "博之")),
        (0, ("清", "茂", "博", "実", "勇", "正", "進", "弘", "勝", "三郎")),
    ),
    "female": (
        (2010, ("陽葵", "凛", "結菜", "芽依", "紬", "咲良", "澪", "結愛", "葵", "杏")),
        (1990, ("美咲", "さくら", "陽菜", "結衣", "七海", "優奈", "彩花", "萌", "遥", "真央")),
        (1970, ("愛", "彩", "麻衣", "美穂", "恵", "香織", "智美", "裕美", "舞", "沙織")),
        (1950, ("恵子", "由美子", "真由美", "久美子", "明美", "直美", "裕子", "智子", "陽子", "典子")),
        (0, ("和子", "幸子", "節子", "洋子", "久子", "京子", "美智子", "悦子", "信子", "文子")),
    ),
    "other": (
        (1990, ("遥", "翼", "光", "渚", "葵", "歩")),
        (0, ("薫", "真", "晶", "希", "優", "忍")),
    ),
}


def given_names_for(gender: str, birth_year: int) -> tuple[str, ...]:
    table = GIVEN_NAMES.get(gender) or GIVEN_NAMES["other"]
    for since, names in table:
        if birth_year >= since:
            return names
    return table[-1][1]


def pick_name(rng: random.Random, gender: str, age: int, avoid: set[str], reference_year: int) -> str:
    birth_year = reference_year - age
    givens = given_names_for(gender, birth_year)
    for _ in range(40):
        name = f"{rng.choice(SURNAMES)} {rng.choice(givens)}"
        if name not in avoid and name.replace(" ", "") not in avoid:
            return name
    return f"{rng.choice(SURNAMES)} {rng.choice(givens)}"


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


# ----------------------------------------------------------------------------------------------- events
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


# ---------------------------------------------------------------------------------------- demographics
class Shares(Protocol):
    """Gender and age-band shares of a keyword dataset (``keywords.shares.DemographicShares``)."""

    @property
    def male(self) -> float: ...
    @property
    def female(self) -> float: ...
    @property
    def ages(self) -> dict[str, float]: ...  # band code (catalog.labels.AGE_BANDS) -> share in %
    @property
    def level(self) -> str: ...  # "chief_complaint" | "department"


DEPARTMENT_AGES: dict[str, tuple[int, int]] = {
    "pediatrics": (0, 12),
    "pediatric_dentistry": (1, 12),
    "orthodontics": (8, 40),
    "cosmetic_surgery": (20, 55),
    "cosmetic_dentistry": (20, 60),
    "gynecology": (18, 70),
}
DEFAULT_AGES = (18, 85)
FEMALE_DEPARTMENTS = {"gynecology"}
SOURCE_LABELS = {
    "keywords": "キーワードデータの性別・年代の比率から選びました",
    "rules": "診療科・主訴の想定患者層から選びました",
    "given": "入力された性別・年齢を使いました",
}


def complaint_range(complaint: Any, department_id: str | None) -> tuple[int, int]:
    """The age range auto-fill draws from: the complaint's typical range, else the department's rules."""
    if complaint is not None:
        lo, hi = int(complaint.age_min), int(complaint.age_max)
        if (lo, hi) != (0, 100):
            return lo, min(hi, MAX_AGE)
        if getattr(complaint, "pediatric", False):
            return 0, GUARDIAN_AGE - 1
    return DEPARTMENT_AGES.get(department_id or "", DEFAULT_AGES)


def complaint_sexes(complaint: Any) -> tuple[str, ...]:
    sexes = tuple(s for s in (getattr(complaint, "sexes", ()) or ()) if s in ("male", "female"))
    return sexes or ("male", "female")


def draw_gender(r: random.Random, complaint: Any, department_id: str | None, shares: Shares | None) -> tuple[str, str]:
    """(gender, source)."""
    sexes = complaint_sexes(complaint)
    if len(sexes) == 1:
        return sexes[0], "rules"
    if shares is not None and (shares.male + shares.female) > 0:
        return ("female" if r.random() < shares.female / (shares.male + shares.female) else "male"), "keywords"
    if department_id in FEMALE_DEPARTMENTS:
        return "female", "rules"
    if department_id == "urology":
        return ("male" if r.random() < 0.7 else "female"), "rules"
    return r.choice(("male", "female")), "rules"


def draw_age(r: random.Random, low: int, high: int, shares: Shares | None) -> tuple[int, str]:
    """(age, source): with shares, a band weighted by its share (bands clipped to [low, high]), then an age in it."""
    if shares is not None:
        options = []
        for code, _label, b_lo, b_hi in AGE_BANDS:
            lo, hi = max(low, b_lo), min(high, b_hi)
            weight = float(shares.ages.get(code) or 0.0)
            if lo <= hi and weight > 0:
                options.append((lo, hi, weight))
        if options:
            lo, hi, _w = r.choices(options, weights=[o[2] for o in options])[0]
            return r.randint(lo, hi), "keywords"
    return r.randint(low, high), "rules"


def _age_range(department_id: str | None, occupation: str, complaint: Any = None) -> tuple[int, int]:
    low, high = complaint_range(complaint, department_id)
    if occupation:
        o_low, o_high = 22, 64
        for words, w_low, w_high in _OCCUPATION_AGES:
            if any(w in occupation for w in words):
                o_low, o_high = w_low, w_high
                break
        else:
            for occ in OCCUPATIONS:
                if occ.label == occupation:
                    o_low, o_high = occ.min_age, min(occ.max_age, 80)
                    break
        if max(low, o_low) <= min(high, o_high):
            return max(low, o_low), min(high, o_high)
        return o_low, o_high  # the given occupation wins over the complaint's range (the checker warns)
    return low, high


def _fits(occ: Occupation, age: int, gender: str, income: str | None) -> bool:
    return (occ.min_age <= age <= occ.max_age and gender in occ.genders
            and (income is None or income in occ.incomes))


def choose_occupation(rng: random.Random, age: int, gender: str, income: str | None, married: bool = True) -> str:
    if age < 19 or (age <= 22 and income in (None, NO_INCOME) and rng.random() < 0.7):
        return child_occupation(age)
    options = [o for o in OCCUPATIONS if _fits(o, age, gender, income) and (married or o.kind != "homemaker")]
    if not options and income is not None:
        # e.g. a high income at 80: someone still running a company rather than a pensioner
        options = [o for o in OCCUPATIONS if income in o.incomes and gender in o.genders and o.min_age <= age
                   and (married or o.kind != "homemaker")]
    if not options:
        options = [o for o in OCCUPATIONS if _fits(o, age, gender, None) and (married or o.kind != "homemaker")]
    if not options:  # pragma: no cover - every age >= 19 has one
        return "会社員（事務職）"
    if age >= 65:
        # Most people over 65 live on a pension; keep some working.
        retired = [o for o in options if o.kind == "retired"]
        if retired and rng.random() < 0.7:
            options = retired
    return rng.choice(options).label


# ------------------------------------------------------------------------------------------------ guardian
GUARDIAN_CONCERNS: dict[str, tuple[str, ...]] = {
    "infant": ("夜泣きで寝不足が続いている", "仕事復帰と保育園探し", "離乳食の進め方", "発達が順調かどうか",
               "予防接種のスケジュール管理", "子どもが熱を出したときの仕事の調整"),
    "preschool": ("保育園の送迎と仕事の両立", "子どもの好き嫌い", "子どもがよく風邪をひく", "言葉の発達",
                  "きょうだいげんか", "子どもが熱を出したときの仕事の調整"),
    "child": ("習い事の費用", "ゲームやスマホの時間のルール", "学校生活の様子", "子どもの視力", "宿題を見る時間がない",
              "共働きで通院の時間がとりにくい"),
    "teen": ("高校受験", "スマホの使い方", "反抗期への接し方", "部活と勉強の両立", "塾の費用"),
    "elderly": ("親の通院の付き添いと仕事の両立", "親の物忘れ", "介護サービスの利用", "親の転倒", "親の食事と服薬の管理"),
}
GUARDIAN_MEDIA: tuple[str, ...] = ("子育て情報アプリ", "地域の子育てサイト", "ママ・パパ向けのSNSアカウント",
                                   "病院の予約アプリ", "自治体の子育て情報メール")


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
        extra_media = ("介護情報サイト", "自治体の高齢者向け情報")
    else:
        return None
    occupation = choose_occupation(rng, g_age, g_gender, None, married=True)
    if classify_occupation(occupation) == "student":
        occupation = "会社員（事務職）"
    g_stage = life_stage(g_age, classify_occupation(occupation))
    media = rng.sample(MEDIA[g_stage], 2) + [rng.choice(extra_media)]
    return {"relation": rel, "age": g_age, "occupation": occupation, "media": "、".join(media),
            "concerns": "、".join(rng.sample(concerns_pool, 2))}


# ----------------------------------------------------------------------------------------------- extras
def age_group(age: int) -> str:
    """The pool key of an age (kept for callers; the stages of ``autofill_pools.life_stage``)."""
    return life_stage(age, "student" if age < 19 else "work")


def _pick(r: random.Random, facts: Facts, key: str, pool: tuple[str, ...] | list[str], fallback: str) -> str:
    ok = [v for v in pool if text_ok(facts, key, v)]
    return r.choice(ok) if ok else fallback


def _pick_many(r: random.Random, facts: Facts, key: str, pool: tuple[str, ...], k: int, fallback: str) -> str:
    ok = [v for v in pool if text_ok(facts, key, v)]
    if not ok:
        return fallback
    return "、".join(r.sample(ok, min(k, len(ok))))


def _kid_word(gender: str) -> str:
    return {"male": "男の子", "female": "女の子"}.get(gender, "子")


CHILD_CATCH = ("よく笑う", "元気いっぱいの", "好奇心いっぱいの", "ちょっぴり人見知りの", "甘えん坊の", "がんばり屋の",
               "マイペースな", "恥ずかしがり屋の", "おしゃべりな", "のんびり屋の")


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
        return _pick(r, facts, "catchphrase", options, who)
    role = _role(p, kind, stage)
    traits = CATCH_TRAITS.get(stage, CATCH_TRAITS["young"])
    options = [f"{r.choice(traits)}{role}", f"{hobby}が好きな{role}", f"{r.choice(traits)}{role}"]
    return _pick(r, facts, "catchphrase", options, role)


def make_extra(key: str, r: random.Random, p: dict[str, Any], facts: Facts, stage: str, kind: str) -> str:
    if key == "motto":
        return _pick(r, facts, key, MOTTOS[stage], "一日一日を大切に")
    if key == "concerns":
        return _pick_many(r, facts, key, CONCERNS[stage], 2, "季節の変わり目の体調")
    if key == "favorite_person":
        person = _pick(r, facts, key, PEOPLE[stage], "家族")
        reasons = INFANT_REASONS if stage == "infant" else CHILD_REASONS if stage in ("preschool", "child") else REASONS
        return f"{person}（{r.choice(reasons)}）"
    if key == "media":
        return _pick_many(r, facts, key, MEDIA[stage], 2, "テレビ")
    if key == "personality_keywords":
        return _pick_many(r, facts, key, TRAITS[stage], 3, "穏やか")
    if key == "health_actions":
        return _pick(r, facts, key, HEALTH_ACTIONS[stage], "規則正しい生活を心がけている")
    if key == "holiday":
        return _pick(r, facts, key, HOLIDAYS[stage], "家でゆっくり過ごす")
    if key == "catchphrase":
        return make_catchphrase(r, p, facts, stage, kind)
    raise KeyError(key)  # pragma: no cover - EXTRA_FIELDS and this function change together


# ----------------------------------------------------------------------------------------------- main
def autofill(
    profile: dict[str, Any] | None,
    extras: dict[str, Any] | None = None,
    *,
    department_id: str | None = None,
    seed: int = 0,
    avoid_names: list[str] | tuple[str, ...] | set[str] = (),
    reference_year: int | None = None,
    complaint: Any = None,
    shares: Shares | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return (profile, extras) with every empty field filled consistently with the given ones.

    ``complaint``: the catalog ``ChiefComplaint`` (its sexes and typical ages bound the draw); ``shares``: the
    gender and age-band shares of its keyword data (None: the department's rules)."""
    p = dict(profile or {})
    ex = {k: v for k, v in (extras or {}).items() if not _empty(v)}
    year = reference_year or datetime.now(UTC).year
    sources: set[str] = set()

    gender = str(p.get("gender") or "")
    if _empty(gender):
        gender, source = draw_gender(_rng(seed, "gender"), complaint, department_id, shares)
        sources.add(source)
    p["gender"] = gender

    occupation_given = "" if _empty(p.get("occupation")) else str(p["occupation"]).strip()
    income_given = None if _empty(p.get("income")) else str(p["income"])

    age = p.get("age")
    if age is None or age == "":
        r = _rng(seed, "age")
        low, high = _age_range(department_id, occupation_given, complaint)
        if income_given and income_given != NO_INCOME and not occupation_given:
            # someone with an income of their own is an adult with an occupation paying that much
            fitting = [o for o in OCCUPATIONS if income_given in o.incomes and gender in o.genders]
            if fitting:
                f_low, f_high = min(o.min_age for o in fitting), max(o.max_age for o in fitting)
                low, high = max(low, f_low), min(high, f_high)
                if low > high:
                    low, high = f_low, min(f_high, 80)
            low = max(low, 20)
            high = max(high, low)
        age, source = draw_age(r, low, high, shares if not occupation_given else None)
        sources.add(source)
    age = int(age)
    p["age"] = age
    if _empty(p.get("age_months")):
        p["age_months"] = _rng(seed, "age_months").randint(1, 11) if age == 0 else (
            _rng(seed, "age_months").randint(0, 11) if age < 3 else 0)
    source = "keywords" if "keywords" in sources else ("rules" if sources else "given")
    p["demographics"] = {"source": source, "label": SOURCE_LABELS[source]}
    if source == "keywords" and shares is not None:
        p["demographics"]["level"] = shares.level

    # one household: the family first (a homemaker is married, a minor lives with parents), then the occupation
    family_given = not _empty(p.get("family"))
    pre_kind = classify_occupation(occupation_given) if occupation_given else (
        "student" if age < 19 else "work")
    if family_given:
        family = _family_from_text(str(p["family"]), age)
    else:
        partnered = complaint is not None and age >= 18 and any(
            w in str(getattr(complaint, "name", "")) for w in PARTNER_COMPLAINT_WORDS)
        family = make_family(_rng(seed, "family"), age, gender, pre_kind, partnered)
        p["family"] = family.text

    if occupation_given:
        occupation = occupation_given
    else:
        occupation = choose_occupation(_rng(seed, "occupation"), age, gender, income_given, married=family.married)
    p["occupation"] = occupation
    kind = classify_occupation(occupation)

    if income_given is None:
        if age < 18 or kind in ("preschool",):
            p["income"] = NO_INCOME
        else:
            p["income"] = _rng(seed, "income").choice(incomes_for_occupation(occupation, age))
    else:
        p["income"] = income_given

    stage = life_stage(age, kind)
    if "guardian" not in p or not p.get("guardian"):
        guardian = make_guardian(_rng(seed, "guardian"), age, family, stage)
        if guardian is not None:
            p["guardian"] = guardian
        else:
            p.pop("guardian", None)

    facts = read_facts(p)
    if _empty(p.get("life_events")):
        p["life_events"] = _pick(_rng(seed, "life_events"), facts, "life_events",
                                 life_event_candidates(age, family, kind), "生活習慣を見直し始めた")
    if _empty(p.get("hobby")):
        p["hobby"] = _pick(_rng(seed, "hobby"), facts, "hobby", HOBBIES[stage], "散歩")

    if _empty(p.get("prefecture")):
        r = _rng(seed, "prefecture")
        names = list(PREFECTURE_CAPITALS)
        p["prefecture"] = r.choices(names, weights=[_PREFECTURE_WEIGHTS.get(n, 1) for n in names])[0]
        if _empty(p.get("municipality")):
            p["municipality"] = r.choice(PREFECTURE_CAPITALS[p["prefecture"]])
    elif _empty(p.get("municipality")):
        cities = PREFECTURE_CAPITALS.get(str(p["prefecture"]))
        if cities:
            p["municipality"] = _rng(seed, "municipality").choice(cities)
        else:
            p["municipality"] = ""

    if _empty(p.get("name")):
        p["name"] = pick_name(_rng(seed, "name"), gender, age, set(avoid_names), year)

    for spec in EXTRA_FIELDS:
        if spec.key in ex:
            continue
        ex[spec.key] = make_extra(spec.key, _rng(seed, f"extra:{spec.key}"), p, facts, stage, kind)
    return p, ex


def _family_from_text(text: str, age: int = 40) -> Family:
    """A hand-written family: its spouse, children and (for a minor) parents with their ages when given."""
    facts = read_facts({"family": text, "age": 40})
    parents = {rel: int(a) for rel, a in re.findall(r"(父|母)（(\d+)歳）", text)}
    for rel, gap in (("母", 30), ("父", 32)):
        if rel not in parents and (rel in text or "両親" in text) and age < 18:
            parents[rel] = age + gap
    return Family(text, married=facts.spouse, children=list(facts.children), lives_with_parents=facts.parents,
                  parents=parents)
