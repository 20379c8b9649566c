"""Offline composer variety: over 100 personas of one complaint no name, admired person, catchphrase, section or
opening sentence repeats in more than 10 %; the Japanese stays well-formed."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from medipersona.catalog.service import get_catalog
from medipersona.personas.autofill import autofill
from medipersona.personas.offline_text import compose_persona
from medipersona.personas.prompt import PromptInputs, build_text_request

CATALOG = get_catalog()
COUNT = 100
LIMIT = COUNT // 10


def personas(complaint_id: str):
    complaint = CATALOG.chief_complaint(complaint_id)
    department = CATALOG.department(complaint.department_id)
    for i in range(COUNT):
        seed = 1 + i * 7919
        profile, extras = autofill({}, {}, department_id=department.id, seed=seed, complaint=complaint,
                                   reference_year=2026)
        inputs = PromptInputs(department, complaint, CATALOG.purposes[i % len(CATALOG.purposes)],
                              CATALOG.patient_types[i % len(CATALOG.patient_types)], profile, extras)
        yield profile, extras, compose_persona(build_text_request(inputs, [], seed=seed).context, seed)


@pytest.mark.parametrize("complaint_id", [
    "internal_medicine.hypertension", "pediatrics.bedwetting", "pediatrics.infant_checkup",
    "cosmetic_surgery.breast_augmentation", "gynecology.cervical_cancer_screening", "neurology.dementia",
    "orthodontics.aligners", "orthodontics.child_orthodontics",
])
def test_no_value_in_more_than_ten_percent(complaint_id):
    counts: dict[str, Counter] = {}
    for profile, extras, text in personas(complaint_id):
        values = {"name": profile["name"], "favorite_person": extras["favorite_person"],
                  "catchphrase": extras["catchphrase"]}
        for key, section in text.items():
            values[f"section:{key}"] = section
            values[f"first sentence:{key}"] = section.split("。")[0]
        for key, value in values.items():
            counts.setdefault(key, Counter())[value] += 1
    too_common = {key: c.most_common(1)[0] for key, c in counts.items() if c.most_common(1)[0][1] > LIMIT}
    assert not too_common, too_common


@pytest.mark.parametrize("complaint_id", ["pediatrics.fever", "cosmetic_surgery.double_eyelid",
                                          "ophthalmology.cataract", "radiology.mammography"])
def test_the_japanese_is_well_formed(complaint_id):
    name = CATALOG.chief_complaint(complaint_id).name
    for _profile, extras, text in personas(complaint_id):
        for _key, section in text.items():
            assert "{" not in section and "}" not in section, section
            assert section.endswith("。"), section
            assert "。。" not in section and "、。" not in section and "、、" not in section, section
        catch = extras["catchphrase"]
        assert not re.search(r"こと好き", catch) and "{" not in catch
        if CATALOG.chief_complaint(complaint_id).kind in ("procedure", "checkup"):
            assert f"{name}の症状" not in "".join(text.values())
