"""Auto-fill's names: a common surname and a given name popular in the person's birth years."""

from __future__ import annotations

import random

from medipersona.personas.autofill_tables import GIVEN_NAMES, SURNAMES


def given_names_for(gender: str, birth_year: int) -> tuple[str, ...]:
    table = GIVEN_NAMES.get(gender) or GIVEN_NAMES["other"]
    for since, names in table:
        if birth_year >= since:
            return names
    return table[-1][1]


def pick_name(rng: random.Random, gender: str, age: int, avoid: set[str], reference_year: int) -> str:
    birth_year = reference_year - age
    givens = given_names_for(gender, birth_year)
    for _ in range(40):
        name = f"{rng.choice(SURNAMES)} {rng.choice(givens)}"
        if name not in avoid and name.replace(" ", "") not in avoid:
            return name
    return f"{rng.choice(SURNAMES)} {rng.choice(givens)}"
