"""Property tests of the auto-fill rules (hypothesis)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from medipersona.catalog.labels import EXTRA_FIELDS, INCOME_BANDS
from medipersona.catalog.service import get_catalog
from medipersona.personas.autofill import (
    GIVEN_NAMES,
    OCCUPATIONS,
    PENSION_INCOMES,
    PRESCHOOL,
    SURNAMES,
    autofill,
    classify_occupation,
    given_names_for,
)

DEPARTMENTS = [d.id for d in get_catalog().departments]
OCCUPATION_LABELS = [o.label for o in OCCUPATIONS]

seeds = st.integers(min_value=0, max_value=2**31 - 1)
departments = st.sampled_from(DEPARTMENTS)
genders = st.sampled_from(["male", "female", "other"])
ages = st.integers(min_value=0, max_value=100)
incomes = st.sampled_from(list(INCOME_BANDS))

partial_profiles = st.fixed_dictionaries(
    {},
    optional={
        "gender": genders,
        "age": ages,
        "occupation": st.sampled_from(OCCUPATION_LABELS + ["会社員", "年金生活", "大学生", "専業主婦"]),
        "income": incomes,
        "prefecture": st.sampled_from(list(get_catalog().prefectures)),
    },
)


def check_consistent(p: dict, given: dict) -> None:
    age, occ, income, family = p["age"], p["occupation"], p["income"], p["family"]
    for key, value in given.items():
        assert p[key] == value, f"given {key} changed"
    for key in ("name", "gender", "prefecture", "family", "occupation", "income", "hobby", "life_events"):
        assert p.get(key) not in (None, ""), key
    if "occupation" not in given:
        if age < 6:
            assert occ == PRESCHOOL
        elif age < 19:
            assert occ.startswith("学生")
        else:
            occ_spec = next((o for o in OCCUPATIONS if o.label == occ), None)
            if occ_spec is not None:
                # with a given income the upper age bound may be relaxed (a company owner at 80)
                assert occ_spec.min_age <= age and ("income" in given or age <= occ_spec.max_age), (occ, age)
                assert p["gender"] in occ_spec.genders
    kind = classify_occupation(occ)
    if "income" not in given:
        if age < 18 or kind in ("preschool",) or (kind == "student" and age < 16):
            assert income == "none", (age, occ, income)
        if kind == "retired" and age >= 18:
            assert income in PENSION_INCOMES, (occ, income)
        if kind == "homemaker":
            assert income == "none"
        if "occupation" not in given:
            occ_spec = next((o for o in OCCUPATIONS if o.label == occ), None)
            if occ_spec is not None:
                assert income in occ_spec.incomes, (occ, income)
    elif "occupation" not in given and "age" not in given and income not in ("none",):
        # someone given an income of their own is an adult with a fitting occupation
        assert age >= 20
    if "family" not in given:
        for child_age in re.findall(r"[長次三][男女]（(\d+)歳）", family):
            assert int(child_age) <= age - 20, (age, family)
        if age < 18:
            assert "父" in family or "母" in family  # one household: a single parent too
        if kind == "homemaker" and age >= 22:
            assert any(w in family for w in ("妻", "夫", "パートナー"))
        spouse = {"male": "妻", "female": "夫"}.get(p["gender"])
        wrong = {"male": "夫", "female": "妻"}.get(p["gender"])
        if age >= 23 and wrong and family.startswith(wrong):
            raise AssertionError(f"spouse word does not fit gender: {family}")
        del spouse
    events = p["life_events"]
    if "occupation" not in given and "family" not in given:
        if age < 60:
            assert "定年退職" not in events
        if "第一子" in events or "第二子" in events:
            assert re.search(r"（[01]歳）", family), (events, family)
        if age < 18:
            assert events not in ("昨年結婚した", "転職して通勤時間が長くなった")


@settings(max_examples=300, deadline=None)
@given(profile=partial_profiles, seed=seeds, department=departments)
def test_autofill_is_consistent(profile, seed, department):
    filled, extras = autofill(profile, {}, department_id=department, seed=seed, reference_year=2026)
    check_consistent(filled, profile)
    assert set(extras) == {f.key for f in EXTRA_FIELDS}
    assert all(isinstance(v, str) and v.strip() and "{" not in v for v in extras.values())


@settings(max_examples=100, deadline=None)
@given(profile=partial_profiles, seed=seeds, department=departments)
def test_autofill_is_deterministic(profile, seed, department):
    a = autofill(dict(profile), {}, department_id=department, seed=seed, reference_year=2026)
    b = autofill(dict(profile), {}, department_id=department, seed=seed, reference_year=2026)
    assert a == b


@settings(max_examples=100, deadline=None)
@given(seed=seeds)
def test_department_hints(seed):
    child, _ = autofill({}, {}, department_id="pediatrics", seed=seed)
    assert child["age"] <= 12 and child["income"] == "none"
    assert child["occupation"] == PRESCHOOL or child["occupation"].startswith("学生")
    gyn, _ = autofill({}, {}, department_id="gynecology", seed=seed)
    assert gyn["gender"] == "female" and gyn["age"] >= 18


@settings(max_examples=150, deadline=None)
@given(seed=seeds, gender=st.sampled_from(["male", "female"]), age=ages)
def test_names_fit_gender_and_generation(seed, gender, age):
    filled, _ = autofill({"gender": gender, "age": age}, {}, seed=seed, reference_year=2026)
    surname, given_name = filled["name"].split(" ")
    assert surname in SURNAMES
    assert given_name in given_names_for(gender, 2026 - age)
    other = "female" if gender == "male" else "male"
    all_other = {n for _, names in GIVEN_NAMES[other] for n in names}
    mine = {n for _, names in GIVEN_NAMES[gender] for n in names}
    assert given_name in mine and (given_name not in all_other or given_name in mine)


@settings(max_examples=50, deadline=None)
@given(seed=seeds)
def test_avoid_names(seed):
    first, _ = autofill({"gender": "female", "age": 40}, {}, seed=seed, reference_year=2026)
    second, _ = autofill({"gender": "female", "age": 40}, {}, seed=seed, avoid_names=[first["name"]],
                         reference_year=2026)
    assert second["name"] != first["name"]


def test_given_extras_are_kept_and_retiree_income():
    filled, extras = autofill({"age": 72, "occupation": "無職（年金生活）"}, {"motto": "一歩ずつ"}, seed=1)
    assert extras["motto"] == "一歩ずつ"
    assert filled["income"] in PENSION_INCOMES
    assert "未就学" not in filled["occupation"]


def test_senior_pool_extras_by_age_band():
    _, young = autofill({"age": 25}, {}, seed=3)
    _, old = autofill({"age": 80}, {}, seed=3)
    # media are two of the life stage's pool
    from medipersona.personas.autofill_pools import MEDIA

    assert "新聞" not in young["media"]
    assert set(old["media"].split("、")) <= set(MEDIA["elderly"])
