"""Auto-fill's occupation and income rules: what someone of this age, gender, household and income does for a
living, and which income bands fit a given occupation."""

from __future__ import annotations

import random

from medipersona.personas.autofill_tables import (
    NO_INCOME,
    OCCUPATIONS,
    PENSION_INCOMES,
    PRESCHOOL,
    STUDENT_LABELS,
    Occupation,
    band_range,
)
from medipersona.personas.consistency import classify_occupation


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
        return band_range("lt100", "300-400")
    if age < 35:
        return band_range("200-300", "600-700")
    if age < 45:
        return band_range("300-400", "800-1000")
    if age < 60:
        return band_range("400-500", "1000-1500")
    if age < 65:
        return band_range("200-300", "700-800")
    return band_range("100-200", "400-500")


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
        return band_range("800-1000", "gte2000")
    return incomes_for_age(age)


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
