"""The persona prompt: labels (not codes), the patient type, the keyword data, section lengths, safety rules.

    request = build_text_request(inputs, keywords, section_lengths=..., seed=...)

(The portrait's prompt is ``personas.portrait_prompt``.)

``inputs`` is a ``PromptInputs`` (catalog objects + the auto-filled profile and extras). Everything a model reads
is a label: 45歳, 女性, 年収500〜600万円, 患者数を増やす. The keyword block (top searches of the 主訴 filtered by
the persona's age band and gender) is part of the prompt text, and also handed to the offline provider through
``context["keywords"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medipersona.catalog.labels import (
    AGE_BANDS,
    COMPLAINT_KINDS,
    EXTRA_FIELDS,
    PERSONA_SECTIONS,
    PROFILE_FIELDS,
    SECTION_LABELS,
    age_band,
    age_label,
    gender_label,
    income_label,
)
from medipersona.catalog.service import ChiefComplaint, Department, PatientType, Purpose
from medipersona.providers.base import TextRequest, addendum_lines, structured_request

SYSTEM_PROMPT = (
    "あなたは日本の医療機関のマーケティングを支援する専門家です。"
    "クリニックが患者像を理解するための、架空の患者ペルソナを日本語で作成します。"
    "実在の個人を特定できる情報は書かないでください。"
)

# 医療広告ガイドライン: what the text must not contain.
SAFETY_RULES = (
    "医療広告ガイドラインを守ってください:",
    "- 「必ず治る」「完治する」「絶対に安全」など、治療効果や安全性を保証・断定する表現を使わない。",
    "- 「日本一」「最高の治療」など、他院との比較優良表現や誇大な表現を使わない。",
    "- 治療前後（ビフォーアフター）の効果を約束したり、体験談で効果を強調したりしない。",
    "- 特定の薬剤名・治療法を推奨・断定しない。症状や受診の判断は医師の診察によることを前提にする。",
    "- 患者の気持ちや行動を描写するのであって、医療機関の宣伝文を書くのではない。",
)

LABEL_NOTE = "年齢・年収などは上記の表記のまま、自然な日本語で扱ってください。"


class PersonaText(BaseModel):
    """The validated model output (six sections, plus a name when the model was asked for one)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=60)
    personality: str = Field(min_length=10, max_length=2000)
    reason: str = Field(min_length=10, max_length=2000)
    behavior: str = Field(min_length=10, max_length=2000)
    reviews: str = Field(min_length=10, max_length=2000)
    values: str = Field(min_length=10, max_length=2000)
    demands: str = Field(min_length=10, max_length=2000)

    def sections(self) -> dict[str, str]:
        return {spec.key: getattr(self, spec.key).strip() for spec in PERSONA_SECTIONS}


class SectionText(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str = Field(min_length=10, max_length=2000)


@dataclass
class PromptInputs:
    department: Department
    chief_complaint: ChiefComplaint
    purpose: Purpose
    patient_type: PatientType | None
    profile: dict[str, Any]
    extras: dict[str, str]
    extra_fields: list[dict[str, str]] = field(default_factory=list)
    avoid_names: list[str] = field(default_factory=list)
    generate_name: bool = False


def default_section_lengths() -> dict[str, int]:
    return {spec.key: spec.default_length for spec in PERSONA_SECTIONS}


def profile_labels(profile: dict[str, Any]) -> dict[str, str]:
    """The profile as labels a person or a model reads: {"年齢": "45歳", "年収": "年収500〜600万円", ...}."""
    out: dict[str, str] = {}
    for spec in PROFILE_FIELDS:
        value = profile.get(spec.key)
        if spec.key == "age":
            if value is None or value == "":
                continue
            text = age_label(int(value), int(profile.get("age_months") or 0))
        elif spec.key == "gender":
            text = gender_label(value) or ""
        elif spec.key == "income":
            text = income_label(value) or ""
        else:
            text = "" if value is None else str(value).strip()
        if text:
            out[spec.label] = text
    return out


GUARDIAN_FIELDS: tuple[tuple[str, str], ...] = (
    ("relation", "続柄"), ("age", "年齢"), ("occupation", "職業"), ("media", "よく見るメディア/SNS"),
    ("concerns", "最近の悩み/関心"),
)


def guardian_labels(profile: dict[str, Any]) -> dict[str, str]:
    """The guardian (保護者) as labels: {"続柄": "母", "年齢": "35歳", ...}; {} when the profile has none."""
    guardian = profile.get("guardian")
    if not isinstance(guardian, dict) or not guardian.get("relation"):
        return {}
    out: dict[str, str] = {}
    for key, label in GUARDIAN_FIELDS:
        value = guardian.get(key)
        if value is None or value == "":
            continue
        out[label] = f"{value}歳" if key == "age" and isinstance(value, int) else str(value).strip()
    return out


def guardian_summary(profile: dict[str, Any]) -> str:
    """母（35歳・会社員（事務職））: one line for tables and exports; "" without a guardian."""
    labels = guardian_labels(profile)
    if not labels:
        return ""
    bits = "・".join(v for k, v in labels.items() if k in ("年齢", "職業"))
    return f"{labels['続柄']}（{bits}）" if bits else labels["続柄"]


def is_dependent_child(profile: dict[str, Any]) -> bool:
    age = profile.get("age")
    return isinstance(age, int) and age < 15


# How a chief complaint is framed by its kind (catalog.labels.COMPLAINT_KINDS): a procedure or self-pay menu is
# something the persona considers, a check-up something they schedule, a symptom something they have.
def complaint_framing(name: str, kind: str) -> dict[str, str]:
    if kind == "procedure":
        return {"kind": kind, "subject": f"{name}を検討している",
                "instruction": (f"「{name}」は症状ではなく、施術・自費メニューです。ペルソナは{name}を検討している人として書き、"
                                f"「{name}の症状」とは書かないでください（検討のきっかけ、情報収集、費用やリスクの比較、"
                                "カウンセリングの予約）。")}
    if kind == "checkup":
        return {"kind": kind, "subject": f"{name}を受ける予定を立てている",
                "instruction": (f"「{name}」は検査・健診です。ペルソナは{name}の日程を調整して予約する人として書き、"
                                f"「{name}の症状」とは書かないでください（受けるきっかけ、予約の取りやすさ、結果の説明）。")}
    if kind == "prevention":
        return {"kind": kind, "subject": f"{name}のために受診を考えている",
                "instruction": (f"「{name}」は予防のための受診です。症状ではなく、予防や健康維持のために"
                                "通う人として書いてください。")}
    return {"kind": kind or "symptom", "subject": f"{name}が気になっている", "instruction": ""}


def profile_context(profile: dict[str, Any]) -> dict[str, str]:
    """The same labels keyed by field key (for the offline provider's context)."""
    labels = profile_labels(profile)
    by_label = {spec.label: spec.key for spec in PROFILE_FIELDS}
    return {by_label[label]: value for label, value in labels.items()}


def extras_labels(extras: dict[str, str], extra_fields: list[dict[str, str]] | None = None) -> dict[str, str]:
    out = {spec.label: str(extras[spec.key]).strip() for spec in EXTRA_FIELDS if str(extras.get(spec.key) or "").strip()}
    for row in extra_fields or []:
        name, value = str(row.get("name") or "").strip(), str(row.get("value") or "").strip()
        if name and value:
            out[name] = value
    return out


def age_band_label(age: int | None) -> str | None:
    code = age_band(age)
    return next((label for c, label, _lo, _hi in AGE_BANDS if c == code), None)


def keyword_lines(keywords: list[dict[str, Any]]) -> list[str]:
    lines = []
    for i, row in enumerate(keywords, start=1):
        kw = str(row.get("keyword") or "").strip()
        if not kw:
            continue
        bits = []
        volume = row.get("estimated_volume") or row.get("volume")
        if volume:
            bits.append(f"推定検索数 約{round(float(volume)):,}回/月")
        days = row.get("days")
        if isinstance(days, (int, float)):
            bits.append(f"主訴の検索の{abs(int(days))}日{'前' if days < 0 else '後'}" if days else "主訴の検索と同時期")
        if row.get("category"):
            bits.append(str(row["category"]))
        lines.append(f"{i}. {kw}" + (f"（{'、'.join(bits)}）" if bits else ""))
    return lines


def text_schema(generate_name: bool, lengths: dict[str, int]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if generate_name:
        props["name"] = {"type": "string", "description": "ペルソナの氏名（日本人の架空の姓名、例: 山田 花子）"}
    for spec in PERSONA_SECTIONS:
        props[spec.key] = {"type": "string",
                           "description": f"{spec.label}（{lengths[spec.key]}文字程度）: {spec.guidance}"}
    return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def _common_blocks(inputs: PromptInputs, keywords: list[dict[str, Any]]) -> list[str]:
    profile = inputs.profile
    blocks = [
        "【前提】",
        f"- 診療科: {inputs.department.name}",
        f"- 主訴: {inputs.chief_complaint.name}",
        f"- 作成目的: {inputs.purpose.name}（{inputs.purpose.description}）",
    ]
    if inputs.patient_type is not None:
        pt = inputs.patient_type
        blocks += ["", f"【患者タイプ】{pt.name}", f"- 特徴: {pt.description}", f"- 例: {pt.example}"]
    framing = complaint_framing(inputs.chief_complaint.name, inputs.chief_complaint.kind)
    if framing["instruction"]:
        blocks += [f"- 主訴の種類: {COMPLAINT_KINDS.get(framing['kind'], framing['kind'])}（{framing['instruction']}）"]
    blocks += ["", "【基本情報】"]
    blocks += [f"- {label}: {value}" for label, value in profile_labels(profile).items()
               if not (inputs.generate_name and label == "名前")]
    guardian = guardian_labels(profile)
    if guardian:
        blocks += ["", "【保護者】（受診先を探し、比較し、口コミを読み、決めるのはこの人です）"]
        blocks += [f"- {label}: {value}" for label, value in guardian.items()]
        if is_dependent_child(profile):
            blocks.append("- 各項目は保護者の視点で書いてください（誰が検索し、比較し、決めるか）。"
                          "子ども本人の性格・行動は年齢相応に書き、本人が情報収集や口コミの確認をするようには書かないでください。")
        else:
            blocks.append("- 受診先選びや通院の付き添いはこの家族が担います。本人の気持ちとあわせて、家族の視点も書いてください。")
    extras = extras_labels(inputs.extras, inputs.extra_fields)
    if extras:
        blocks += ["", "【その他の特徴】"] + [f"- {label}: {value}" for label, value in extras.items()]
    lines = keyword_lines(keywords)
    if lines:
        band = age_band_label(profile.get("age"))
        who = "・".join(x for x in (band, gender_label(profile.get("gender"))) if x) or "この患者層"
        blocks += [
            "",
            (f"【検索キーワードデータ】「{inputs.chief_complaint.name}」で検索した人（{who}）が前後に検索している"
             "キーワードです。このペルソナの悩み・情報収集・受診行動に具体的に反映してください:"),
            *lines,
        ]
    return blocks


def build_text_request(
    inputs: PromptInputs,
    keywords: list[dict[str, Any]],
    *,
    section_lengths: dict[str, int] | None = None,
    seed: int | None = None,
    model: str = "",
    addendum: str = "",
) -> TextRequest:
    """``addendum``: extra instructions an admin configured (put before the safety rules, which win)."""
    lengths = {**default_section_lengths(), **(section_lengths or {})}
    blocks = [
        "次の条件に合う患者ペルソナを1人作成してください。",
        "",
        *_common_blocks(inputs, keywords),
        "",
        "【出力する項目】次の6項目を、それぞれ指定の文字数程度の自然な日本語の文章で書いてください。",
    ]
    for spec in PERSONA_SECTIONS:
        blocks.append(f"- {spec.key}（{spec.label}、{lengths[spec.key]}文字程度）: {spec.guidance}")
    if inputs.generate_name:
        avoid = "、".join(inputs.avoid_names[:20])
        blocks.append("- name: 性別と年代にふさわしい日本人の架空の氏名" + (f"（次の名前は使わない: {avoid}）" if avoid else ""))
    blocks += ["", "「通院理由」は主訴に沿った内容にし、作成目的に役立つ視点を含めてください。" + LABEL_NOTE]
    if guardian_labels(inputs.profile) and is_dependent_child(inputs.profile):
        blocks.append("このペルソナは子どもです。通院理由・行動パターン・口コミの重視ポイント・価値観・求めるものは、"
                      "保護者が考え、検索し、比較し、決める内容として書いてください。")
    blocks += addendum_lines(addendum, "【追加の指示】")
    blocks += [
        "",
        *SAFETY_RULES,
        "",
        "出力は指定のJSONスキーマに従うJSONオブジェクトのみとし、すべての項目を空欄なしで埋めてください。",
    ]
    context = build_context(inputs, keywords, lengths)
    return structured_request("persona_text", system=SYSTEM_PROMPT, prompt="\n".join(blocks),
                              schema=text_schema(inputs.generate_name, lengths), schema_name="persona", model=model,
                              max_output_tokens=max(1500, sum(lengths.values()) * 3), seed=seed, context=context)


def build_section_request(
    inputs: PromptInputs,
    keywords: list[dict[str, Any]],
    section: str,
    current: dict[str, str],
    *,
    section_lengths: dict[str, int] | None = None,
    seed: int | None = None,
    model: str = "",
    addendum: str = "",
) -> TextRequest:
    """Regenerate one section, keeping the other sections as they are."""
    lengths = {**default_section_lengths(), **(section_lengths or {})}
    spec = next(s for s in PERSONA_SECTIONS if s.key == section)
    others = [f"- {SECTION_LABELS[k]}: {v}" for k, v in current.items() if k != section and v]
    blocks = [
        f"次の患者ペルソナの「{spec.label}」だけを書き直してください（{lengths[section]}文字程度）。",
        f"内容: {spec.guidance}",
        "",
        *_common_blocks(inputs, keywords),
    ]
    if others:
        blocks += ["", "【ほかの項目（矛盾しないようにしてください）】", *others]
    if current.get(section):
        blocks += ["", "【書き直す前の文章（同じ表現の繰り返しは避けてください）】", current[section]]
    blocks += ["", LABEL_NOTE]
    blocks += addendum_lines(addendum, "【追加の指示】")
    blocks += ["", *SAFETY_RULES, "",
               "出力は {\"text\": \"...\"} の形のJSONオブジェクトのみとしてください。"]
    context = build_context(inputs, keywords, lengths)
    context["section"] = section
    context["current"] = {k: v for k, v in current.items() if v}
    return structured_request("section_text", system=SYSTEM_PROMPT, prompt="\n".join(blocks),
                              schema={"type": "object",
                                      "properties": {"text": {"type": "string", "description": spec.label}},
                                      "required": ["text"], "additionalProperties": False},
                              schema_name="section", model=model, max_output_tokens=max(600, lengths[section] * 4),
                              seed=seed, context=context)


def build_context(inputs: PromptInputs, keywords: list[dict[str, Any]], lengths: dict[str, int]) -> dict[str, Any]:
    pt = inputs.patient_type
    return {
        "department": inputs.department.name,
        "chief_complaint": inputs.chief_complaint.name,
        "purpose": inputs.purpose.name,
        "patient_type": {"name": pt.name, "description": pt.description, "example": pt.example} if pt else None,
        "profile": profile_context(inputs.profile),
        "guardian": guardian_labels(inputs.profile),
        "complaint_kind": inputs.chief_complaint.kind,
        "extras": extras_labels(inputs.extras, inputs.extra_fields),
        "keywords": keywords,
        "section_lengths": dict(lengths),
        "generate_name": inputs.generate_name,
        "avoid_names": list(inputs.avoid_names),
    }
