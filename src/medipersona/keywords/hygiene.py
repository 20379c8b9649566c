"""Keyword hygiene: searches with no patient meaning are dropped before prompts and analyses.

    clean_rows(rows)            # rows (dicts with "keyword") without the noise, order kept
    is_noise("ニキビ 英語")      # True

A co-searched keyword like 「ニキビ 英語」 or 「更年期 読み方」 says nothing about a patient's worries or behaviour
(it is a dictionary look-up); quoted in a persona (「『ニキビ 英語』を検索する」) it reads as nonsense. A keyword is
noise when one of its words after the first is a look-up word (英語, 意味, 読み方, 漢字, 由来, 類義語 …) or ends in
one (英語で, の意味). The first word is never judged alone (「漢字検定」 as a whole keyword is not a suffix).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

# Look-up words: language, dictionary, writing, trivia — never a patient's concern.
NOISE_WORDS: frozenset[str] = frozenset((
    "英語", "英語で", "英訳", "英語表記", "和訳", "意味", "読み方", "読み", "漢字", "由来", "語源", "類義語", "対義語",
    "言い換え", "同義語", "例文", "熟語", "書き方", "ひらがな", "カタカナ", "ローマ字", "韓国語", "中国語", "フランス語",
    "ドイツ語", "スペイン語", "季語", "歌詞", "クロスワード", "しりとり", "なぞなぞ", "英単語", "略語", "正式名称",
    "イラスト", "フリー素材", "素材", "画数", "辞書", "wiki", "wikipedia", "ウィキ",
))
NOISE_ENDINGS: tuple[str, ...] = ("の意味", "の読み方", "の由来", "の英語", "を英語で", "の語源", "の類義語", "の漢字",
                                  "英語で", "とは英語")


def _words(keyword: str) -> list[str]:
    return unicodedata.normalize("NFKC", keyword or "").lower().split()


def is_noise(keyword: str) -> bool:
    words = _words(keyword)
    if not words:
        return True
    if any(w in NOISE_WORDS or w.endswith(NOISE_ENDINGS) for w in words[1:]):
        return True
    return len(words) == 1 and words[0].endswith(NOISE_ENDINGS)


def clean_rows(rows: Iterable[dict[str, Any]], key: str = "keyword") -> list[dict[str, Any]]:
    """The rows whose keyword has a patient meaning, in their order."""
    return [row for row in rows if not is_noise(str(row.get(key) or ""))]
