"""A paediatric prompt is written through the guardian; a procedure is considered, a check-up scheduled; the portrait
fits the child's age; hand-entered contradictions come back as warnings (not errors)."""

from __future__ import annotations

from medipersona.catalog.service import get_catalog
from medipersona.personas.autofill import autofill
from medipersona.personas.offline_text import compose_persona
from medipersona.personas.portrait_prompt import build_image_request
from medipersona.personas.prompt import PromptInputs, build_text_request

CATALOG = get_catalog()


def _inputs(complaint_id: str, seed: int = 3, profile: dict | None = None) -> PromptInputs:
    complaint = CATALOG.chief_complaint(complaint_id)
    filled, extras = autofill(profile or {}, {}, department_id=complaint.department_id, seed=seed,
                              complaint=complaint, reference_year=2026)
    return PromptInputs(department=CATALOG.department(complaint.department_id), chief_complaint=complaint,
                        purpose=CATALOG.purpose("increase_patients"), patient_type=CATALOG.patient_types[0],
                        profile=filled, extras=extras)


def test_paediatric_prompt_carries_the_guardian_and_the_guardians_view():
    inputs = _inputs("pediatrics.bedwetting")
    guardian = inputs.profile["guardian"]
    req = build_text_request(inputs, [], seed=1)
    assert "【保護者】" in req.prompt
    assert f"- 続柄: {guardian['relation']}" in req.prompt and f"- 年齢: {guardian['age']}歳" in req.prompt
    assert guardian["occupation"] in req.prompt and guardian["media"] in req.prompt
    assert "保護者の視点で書いてください" in req.prompt
    assert req.context["guardian"]["続柄"] == guardian["relation"]
    # the offline composer writes it the same way: the guardian searches and reads reviews, not the child
    text = compose_persona(req.context, 1)
    who = {"母": "母親", "父": "父親"}[guardian["relation"]]
    assert who in text["behavior"].split("。")[0]
    assert any(w in text["behavior"] for w in ("検索", "調べ", "探", "比べ"))
    assert who in text["reviews"].split("。")[0] and who in text["values"].split("。")[0]
    assert "気になることがあると、まずスマートフォンで" not in text["behavior"]  # the child does not search


def test_adult_prompt_has_no_guardian_block():
    req = build_text_request(_inputs("internal_medicine.hypertension"), [], seed=1)
    assert "【保護者】" not in req.prompt and req.context["guardian"] == {}


def test_procedure_prompt_is_framed_as_considering():
    inputs = _inputs("cosmetic_surgery.breast_augmentation")
    req = build_text_request(inputs, [], seed=1)
    assert "施術・自費メニュー" in req.prompt and "豊胸を検討している人として" in req.prompt
    assert "「豊胸の症状」とは書かないでください" in req.prompt
    for seed in range(30):
        text = compose_persona(build_text_request(_inputs("cosmetic_surgery.breast_augmentation", seed), [],
                                                  seed=seed).context, seed)
        joined = "".join(text.values())
        assert "豊胸の症状" not in joined and "症状" not in text["reason"]
        assert "検討" in text["reason"].split("。")[0]


def test_checkup_prompt_is_framed_as_scheduling():
    req = build_text_request(_inputs("gynecology.cervical_cancer_screening"), [], seed=1)
    assert "日程を調整して予約する人として" in req.prompt
    text = compose_persona(req.context, 1)
    assert "子宮頸がん検診の症状" not in "".join(text.values())
    assert "予約" in text["reason"] or "日程" in text["reason"]


def test_portrait_prompt_fits_the_childs_age_and_the_setting():
    baby = build_image_request({"age": 0, "age_months": 7, "gender": "female"}, seed=1).prompt
    assert "0歳7ヶ月の赤ちゃん" in baby and "baby girl, 7 months old" in baby
    assert "女性" not in baby and "woman" not in baby
    pupil = build_image_request({"age": 8, "gender": "male", "occupation": "学生（小学生）"}, seed=1).prompt
    assert "小学生の男の子" in pupil and "elementary school" in pupil
    nurse = build_image_request({"age": 45, "gender": "female", "occupation": "看護師"}, seed=1).prompt
    assert "職業は看護師" in nurse and "45 years old" in nurse


def test_dependent_elderly_patient_may_have_a_family_guardian():
    dementia = CATALOG.chief_complaint("neurology.dementia")
    with_guardian = []
    for seed in range(200):
        profile, _ = autofill({"age": 86}, {}, department_id="neurology", seed=seed, complaint=dementia)
        if "guardian" in profile:
            with_guardian.append(profile)
            g = profile["guardian"]
            assert g["relation"] in ("長男", "長女", "次男", "次女") and g["relation"] in profile["family"]
            assert 86 - 35 <= g["age"] <= 86 - 25 and g["occupation"] and g["concerns"]
    assert 40 <= len(with_guardian) <= 140  # optional: only when a grown child lives with them
    inputs = _inputs("neurology.dementia", profile=with_guardian[0])
    req = build_text_request(inputs, [], seed=1)
    assert "【保護者】" in req.prompt and "家族の視点も書いてください" in req.prompt
    assert "保護者の視点で書いてください" not in req.prompt  # an adult speaks for themself too
    text = compose_persona(req.context, 1)
    relation = with_guardian[0]["guardian"]["relation"]
    assert f"通院には{relation}が付き添う" in text["behavior"]


def test_young_childrens_traits_fit_their_age():
    for seed in range(40):
        inputs = _inputs("pediatrics.infant_checkup", seed)
        text = compose_persona(build_text_request(inputs, [], seed=seed).context, seed)
        assert inputs.profile["age"] < 6
        for phrase in ("座右の銘は", "尊敬する人物として", "日々の判断", "仕事の都合上", "通勤"):
            assert phrase not in text["personality"] + text["behavior"], phrase
