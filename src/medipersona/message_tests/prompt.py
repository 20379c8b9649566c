"""Message-test prompts: one persona's reaction to the clinic's copy (structured: score, comment, would_book,
concerns) and the summary over all reactions (four texts, streamed).

The reaction prompt carries the persona as a character (``personas.character``: profile with the name, sections,
patient type, keyword data) and the message; with a provider that accepts images, the leaflet image goes with it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from medipersona.message_tests.schemas import KIND_LABELS
from medipersona.personas.character import character_blocks, character_context
from medipersona.personas.models import Persona
from medipersona.providers.base import InputImage, TextRequest

REACTION_TASK = "message_test_reaction"
SUMMARY_TASK = "message_test_summary"
CONCERNS_MAX = 3
SUMMARY_SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "全体の評価"),
    ("concerns", "共通する懸念"),
    ("booking_triggers", "予約につながる条件"),
    ("by_type", "患者タイプ別の傾向"),
)
SUMMARY_KEYS = tuple(key for key, _ in SUMMARY_SECTIONS)
SCORE_LABELS = {5: "ぜひ予約したい", 4: "予約を前向きに考える", 3: "気にはなる", 2: "あまり響かない", 1: "まったく響かない"}

REACTION_SYSTEM = (
    "あなたは、日本のクリニックがマーケティングを検討するために作った架空の患者ペルソナを演じます。"
    "与えられたプロフィールの人物として、クリニックの広告や文章を読んだときの率直な反応を答えてください。"
)
SUMMARY_SYSTEM = (
    "あなたは日本の医療機関のマーケティングを支援する専門家です。架空の患者ペルソナたちの反応を分析し、"
    "クリニックの担当者向けに日本語でまとめます。"
)
RULES = (
    "【答え方のルール】",
    ("- プロフィール・患者タイプ・詳しい説明に沿って、この人物ならどう感じるかを正直に評価してください。良い点だけでなく、"
     "響かない点や不安も遠慮なく挙げてください。"),
    "- あなたは架空の人物です。患者として反応し、医学的な助言や治療効果の判断はしないでください。",
    ("- 「必ず治る」「日本一」などの誇大な表現や保証する表現があれば、信頼できるかどうかの観点で評価に反映してください"
     "（医療広告ガイドライン）。"),
)


class Reaction(BaseModel):
    """One persona's validated reaction."""

    model_config = ConfigDict(extra="ignore")

    score: int = Field(ge=1, le=5, description="5: ぜひ予約したい … 1: まったく響かない")
    comment: str = Field(min_length=5, max_length=600, description="本人の口調での感想（100〜200文字）")
    would_book: bool = Field(description="このクリニックを予約（受診）すると思うか")
    concerns: list[str] = Field(max_length=5, description="気になった点・不安・足りない情報（0〜3個、各40文字以内）")

    @field_validator("concerns")
    @classmethod
    def _concerns(cls, value: list[str]) -> list[str]:
        if any(len(c) > 100 for c in value):
            raise ValueError("concerns の各項目は100文字以内にしてください")
        return value


class TestSummary(BaseModel):
    """The validated summary."""

    model_config = ConfigDict(extra="ignore")

    overview: str = Field(min_length=10, max_length=1200)
    concerns: str = Field(min_length=10, max_length=1200)
    booking_triggers: str = Field(min_length=10, max_length=1200)
    by_type: str = Field(min_length=10, max_length=1200)


def message_block(message: str, kind: str, has_image: bool) -> list[str]:
    label = KIND_LABELS.get(kind, "文章")
    lines = [f"【クリニックの{label}】（「」の中がクリニックの文章です）", "「", message, "」"]
    if has_image:
        lines.append(f"（{label}の画像も添付しています。画像の内容も含めて評価してください）")
    return lines


def build_reaction_request(persona: Persona, message: str, kind: str, *, seed: int, model: str = "",
                           image: InputImage | None = None) -> TextRequest:
    name = persona.name or "この人物"
    blocks = ["あなたは次の人物です。", "", *character_blocks(persona), "", *RULES, "",
              *message_block(message, kind, image is not None), "",
              "【答えてほしいこと】",
              f"- score: {name}としてこの文章を読んで、このクリニックを受診したいと思う度合い（1〜5の整数。"
              + "、".join(f"{k}={v}" for k, v in SCORE_LABELS.items()) + "）",
              f"- comment: {name}本人の口調での率直な感想（100〜200文字、一人称）",
              "- would_book: この文章を読んで、このクリニックを予約（受診）すると思うか（true / false）",
              f"- concerns: 気になった点・不安・足りないと感じた情報（0〜{CONCERNS_MAX}個、各40文字以内の短い言葉）",
              "", "出力は指定のJSONスキーマに従うJSONオブジェクトのみとしてください。"]
    context: dict[str, Any] = {**character_context(persona), "message": message, "kind": kind,
                               "kind_label": KIND_LABELS.get(kind, "文章"), "has_image": image is not None}
    return TextRequest(task=REACTION_TASK, system=REACTION_SYSTEM, prompt="\n".join(blocks),
                       schema=Reaction.model_json_schema(), schema_name="reaction", model=model,
                       max_output_tokens=1000, seed=seed, context=context,
                       images=(image,) if image is not None else ())


def _stats_lines(stats: dict[str, Any]) -> list[str]:
    dist = stats.get("distribution") or {}
    lines = [f"- 回答数: {stats.get('count', 0)}人、平均スコア: {stats.get('average', 0)}",
             "- スコアの分布: " + "、".join(f"{k}点={dist.get(str(k), 0)}人" for k in range(5, 0, -1)),
             f"- 予約すると答えた人: {stats.get('would_book', 0)}人"]
    for row in stats.get("by_type") or []:
        lines.append(f"- {row['patient_type']}: {row['count']}人、平均{row['average']}、予約{row['would_book']}人")
    return lines


def build_summary_request(message: str, kind: str, results: list[dict[str, Any]], stats: dict[str, Any], *,
                          seed: int, model: str = "") -> TextRequest:
    blocks = ["クリニックの文章を架空の患者ペルソナたちに読んでもらった結果を分析してください。", "",
              *message_block(message, kind, False), "", "【集計】", *_stats_lines(stats), "", "【一人ひとりの反応】"]
    for r in results:
        concerns = "、".join(r.get("concerns") or []) or "なし"
        blocks.append(f"- {r['name']}（{r.get('age_label', '')}・{r.get('gender_label', '')}・"
                      f"{r.get('patient_type') or '患者タイプなし'}）: スコア{r['score']}、"
                      f"予約{'する' if r['would_book'] else 'しない'}。感想「{r['comment']}」 懸念: {concerns}")
    blocks += ["", "【出力する項目】それぞれ150〜300文字の日本語の文章で書いてください。",
               "- overview（全体の評価）: スコアの分布と、全体としてどう受け止められたか",
               "- concerns（共通する懸念）: 複数の人に共通する不安・不足している情報",
               "- booking_triggers（予約につながる条件）: 何があれば予約してもらえるか、文章の具体的な改善案",
               "- by_type（患者タイプ別の傾向）: 患者タイプごとの反応の違い",
               "", "改善案は医療広告ガイドラインに沿い、治療効果の保証や誇大な表現を勧めないでください。",
               "出力は指定のJSONスキーマに従うJSONオブジェクトのみとしてください。"]
    context = {"message": message, "kind": kind, "kind_label": KIND_LABELS.get(kind, "文章"), "results": results,
               "stats": stats}
    return TextRequest(task=SUMMARY_TASK, system=SUMMARY_SYSTEM, prompt="\n".join(blocks),
                       schema=TestSummary.model_json_schema(), schema_name="message_test_summary", model=model,
                       max_output_tokens=2500, seed=seed, context=context)
