"""The interview prompt: the persona as a character (``personas.character``), the rules of the role, the
conversation so far trimmed to a token budget, and the new question. The answer is one validated JSON object
``{"answer": "..."}``, streamed.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from medipersona.personas.character import character_blocks, character_context
from medipersona.personas.models import Persona
from medipersona.providers.base import TextRequest

TASK = "interview_answer"
# Tokens of conversation history the prompt may carry (oldest turns are dropped first; the question always stays).
HISTORY_TOKEN_BUDGET = 3000
ANSWER_MIN, ANSWER_MAX = 80, 300  # characters asked for
TRIMMED_NOTE = "（これより前の会話は省略しています）"

SYSTEM_PROMPT = (
    "あなたは、日本のクリニックがマーケティングを検討するために作った架空の患者ペルソナを演じます。"
    "与えられたプロフィールの人物として、一人称・日本語の話し言葉で、インタビューの質問に答えてください。"
)

ROLE_RULES = (
    "【答え方のルール】",
    ("- あなたは架空の人物です。実在の人物だと名乗ったり、実在するかのように振る舞ったりしないでください。"
     "実在するのか・AIなのかと聞かれたら、マーケティング検討のために作られた架空のペルソナだと正直に答えてください。"),
    ("- 患者として話してください。医師や専門家として、診断・治療法・薬の選び方などの医学的な助言はしないでください。"
     "医学的な判断を求められたら、患者の立場で「それは先生に聞いてみたい」などと答えてください。"),
    "- プロフィールと詳しい説明に矛盾しない範囲で、具体的な気持ちや経験を交えて答えてください。",
    "- 「必ず治る」などの治療効果の保証や、特定の医療機関の誇大なほめ言葉は使わないでください（医療広告ガイドライン）。",
    f"- 回答は{ANSWER_MIN}〜{ANSWER_MAX}文字程度で、質問に直接答えてください。",
)


class InterviewAnswer(BaseModel):
    """The validated model output."""

    model_config = ConfigDict(extra="ignore")

    answer: str = Field(min_length=2, max_length=1500)


def estimate_tokens(text: str) -> int:
    """A conservative token count: about one token per Japanese character, four ASCII characters per token."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return (len(text) - ascii_chars) + -(-ascii_chars // 4)


def trim_history(messages: list[dict[str, str]], budget: int = HISTORY_TOKEN_BUDGET) -> tuple[list[dict[str, str]], bool]:
    """The most recent messages whose estimated tokens fit ``budget`` (whole messages, oldest dropped first), and
    whether anything was dropped."""
    kept: list[dict[str, str]] = []
    used = 0
    for message in reversed(messages):
        cost = estimate_tokens(message["text"]) + 4
        if used + cost > budget:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    return kept, len(kept) < len(messages)


def build_answer_request(persona: Persona, history: list[dict[str, str]], question: str, *, seed: int,
                         model: str = "", budget: int = HISTORY_TOKEN_BUDGET) -> TextRequest:
    """``history``: the earlier messages [{"role": "user"|"persona", "text"}], oldest first, without the question."""
    kept, trimmed = trim_history(history, budget)
    speaker = persona.name or "ペルソナ"
    blocks = ["あなたは次の人物です。", "", *character_blocks(persona), "", *ROLE_RULES]
    if kept:
        blocks += ["", "【これまでの会話】"] + ([TRIMMED_NOTE] if trimmed else [])
        blocks += [f"{'インタビュアー' if m['role'] == 'user' else speaker}: {m['text']}" for m in kept]
    blocks += ["", "【今回の質問】", f"インタビュアー: {question}", "",
               f"{speaker}として答えてください。出力は {{\"answer\": \"...\"}} の形のJSONオブジェクトのみとします。"]
    context: dict[str, Any] = {**character_context(persona), "question": question,
                               "history": [dict(m) for m in kept], "turn": sum(1 for m in history if m["role"] == "user")}
    return TextRequest(
        task=TASK,
        system=SYSTEM_PROMPT,
        prompt="\n".join(blocks),
        schema=InterviewAnswer.model_json_schema(),
        schema_name="interview_answer",
        model=model,
        max_output_tokens=1500,
        seed=seed,
        context=context,
    )
