"""Auto-fill's gender and age rules: the chief complaint's sexes and typical ages, weighted by keyword-data shares
when there are some (else the department's rules), narrowed by a given occupation or income."""

from __future__ import annotations

import random
from typing import Any, Protocol

from medipersona.catalog.labels import AGE_BANDS, MAX_AGE
from medipersona.personas.autofill_tables import (
    DEFAULT_AGES,
    DEPARTMENT_AGES,
    FEMALE_DEPARTMENTS,
    GUARDIAN_AGE,
    OCCUPATION_AGES,
    OCCUPATIONS,
)


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


def age_range(department_id: str | None, occupation: str, complaint: Any = None) -> tuple[int, int]:
    """The complaint's range narrowed to what a given occupation says about age."""
    low, high = complaint_range(complaint, department_id)
    if occupation:
        o_low, o_high = 22, 64
        for words, w_low, w_high in OCCUPATION_AGES:
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


def income_age_range(low: int, high: int, income: str, gender: str) -> tuple[int, int]:
    """Someone with an income of their own is an adult with an occupation paying that much: the ages of those
    occupations within (low, high), else theirs (capped at 80); at least 20."""
    fitting = [o for o in OCCUPATIONS if income in o.incomes and gender in o.genders]
    if fitting:
        f_low, f_high = min(o.min_age for o in fitting), max(o.max_age for o in fitting)
        low, high = max(low, f_low), min(high, f_high)
        if low > high:
            low, high = f_low, min(f_high, 80)
    low = max(low, 20)
    high = max(high, low)
    return low, high
