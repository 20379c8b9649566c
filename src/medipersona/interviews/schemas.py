"""Request bodies of the interview API (invalid input → 422 with Japanese field messages)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

QUESTION_MAX = 500


def bounded_text(value, *, what: str, limit: int) -> str:
    """``value`` stripped; ValueError with a Japanese message when it is empty or longer than ``limit``."""
    if not isinstance(value, str):
        raise ValueError(f"{what}を文字列で指定してください。")  # noqa: TRY004 - pydantic reports ValueError
    text = value.strip()
    if not text:
        raise ValueError(f"{what}を入力してください。")
    if len(text) > limit:
        raise ValueError(f"{what}は{limit}文字以内で入力してください（いまは{len(text)}文字です）。")
    return text


class QuestionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str

    @field_validator("text", mode="before")
    @classmethod
    def _text(cls, value):
        return bounded_text(value, what="質問", limit=QUESTION_MAX)
