"""Request body of ``POST /api/persona-sets``: the wizard's inputs (``PersonaCreate``) plus ``count`` and ``vary``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from medipersona.personas.schemas import PersonaCreate

MIN_COUNT = 2
MAX_COUNT = 12
VARY_LABELS: dict[str, str] = {"patient_type": "患者タイプ", "age": "年齢", "gender": "性別"}


class PersonaSetCreate(PersonaCreate):
    count: int = Field(ge=MIN_COUNT, le=MAX_COUNT)
    vary: Literal["patient_type", "age", "gender"] = "patient_type"

    def base(self) -> PersonaCreate:
        """The inputs every member starts from (without ``count`` and ``vary``)."""
        return PersonaCreate.model_validate(self.model_dump(exclude={"count", "vary"}, exclude_none=True))


def wizard_choices() -> dict:
    """What the wizard's 「まとめて作成」 panel offers."""
    return {"counts": list(range(MIN_COUNT, MAX_COUNT + 1)), "default_count": 6, "vary": VARY_LABELS}
