"""How the members of a set differ: one ``PersonaCreate`` per member, varied along ``vary``.

- ``patient_type``: a different patient type each (a set has at most 12 members, the catalog has 12 types); the
  type the user chose, if any, comes first.
- ``age``: ages spread evenly over the chief complaint's typical age range (adults 20-79 when it has none), each
  jittered within its slot.
- ``gender``: alternately 女性 and 男性; refused for a complaint that applies to one sex only.

Everything else comes from the wizard's inputs; what they leave empty is auto-filled per member (each member has
its own seed). Deterministic under the set's seed.
"""

from __future__ import annotations

import random

from medipersona.catalog.labels import GENDERS
from medipersona.catalog.service import ChiefComplaint, get_catalog
from medipersona.errors import InvalidInput
from medipersona.persona_sets.schemas import PersonaSetCreate
from medipersona.personas.schemas import PersonaCreate

ADULT_RANGE = (20, 79)
AGE_CAP = 90
SEED_STEP = 7919


def member_seed(seed: int, index: int) -> int:
    return (seed + index * SEED_STEP) % (2**31)


def _with(base: PersonaCreate, seed: int, **changes) -> PersonaCreate:
    """A copy of ``base`` with ``changes`` (``profile`` merged field by field), validated as a new request."""
    body = base.model_dump(exclude_none=True)
    profile = {**body.get("profile", {}), **changes.pop("profile", {})}
    body.update(changes, seed=seed)
    if profile:
        body["profile"] = profile
    return PersonaCreate.model_validate(body)


def age_range(complaint: ChiefComplaint) -> tuple[int, int]:
    low, high = complaint.age_min, min(complaint.age_max, AGE_CAP)
    if (low, high) == (0, AGE_CAP) and not complaint.pediatric:  # no typical range: adults
        return ADULT_RANGE
    return low, max(low, high)


def spread_ages(low: int, high: int, count: int, rng: random.Random) -> list[int]:
    """``count`` ages from evenly sized slots of [low, high], one per slot, jittered inside it."""
    step = (high - low + 1) / count
    ages = []
    for i in range(count):
        start = low + step * i
        ages.append(min(high, int(start + rng.random() * step)))
    return ages


def _patient_types(data: PersonaSetCreate, rng: random.Random) -> list[str]:
    ids = [t.id for t in get_catalog().patient_types]
    rng.shuffle(ids)
    if data.patient_type in ids:
        ids.remove(data.patient_type)
        ids.insert(0, data.patient_type)
    return ids[:data.count]


def _gender_error(complaint: ChiefComplaint) -> InvalidInput:
    only = "・".join(GENDERS.get(s, s) for s in complaint.sexes)
    message = f"主訴「{complaint.name}」は{only}のみが対象のため、性別で変化をつけることはできません。"
    return InvalidInput(message, fields=[{"field": "vary", "in": "body", "message": message}])


def member_requests(data: PersonaSetCreate, seed: int) -> list[PersonaCreate]:
    """The members' requests (``data`` validated against the catalog already)."""
    base = data.base()
    rng = random.Random(seed)
    complaint = get_catalog().chief_complaint(data.chief_complaint)
    assert complaint is not None  # validated
    seeds = [member_seed(seed, i) for i in range(data.count)]
    if data.vary == "patient_type":
        setting = "input" if base.setting_type == "input" else "patient_type"
        return [_with(base, s, setting_type=setting, patient_type=type_id)
                for s, type_id in zip(seeds, _patient_types(data, rng), strict=True)]
    if data.vary == "age":
        members = []
        for s, age in zip(seeds, spread_ages(*age_range(complaint), data.count, rng), strict=True):
            profile: dict = {"age": age}
            if age < 15:  # a child has no occupation or income of its own
                profile.update(occupation=None, income=None)
            members.append(_with(base, s, profile=profile))
        return members
    sexes = [s for s in complaint.sexes if s in ("female", "male")] or ["female", "male"]
    if len(sexes) == 1:
        raise _gender_error(complaint)
    first = rng.randrange(2)
    return [_with(base, s, profile={"gender": sexes[(first + i) % 2]}) for i, s in enumerate(seeds)]
