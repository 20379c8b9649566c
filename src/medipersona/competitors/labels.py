"""Labels of the competitor analysis shared by the pages, the exports, the prompt and the offline composer
(one source of truth). Codes are what the API stores; labels are what people and models read."""

from __future__ import annotations

from medipersona.competitors.schemas import RADII

RADIUS_CHOICES: tuple[tuple[int, str], ...] = tuple((km, f"半径{km}km") for km in RADII)

# SWOT quadrants, in display order (key in ``swot``, label).
SWOT_SECTIONS: tuple[tuple[str, str], ...] = (
    ("strengths", "強み"),
    ("weaknesses", "弱み"),
    ("opportunities", "機会"),
    ("threats", "脅威"),
)

# The three strategy groups (key in ``swot``, label).
STRATEGY_SECTIONS: tuple[tuple[str, str], ...] = (
    ("differentiation", "差別化戦略"),
    ("marketing", "マーケティング戦略"),
    ("operations", "オペレーション改善"),
)

# The steps of the analysis job, in order (key of its ``section`` events, label).
ANALYSIS_STEPS: tuple[tuple[str, str], ...] = (
    ("competitors", "競合医療機関"),
    ("market", "市場データ"),
    ("population", "地域の人口"),
    ("demand", "需要推計"),
    ("swot", "SWOT分析・戦略"),
)

AGE_BAND_LABELS: dict[str, str] = {"0-14": "0〜14歳", "15-64": "15〜64歳", "65-74": "65〜74歳", "75+": "75歳以上"}

# Google Places (New) returns at most 60 places per search term (20 per type search): when a search had more,
# the radius may hold more clinics than the analysis shows.
PLACES_CAP_NOTE = ("Google Places APIは1つの検索語につき最大60件（種別検索は20件）を返します。上限に達した検索語があるため、"
                   "半径内にはこれより多くの医療機関がある可能性があります（近い順に取得しています）。")
