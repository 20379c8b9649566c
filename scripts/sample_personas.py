"""Write docs/sample-personas.md: 20 offline personas across departments, as text a reader can check.

    .venv/bin/python scripts/sample_personas.py            # rewrites docs/sample-personas.md
    .venv/bin/python scripts/sample_personas.py --stdout   # prints it instead

Each persona is what 自動 gives without keyword data (pure functions, no database): auto-fill within the chief
complaint's sexes and typical ages (personas/autofill.py), the rule list's verdict (personas/consistency.py: it
must say 0), and the six sections written by the offline composer (personas/offline_text.py) from the same
prompt context a real model gets (personas/prompt.py). Deterministic: the same seeds give the same document.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medipersona.catalog.labels import COMPLAINT_KINDS, EXTRA_FIELDS, PERSONA_SECTIONS
from medipersona.catalog.service import get_catalog
from medipersona.personas.autofill import autofill
from medipersona.personas.consistency import check_profile
from medipersona.personas.offline_text import compose_persona
from medipersona.personas.portrait_prompt import build_image_request
from medipersona.personas.prompt import (
    PromptInputs,
    build_text_request,
    guardian_labels,
    profile_labels,
)

# (chief complaint id, patient type id): a spread of departments, kinds, ages and sexes.
SAMPLES: tuple[tuple[str, str], ...] = (
    ("internal_medicine.hypertension", "trust_based"),
    ("pediatrics.bedwetting", "dialogue_focused"),
    ("pediatrics.infant_checkup", "preventive_health"),
    ("orthopedics.knee_pain", "urgent_solution"),
    ("dermatology.acne", "information_seeker"),
    ("ophthalmology.cataract", "specialist_seeking"),
    ("gynecology.menopause", "alternative_medicine"),
    ("gynecology.cervical_cancer_screening", "convenience_focused"),
    ("urology.bph", "passive_dependent"),
    ("diabetology.gestational_diabetes", "information_seeker"),
    ("neurology.dementia", "trust_based"),
    ("psychiatry.adhd", "autonomous_decision"),
    ("cosmetic_surgery.breast_augmentation", "cost_conscious"),
    ("cosmetic_surgery.double_eyelid", "innovation_oriented"),
    ("general_dentistry.implant", "cost_conscious"),
    ("pediatric_dentistry.childhood_cavity", "convenience_focused"),
    ("orthodontics.aligners", "innovation_oriented"),
    ("otolaryngology.otitis_media", "urgent_solution"),
    ("rehabilitation.fall_prevention", "dialogue_focused"),
    ("radiology.mammography", "preventive_health"),
)
SEED_BASE = 2026
REFERENCE_YEAR = 2026
COMMAND = ".venv/bin/python scripts/sample_personas.py"


def persona_markdown(index: int, complaint_id: str, type_id: str) -> str:
    catalog = get_catalog()
    complaint = catalog.chief_complaint(complaint_id)
    if complaint is None:
        raise SystemExit(f"unknown chief complaint: {complaint_id}")
    department = catalog.department(complaint.department_id)
    seed = SEED_BASE + index * 7919
    profile, extras = autofill({}, {}, department_id=department.id, seed=seed, complaint=complaint,
                               reference_year=REFERENCE_YEAR)
    violations = check_profile(profile, extras, complaint=complaint)
    inputs = PromptInputs(department=department, chief_complaint=complaint, purpose=catalog.purpose("increase_patients"),
                          patient_type=catalog.patient_type(type_id), profile=profile, extras=extras)
    request = build_text_request(inputs, [], seed=seed)
    text = compose_persona(request.context, seed)
    attrs = [COMPLAINT_KINDS.get(complaint.kind, complaint.kind)]
    if complaint.sexes:
        attrs.append("・".join({"male": "男性", "female": "女性"}.get(s, s) for s in complaint.sexes) + "のみ")
    if (complaint.age_min, complaint.age_max) != (0, 100):
        attrs.append(f"{complaint.age_min}〜{complaint.age_max}歳")
    if complaint.pediatric:
        attrs.append("小児")
    lines = [f"## {index + 1}. {department.name} / {complaint.name}（{'、'.join(attrs)}）", "",
             f"- 患者タイプ: {inputs.patient_type.name}　seed: {seed}",
             f"- 性別・年齢の決め方: {profile['demographics']['label']}",
             f"- ルール違反: {len(violations)}件" + ("（" + "／".join(v.message for v in violations) + "）" if violations else ""),
             ""]
    lines += [f"- **{label}**: {value}" for label, value in profile_labels(profile).items()]
    guardian = guardian_labels(profile)
    if guardian:
        lines.append("- **保護者**: " + "、".join(f"{k}: {v}" for k, v in guardian.items()))
    lines += [f"- {spec.label}: {extras[spec.key]}" for spec in EXTRA_FIELDS if extras.get(spec.key)]
    lines += ["", "| 項目 | 文章（オフライン生成） |", "|---|---|"]
    lines += [f"| {spec.label} | {text[spec.key]} |" for spec in PERSONA_SECTIONS]
    portrait = build_image_request(profile, seed=seed).prompt.split("Portrait of")[0].strip()
    lines += ["", f"似顔絵のプロンプト（日本語部分）: {portrait}", ""]
    return "\n".join(lines)


def document() -> str:
    head = [
        "# Sample personas (offline, 自動)",
        "",
        f"Generated by `{COMMAND}` (deterministic; rerun it after changing auto-fill, the rule list or the offline",
        "composer, and commit the result). Twenty personas across departments, each made as 自動 makes it without",
        "keyword data: gender and age within the chief complaint's attributes, the profile drawn as one household",
        "and life stage, children under 15 with a guardian (保護者) from whose view the sections are written,",
        "procedures framed as something considered (〜を検討), check-ups as something scheduled. Each entry states",
        "how many rules of `personas/consistency.py` it breaks (it should be 0). What to check as a reader: does the",
        "person fit the complaint (sex, age), does the profile contradict itself (living alone vs spouse, income vs",
        "hobbies, a child's school and media), who searches and decides for a child, and does the text read as",
        "natural Japanese.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(persona_markdown(i, c, t) for i, (c, t) in enumerate(SAMPLES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stdout", action="store_true", help="print instead of writing docs/sample-personas.md")
    args = parser.parse_args()
    text = document()
    if args.stdout:
        sys.stdout.write(text)
        return
    path = Path(__file__).resolve().parent.parent / "docs" / "sample-personas.md"
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
