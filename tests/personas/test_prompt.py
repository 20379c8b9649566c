"""The prompt carries labels (not codes), the patient type, the keyword block, lengths and safety rules."""

from __future__ import annotations

from medipersona.catalog.labels import PERSONA_SECTIONS
from medipersona.catalog.service import get_catalog
from medipersona.personas.portrait_prompt import build_image_request
from medipersona.personas.prompt import (
    PromptInputs,
    build_section_request,
    build_text_request,
)

KEYWORDS = [
    {"keyword": "高血圧 食事", "volume": 12000, "overlap": 800, "days": -12, "category": "予防・生活習慣",
     "estimated_volume": 3400},
    {"keyword": "高血圧 何科", "volume": 5000, "overlap": 300, "days": 2, "category": "医療機関",
     "estimated_volume": 1200},
]


def make_inputs(**overrides) -> PromptInputs:
    catalog = get_catalog()
    values = dict(
        department=catalog.department("internal_medicine"),
        chief_complaint=next(c for c in catalog.department("internal_medicine").chief_complaints),
        purpose=catalog.purpose("increase_patients"),
        patient_type=catalog.patient_type("information_seeker"),
        profile={"name": "山田 花子", "gender": "female", "age": 45, "income": "500-600", "occupation": "看護師",
                 "prefecture": "東京都", "municipality": "世田谷区", "family": "夫と2人暮らし",
                 "hobby": "ヨガ", "life_events": "転職した"},
        extras={"motto": "継続は力なり"},
        extra_fields=[{"name": "好きな食べ物", "value": "そば"}],
    )
    values.update(overrides)
    return PromptInputs(**values)


def test_labels_not_codes():
    req = build_text_request(make_inputs(), KEYWORDS, seed=1)
    assert "45歳" in req.prompt and "年収500〜600万円" in req.prompt and "女性" in req.prompt
    assert "患者数を増やす" in req.prompt
    assert "500-600" not in req.prompt and "45y" not in req.prompt and "female" not in req.prompt
    assert "increase_patients" not in req.prompt
    assert req.context["profile"]["age"] == "45歳"
    assert req.context["profile"]["income"] == "年収500〜600万円"
    assert req.context["purpose"] == "患者数を増やす"


def test_patient_type_with_traits_and_example():
    pt = get_catalog().patient_type("information_seeker")
    req = build_text_request(make_inputs(), KEYWORDS, seed=1)
    assert pt.name in req.prompt and pt.description in req.prompt and pt.example in req.prompt
    assert req.context["patient_type"] == {"name": pt.name, "description": pt.description, "example": pt.example}


def test_keywords_are_in_the_prompt():
    req = build_text_request(make_inputs(), KEYWORDS, seed=1)
    assert "高血圧 食事" in req.prompt and "高血圧 何科" in req.prompt
    assert "40代・女性" in req.prompt
    assert "12日前" in req.prompt and "2日後" in req.prompt
    assert req.context["keywords"] == KEYWORDS


def test_sections_lengths_and_schema():
    lengths = {"personality": 300, "demands": 80}
    req = build_text_request(make_inputs(), [], section_lengths=lengths, seed=1)
    for spec in PERSONA_SECTIONS:
        assert spec.label in req.prompt
        assert spec.key in req.schema["required"]
    assert "300文字程度" in req.prompt and "80文字程度" in req.prompt
    assert req.context["section_lengths"]["personality"] == 300
    assert req.context["section_lengths"]["reason"] == 200
    assert "name" not in req.schema["properties"]


def test_name_generation_and_avoid_names():
    inputs = make_inputs(profile={"gender": "male", "age": 30}, generate_name=True, avoid_names=["佐藤 翔太"])
    req = build_text_request(inputs, [], seed=1)
    assert "name" in req.schema["properties"] and "佐藤 翔太" in req.prompt
    assert req.context["generate_name"] is True and req.context["avoid_names"] == ["佐藤 翔太"]


def test_safety_rules_no_cure_promises():
    req = build_text_request(make_inputs(), [], seed=1)
    assert "医療広告ガイドライン" in req.prompt and "必ず治る" in req.prompt


def test_extras_and_free_rows():
    req = build_text_request(make_inputs(), [], seed=1)
    assert "座右の銘: 継続は力なり" in req.prompt and "好きな食べ物: そば" in req.prompt


def test_section_request_and_image_request():
    req = build_section_request(make_inputs(), KEYWORDS, "reviews", {"reviews": "前の文章", "reason": "理由"}, seed=2)
    assert req.task == "section_text" and req.context["section"] == "reviews"
    assert "前の文章" in req.prompt and "口コミの重視ポイント" in req.prompt
    image = build_image_request({"age": 8, "gender": "female"}, seed=9)
    assert image.context == {"age": 8, "gender": "female", "seed": 9}
    assert "女の子" in image.prompt
