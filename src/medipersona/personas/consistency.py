"""The written rule list of a believable profile, and the checker.

    warnings = check_profile(profile, extras, complaint=complaint)   # [] when the profile is consistent

One source of truth, used three ways: auto-fill draws only values that pass (``text_ok``), the API returns the
violations of a hand-entered profile as warnings (not errors: a person may describe an unusual life), and the
property tests assert that 10,000 auto-fills per mode give none.

The rules (``RULES`` holds the id, the Japanese statement shown to users, and the check):

- ``complaint_sex``: the gender is one the chief complaint applies to (妊娠糖尿病 → 女性).
- ``complaint_age``: the age is within the chief complaint's typical range (白内障 45歳〜).
- ``spouse``: the traits mention a spouse (夫婦で, 妻と, 夫と …) only when the family has one.
- ``alone_family``: someone living alone has no family outing in the traits (家族で …).
- ``childcare``: child-rearing (子育て, 子どもの習い事, 教育費 …) only with a child under 18 at home; never in a
  child's own traits.
- ``grandchild``: grandchildren (孫) only at 45+ with children.
- ``school``: 受験, 部活, 宿題, 定期テスト belong to a pupil aged 10–19 (another person's, 子どもの受験, is fine).
- ``university``: 就職活動, 大学に入学, 卒業論文 belong to a student aged 17–25.
- ``young_child_school``: no 幼稚園 before 3 or after 6, no 学校/習い事 before 6 (school words for a preschooler).
- ``work_words``: 残業, 昇進, 出張, 転職, 職場 … only for someone who works (not a child, pupil, student,
  retiree, homemaker or someone without work).
- ``luxury_income``: costly pastimes (ゴルフ, 海外旅行, クルーズ, ワイン …) not on an income under 3M yen, unless
  a homemaker or retiree in a couple.
- ``life_events_age``: 定年退職 at 60+, 結婚 at 18+, 運転免許の返納 at 65+, 親の介護 at 35+, 第一子/第二子 誕生
  with a child of 0–1 in the family, 子どもが就職 with a grown child, 子どもの受験 with a child of 10–18,
  a parent's 夜泣き/離乳食 with a child of 0–3, 婚活/結婚のタイミング without a spouse.
- ``homemaker_spouse``: a homemaker (専業主婦/主夫) lives with a spouse.
- ``occupation_age``: 未就学児 under 7, 小学生 6–12, 中学生 12–15, 高校生 15–19, 年金生活 55+.
- ``minor_income``: under 18, no income beyond 年収100万円未満 (a pupil's part-time job).
- ``child_family``: a person under 18 lives with a parent or guardian.
- ``guardian``: under 15, the profile names a guardian (relation, age at least 16 years older, 18+).
- ``child_media``: under 13, no adult social media or news (Instagram, TikTok, X, Facebook, 新聞 …).
- ``child_self_research``: under 13, the child's own traits do not research, compare or read reviews
  (the guardian does).
- ``child_catchphrase``: under 13, the catchphrase speaks of a child, not of a worker or a veteran.
- ``grammar``: no 「〜こと好き」 (it is 「〜ことが好き」).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from medipersona.catalog.labels import GENDERS

# The free-text fields the text rules read (profile fields, then extras); the family text itself is a fact.
TEXT_PROFILE_FIELDS = ("hobby", "life_events")
TEXT_EXTRA_FIELDS = ("motto", "concerns", "favorite_person", "media", "personality_keywords", "health_actions",
                     "holiday", "catchphrase")
FIELD_LABELS = {"hobby": "趣味", "life_events": "ライフイベント", "motto": "座右の銘", "concerns": "最近の悩み/関心",
                "favorite_person": "好きな有名人/尊敬する人物", "media": "よく見るメディア/SNS",
                "personality_keywords": "性格キーワード", "health_actions": "最近した健康に関する行動",
                "holiday": "休日の過ごし方", "catchphrase": "キャッチコピー", "family": "家族構成",
                "occupation": "職業", "income": "年収", "age": "年齢", "gender": "性別", "guardian": "保護者"}

LOW_INCOMES = ("none", "lt100", "100-200", "200-300")
MINOR_INCOMES = ("none", "lt100")


@dataclass(frozen=True)
class Violation:
    rule: str
    field: str
    message: str

    def as_api(self) -> dict[str, str]:
        return {"rule": self.rule, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about a person, read once from the profile."""

    age: int | None
    gender: str | None
    occupation: str
    kind: str  # classify_occupation
    income: str | None
    family: str
    alone: bool
    spouse: bool
    children: tuple[int, ...] = ()  # ages of children named in the family
    grown_children: bool = False  # 子どもは独立, or a child aged 18+
    parents: bool = False


def classify_occupation(text: str) -> str:
    """preschool | student | retired | homemaker | unemployed | parttime | executive | work (for free text)."""
    t = text or ""
    if any(w in t for w in ("未就学", "園児", "乳児", "幼児")):
        return "preschool"
    if any(w in t for w in ("学生", "生徒", "小学", "中学", "高校", "大学", "専門学校", "短大")) and "教" not in t:
        return "student"
    if any(w in t for w in ("年金", "定年", "退職", "隠居")):
        return "retired"
    if any(w in t for w in ("主婦", "主夫", "家事")):
        return "homemaker"
    if "無職" in t:
        return "unemployed"
    if any(w in t for w in ("パート", "アルバイト")):
        return "parttime"
    if any(w in t for w in ("医師", "役員", "経営者", "社長")):
        return "executive"
    return "work"


_CHILD_RE = re.compile(r"(?:[長次三四][男女]|息子|娘|子ども|子供|長子|第[一二三]子)（(\d+)歳")


def read_facts(profile: dict[str, Any]) -> Facts:
    age = profile.get("age")
    age = int(age) if isinstance(age, int) or (isinstance(age, str) and age.isdigit()) else None
    family = str(profile.get("family") or "")
    occupation = str(profile.get("occupation") or "")
    children = tuple(int(m) for m in _CHILD_RE.findall(family))
    # The spouse is named before any parenthesis (「一人暮らし（配偶者とは死別）」 has none); 「夫婦」 is not one.
    head = family.split("（")[0].replace("夫婦", "")
    own_spouse = any(w in head for w in ("妻", "夫", "パートナー", "配偶者"))
    if age is not None and age < 18:
        own_spouse = False  # 父・母 (the parents' marriage is not the child's)
    return Facts(
        age=age,
        gender=profile.get("gender"),
        occupation=occupation,
        kind=classify_occupation(occupation),
        income=profile.get("income"),
        family=family,
        alone="一人暮らし" in family or "単身" in family,
        spouse=own_spouse,
        children=children,
        grown_children="独立" in family or any(c >= 18 for c in children),
        parents=any(w in family for w in ("父", "母", "両親", "保護者", "祖父", "祖母", "施設")),
    )


# ------------------------------------------------------------------------------------------------ text rules
def _rx(*words: str) -> re.Pattern[str]:
    return re.compile("|".join(words))


SPOUSE_WORDS = _rx("夫婦", "妻と", "夫と", "妻の", "夫の", "配偶者", "パートナーと", "主人", "旦那", "奥さん")
FAMILY_OUTING = _rx("家族で", "家族と", "家族旅行", "家族の", "家庭の両立", "家庭と", "家族サービス")
CHILDCARE_WORDS = _rx("子育て", "育児", "子どもの", "子どもと", "子供の", "子供と", "教育費", "習い事の送迎",
                      "授乳", "親子で", "娘と", "息子と", "寝かしつけ", "ママ友", "パパ友", "保育園の送迎")
GRANDCHILD = _rx("孫")
SCHOOL_WORDS = re.compile(r"(?<!子どもの)(?<!子供の)(?<!娘の)(?<!息子の)(受験|部活|宿題|定期テスト|クラス替え)")
UNIVERSITY_WORDS = re.compile(r"(?<!子どもの)(?<!子供の)(?<!娘の)(?<!息子の)(就職活動|就活|大学に入学|卒業論文|卒論|ゼミ)")
KINDERGARTEN = _rx("幼稚園")
SCHOOL_PLACE = re.compile(r"(?<!子どもの)(?<!子どもが)(学校|習い事|塾)")
WORK_WORDS = re.compile(r"(?<!子どもの)(?<!夫の)(?<!妻の)(残業|昇進|出張|転職|職場|管理職|通勤|上司|同僚|取引先)")
LUXURY = re.compile(r"(?<!グラウンド)(?<!パーク)ゴルフ|海外旅行|クルーズ|ワイン|乗馬|ヨット|高級|会員制|ブランド品")
ADULT_MEDIA = _rx("Instagram", "TikTok", "X（旧Twitter）", "Facebook", "新聞", "ニュースアプリ", "Yahoo!ニュース",
                  "日経", "ビジネス")
SELF_RESEARCH = _rx("情報収集", "口コミ", "調べ", "比較", "検索", "レビュー", "合理的", "デジタル")
ADULT_CATCHPHRASE = _rx("働き盛り", "ベテラン", "達人", "堅実派", "両立", "会社員", "慎重派", "大人")
KOTO_SUKI = re.compile(r"こと好き")

EVENT_RULES: tuple[tuple[re.Pattern[str], Callable[[Facts], bool], str], ...] = (
    (_rx("定年退職"), lambda f: f.age is not None and f.age >= 60, "定年退職は60歳以上のライフイベントです。"),
    (_rx("結婚"), lambda f: f.age is not None and f.age >= 18, "結婚は18歳以上のライフイベントです。"),
    (_rx("免許の返納", "免許返納"), lambda f: f.age is not None and f.age >= 65, "運転免許の返納は65歳以上の話題です。"),
    (_rx("親の介護"), lambda f: f.age is not None and f.age >= 35, "親の介護は35歳以上の話題です。"),
    (_rx("第一子", "第二子", "第三子"), lambda f: any(c <= 1 for c in f.children),
     "子どもの誕生には、家族構成に0〜1歳の子どもが必要です。"),
    (_rx("子どもが就職", "子どもが独立", "子どもが結婚"), lambda f: f.grown_children,
     "子どもの就職・独立には、家族構成に成人した子どもが必要です。"),
    (_rx("子どもが小学校", "子どもが中学", "子どもが高校"), lambda f: any(c < 18 for c in f.children),
     "子どもの入学には、家族構成に同居の子どもが必要です。"),
    (_rx("夜泣き", "離乳食の", "卒乳", "おむつ替え"), lambda f: f.age is None or f.age < 18 or any(c <= 3 for c in f.children),
     "夜泣き・離乳食などは、家族構成に0〜3歳の子どもがいる場合の話題です。"),
    (_rx("結婚や出産のタイミング", "婚活", "結婚相手"), lambda f: not f.spouse,
     "結婚のタイミングや婚活は、配偶者のいない人の話題です。"),
    (_rx("子どもの受験", "子どもの進学"), lambda f: any(10 <= c <= 18 for c in f.children),
     "子どもの受験・進学には、家族構成に10〜18歳の子どもが必要です。"),
)


def _is_minor_self(f: Facts) -> bool:
    return f.age is not None and f.age < 18


def text_violations(f: Facts, field_key: str, text: str) -> list[Violation]:
    """The violations of one free-text trait, given the person's facts."""
    if not text or _TRIGGERS.search(text) is None:
        return []
    return list(_text_violations(f, field_key, text))


def _text_violations(f: Facts, field_key: str, text: str) -> tuple[Violation, ...]:
    out: list[Violation] = []
    label = FIELD_LABELS.get(field_key, field_key)
    age = f.age

    def add(rule: str, message: str) -> None:
        out.append(Violation(rule, field_key, f"{label}: {message}"))

    if not text:
        return ()
    if SPOUSE_WORDS.search(text) and not f.spouse:
        add("spouse", "家族構成に配偶者がいないのに、配偶者が登場します。")
    if f.alone and FAMILY_OUTING.search(text):
        add("alone_family", "一人暮らしなのに、家族と過ごす内容になっています。")
    if CHILDCARE_WORDS.search(text):
        if _is_minor_self(f):
            add("childcare", "子ども本人の特徴に、子育ての話題が入っています。")
        elif not any(c < 18 for c in f.children):
            add("childcare", "家族構成に同居の子どもがいないのに、子育ての話題があります。")
    if GRANDCHILD.search(text) and not (age is not None and age >= 45 and (f.children or f.grown_children)):
        add("grandchild", "孫が登場するには、45歳以上で子どもがいる家族構成が必要です。")
    if SCHOOL_WORDS.search(text) and not (f.kind == "student" and age is not None and 10 <= age <= 19):
        add("school", "受験・部活などは10〜19歳の生徒・学生の話題です。")
    if UNIVERSITY_WORDS.search(text) and not (f.kind == "student" and age is not None and 17 <= age <= 25):
        add("university", "就職活動・大学入学などは17〜25歳の学生の話題です。")
    if age is not None and age < 7:
        if KINDERGARTEN.search(text) and not 3 <= age <= 6:
            add("young_child_school", "幼稚園は3〜6歳の話題です。")
        if age < 6 and SCHOOL_PLACE.search(text):
            add("young_child_school", "学校・習い事・塾は小学生以上の話題です。")
    if age is not None and age >= 7 and field_key == "life_events" and _rx("入園", "幼稚園", "保育園").search(text):
        add("young_child_school", "入園・幼稚園・保育園は未就学児のライフイベントです。")
    if WORK_WORDS.search(text) and (
            _is_minor_self(f) or f.kind in ("preschool", "student", "retired", "homemaker", "unemployed")):
        add("work_words", "仕事をしていない人の特徴に、仕事の話題が入っています。")
    if LUXURY.search(text) and f.income in LOW_INCOMES and (age is None or age >= 18) and not (
            f.spouse and f.kind in ("homemaker", "retired")):
        add("luxury_income", "年収に比べて費用のかかる趣味・過ごし方です。")
    for pattern, allowed, message in EVENT_RULES:
        if pattern.search(text) and not allowed(f):
            add("life_events_age", message)
    if age is not None and age < 13:
        if field_key == "media" and ADULT_MEDIA.search(text):
            add("child_media", "13歳未満の子ども本人の利用メディアとして不自然です（保護者の欄に書いてください）。")
        if field_key in ("personality_keywords", "health_actions", "concerns", "hobby", "catchphrase") and \
                SELF_RESEARCH.search(text):
            add("child_self_research", "13歳未満の子どもは自分で情報収集や比較をしません（保護者の欄に書いてください）。")
        if field_key == "catchphrase" and ADULT_CATCHPHRASE.search(text):
            add("child_catchphrase", "子どものキャッチコピーに大人向けの表現が入っています。")
    if KOTO_SUKI.search(text):
        add("grammar", "「〜こと好き」は「〜ことが好き」と書きます。")
    return tuple(out)


# Any word some text rule reacts to: most values match none and are accepted at once.
_TRIGGERS = re.compile("|".join(p.pattern for p in (
    SPOUSE_WORDS, FAMILY_OUTING, CHILDCARE_WORDS, GRANDCHILD, SCHOOL_WORDS, UNIVERSITY_WORDS, KINDERGARTEN,
    SCHOOL_PLACE, WORK_WORDS, LUXURY, ADULT_MEDIA, SELF_RESEARCH, ADULT_CATCHPHRASE, KOTO_SUKI,
    _rx("入園", "保育園"), *(pattern for pattern, _a, _m in EVENT_RULES))))


def text_ok(f: Facts, field_key: str, text: str) -> bool:
    """For auto-fill's pools: fixed values, each tried against many people's facts."""
    return not text or not _pool_value_triggered(text) or not _text_violations(f, field_key, text)


# Cached per pool value (a bounded set; most trigger no rule). Generated text is never cached: every text is
# new, and such a cache would only grow with the worker's age and pin the memory of the burst it came from.
@lru_cache(maxsize=8192)
def _pool_value_triggered(text: str) -> bool:
    return _TRIGGERS.search(text) is not None


# --------------------------------------------------------------------------------------------- profile rules
_OCCUPATION_AGES = (("未就学", 0, 6), ("小学", 6, 12), ("中学", 12, 15), ("高校", 15, 19), ("年金", 55, 200))


def profile_violations(f: Facts, profile: dict[str, Any], complaint: Any = None) -> list[Violation]:
    out: list[Violation] = []
    age = f.age
    if complaint is not None:
        sexes = tuple(getattr(complaint, "sexes", ()) or ())
        if sexes and f.gender and f.gender not in sexes:
            only = "・".join(GENDERS.get(s, s) for s in sexes)
            out.append(Violation("complaint_sex", "gender",
                                 f"性別: 主訴「{complaint.name}」は主に{only}が対象です。"))
        lo, hi = getattr(complaint, "age_min", 0), getattr(complaint, "age_max", 100)
        if age is not None and (lo, hi) != (0, 100) and not lo <= age <= hi:
            out.append(Violation("complaint_age", "age",
                                 f"年齢: 主訴「{complaint.name}」の想定年齢（{lo}〜{hi}歳）から外れています。"))
    if f.kind == "homemaker" and not f.spouse and f.family:
        out.append(Violation("homemaker_spouse", "family", "家族構成: 専業主婦・主夫なのに配偶者がいません。"))
    if age is not None:
        for word, lo, hi in _OCCUPATION_AGES:
            if word in f.occupation and f.kind in ("preschool", "student", "retired") and not lo <= age <= hi:
                out.append(Violation("occupation_age", "occupation", f"職業: {age}歳の職業として不自然です。"))
                break
        if age < 18 and f.income not in (None, *MINOR_INCOMES):
            out.append(Violation("minor_income", "income", "年収: 18歳未満で収入があるのは不自然です。"))
        if age < 18 and f.family and not f.parents:
            out.append(Violation("child_family", "family", "家族構成: 18歳未満の人は親や保護者と暮らしています。"))
        if age < 15:
            guardian = profile.get("guardian")
            g_age = guardian.get("age") if isinstance(guardian, dict) else None
            if not isinstance(guardian, dict) or not guardian.get("relation"):
                out.append(Violation("guardian", "guardian", "保護者: 15歳未満のペルソナには保護者（続柄・年齢）が必要です。"))
            elif isinstance(g_age, int) and (g_age < 18 or g_age < age + 16):
                out.append(Violation("guardian", "guardian", "保護者: 保護者の年齢が子どもの年齢と合いません。"))
    return out


# ------------------------------------------------------------------------------------------------ the checker
def check_profile(profile: dict[str, Any], extras: dict[str, Any] | None = None, *,
                  complaint: Any = None) -> list[Violation]:
    """Every rule violation of a profile and its extras (``complaint``: a catalog ``ChiefComplaint`` or None)."""
    f = read_facts(profile)
    out = profile_violations(f, profile, complaint)
    for key in TEXT_PROFILE_FIELDS:
        out += text_violations(f, key, str(profile.get(key) or ""))
    for key in TEXT_EXTRA_FIELDS:
        out += text_violations(f, key, str((extras or {}).get(key) or ""))
    return out


RULES: tuple[tuple[str, str], ...] = (
    ("complaint_sex", "性別が主訴の対象と合っている"),
    ("complaint_age", "年齢が主訴の想定年齢の範囲内"),
    ("spouse", "配偶者が登場するのは配偶者がいる場合だけ"),
    ("alone_family", "一人暮らしの人が家族と過ごす内容にならない"),
    ("childcare", "子育ての話題は同居の子どもがいる大人だけ"),
    ("grandchild", "孫が登場するのは45歳以上で子どもがいる場合だけ"),
    ("school", "受験・部活は10〜19歳の生徒・学生だけ"),
    ("university", "就職活動・大学入学は17〜25歳の学生だけ"),
    ("young_child_school", "幼稚園・学校・習い事が年齢に合っている"),
    ("work_words", "仕事の話題は働いている人だけ"),
    ("luxury_income", "費用のかかる趣味は年収に見合っている"),
    ("life_events_age", "ライフイベントが年齢と家族構成に合っている"),
    ("homemaker_spouse", "専業主婦・主夫は配偶者と暮らしている"),
    ("occupation_age", "職業が年齢に合っている"),
    ("minor_income", "18歳未満に収入がない"),
    ("child_family", "18歳未満は親や保護者と暮らしている"),
    ("guardian", "15歳未満には保護者がいる"),
    ("child_media", "13歳未満の子ども本人が大人向けSNSやニュースを見ない"),
    ("child_self_research", "13歳未満の子ども本人が情報収集や比較をしない"),
    ("child_catchphrase", "子どものキャッチコピーが子どもらしい"),
    ("grammar", "「〜こと好き」などの文法の誤りがない"),
)
