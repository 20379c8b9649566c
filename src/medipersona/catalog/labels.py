"""Labels shared by the API, the wizard, the prompt and the exports (one source of truth).

Codes are what the API stores; labels are what people and models read (45歳, 年収500〜600万円).
"""

from __future__ import annotations

from dataclasses import dataclass

GENDERS: dict[str, str] = {"male": "男性", "female": "女性", "other": "その他"}

# What a chief complaint is: it decides how prompts frame it (a procedure is considered, a check-up scheduled).
COMPLAINT_KINDS: dict[str, str] = {
    "symptom": "症状",
    "disease": "疾患",
    "procedure": "施術・自費メニュー",
    "checkup": "検査・健診",
    "prevention": "予防",
}

SETTING_TYPES: dict[str, str] = {
    "patient_type": "患者タイプ別",
    "input": "詳細設定",
    "auto": "自動",
}

# Annual income bands in 万円: code -> label. Codes are stable API values.
INCOME_BANDS: dict[str, str] = {
    "none": "収入なし",
    "lt100": "年収100万円未満",
    "100-200": "年収100〜200万円",
    "200-300": "年収200〜300万円",
    "300-400": "年収300〜400万円",
    "400-500": "年収400〜500万円",
    "500-600": "年収500〜600万円",
    "600-700": "年収600〜700万円",
    "700-800": "年収700〜800万円",
    "800-1000": "年収800〜1000万円",
    "1000-1500": "年収1000〜1500万円",
    "1500-2000": "年収1500〜2000万円",
    "gte2000": "年収2000万円以上",
}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    placeholder: str = ""


# Demographic profile fields, in wizard order.
PROFILE_FIELDS: tuple[Field, ...] = (
    Field("name", "名前", "例: 山田 花子"),
    Field("gender", "性別"),
    Field("age", "年齢"),
    Field("prefecture", "都道府県"),
    Field("municipality", "市区町村", "例: 世田谷区"),
    Field("family", "家族構成", "例: 夫、長女（8歳）と3人暮らし"),
    Field("occupation", "職業", "例: 会社員（事務職）"),
    Field("income", "年収"),
    Field("hobby", "趣味", "例: ヨガ、カフェ巡り"),
    Field("life_events", "ライフイベント", "例: 昨年第一子を出産"),
)

# The fixed extras (その他の特徴), in display order.
EXTRA_FIELDS: tuple[Field, ...] = (
    Field("motto", "座右の銘"),
    Field("concerns", "最近の悩み/関心"),
    Field("favorite_person", "好きな有名人/尊敬する人物"),
    Field("media", "よく見るメディア/SNS"),
    Field("personality_keywords", "性格キーワード"),
    Field("health_actions", "最近した健康に関する行動"),
    Field("holiday", "休日の過ごし方"),
    Field("catchphrase", "キャッチコピー"),
)


@dataclass(frozen=True)
class SectionSpec:
    key: str
    label: str
    default_length: int  # target characters; admins may change it (50-400)
    guidance: str


# The six generated sections, in order.
PERSONA_SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("personality", "性格（価値観・人生観）", 200, "価値観・人生観・性格を具体的に"),
    SectionSpec("reason", "通院理由", 200, "主訴に沿った、この人が医療機関を受診する具体的な理由"),
    SectionSpec("behavior", "症状通院頻度・行動パターン", 200, "症状の出方、通院頻度、受診までの行動パターン"),
    SectionSpec("reviews", "口コミの重視ポイント", 150, "医療機関を選ぶときに口コミのどこを重視するか"),
    SectionSpec("values", "医療機関への価値観・行動傾向", 150, "医療機関に対する価値観と行動の傾向"),
    SectionSpec("demands", "医療機関に求めるもの", 150, "医療機関に具体的に求めること"),
)
SECTION_KEYS: tuple[str, ...] = tuple(s.key for s in PERSONA_SECTIONS)
SECTION_LABELS: dict[str, str] = {s.key: s.label for s in PERSONA_SECTIONS}
MIN_SECTION_LENGTH = 50
MAX_SECTION_LENGTH = 400

# Age bands used by the keyword data (shares per band) and the auto-fill rules.
AGE_BANDS: tuple[tuple[str, str, int, int], ...] = (
    # code, label, min age, max age (inclusive)
    ("10s", "10代", 13, 19),
    ("20s", "20代", 20, 29),
    ("30s", "30代", 30, 39),
    ("40s", "40代", 40, 49),
    ("50s", "50代", 50, 59),
    ("60s", "60代", 60, 69),
    ("70plus", "70代以上", 70, 200),
)
MAX_AGE = 100


def age_band(age_years: int | None) -> str | None:
    """The keyword-data age band code for an age in whole years (None below 13 or when unknown)."""
    if age_years is None:
        return None
    for code, _label, low, high in AGE_BANDS:
        if low <= age_years <= high:
            return code
    return None


def age_label(years: int, months: int = 0) -> str:
    """45歳 / 0歳6ヶ月: the label a model and a person read."""
    if years == 0 or (years < 3 and months):
        return f"{years}歳{months}ヶ月"
    return f"{years}歳"


def income_label(code: str | None) -> str | None:
    return INCOME_BANDS.get(code or "", code)


def gender_label(code: str | None) -> str | None:
    return GENDERS.get(code or "", code)
