"""Rule-based keyword categories (one source of truth for the importer, the timeline and the analysis).

A keyword gets the category of its highest-priority cue word (order of ``CATEGORY_CUES``): "インプラント 費用" is
about cost even though インプラント is a treatment. Keywords with no cue are その他.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

OTHER = "その他"

# Category -> cue words, in priority order (first match wins). Cue words are matched on the NFKC-normalised,
# lower-cased keyword.
CATEGORY_CUES: dict[str, tuple[str, ...]] = {
    "費用・保険": (
        "費用", "料金", "値段", "価格", "相場", "いくら", "万円", "千円", "保険", "医療費", "控除", "助成", "補助", "自費",
        "自由診療", "無料", "安い", "高額", "ローン", "分割", "払い", "コスト", "給付", "公費",
    ),
    "体験談・口コミ": (
        "口コミ", "くちこみ", "評判", "ブログ", "体験", "知恵袋", "ランキング", "おすすめ", "比較", "感想",
        "レビュー", "経験", "芸能人", "有名人", "闘病", "名医", "後悔", "失敗", "やってみた", "ビフォーアフター",
    ),
    "医療機関": (
        "病院", "クリニック", "医院", "診療所", "何科", "科 ", "近く", "現在地", "予約", "受診", "専門医",
        "夜間", "休日", "土曜", "日曜", "救急", "紹介状", "初診", "外来", "歯医者", "歯科", "皮膚科", "内科",
        "眼科", "耳鼻科", "耳鼻咽喉科", "整形外科", "小児科", "婦人科", "泌尿器科", "外科", "オンライン診療",
        "往診", "駅",
    ),
    "予防・生活習慣": (
        "予防", "食事", "食べ物", "飲み物", "運動", "生活習慣", "ダイエット", "睡眠", "サプリ", "ストレッチ",
        "セルフケア", "ケア", "習慣", "レシピ", "栄養", "禁煙", "ワクチン", "予防接種", "検診", "健診", "ドック",
        "スキンケア", "歯磨き", "歯ブラシ", "フロス", "マウスウォッシュ", "うがい", "手洗い", "マスク", "対策",
        "仕事", "学校", "登園", "登校", "休む", "お風呂", "入浴", "飲酒", "お酒", "たばこ", "タバコ",
    ),
    "原因・理解": (
        "原因", "とは", "理由", "なぜ", "なりやすい", "メカニズム", "種類", "違い", "見分け", "診断", "検査",
        "うつる", "感染", "遺伝", "流行", "潜伏期間", "ストレス", "意味", "読み方", "英語", "基準", "数値",
        "何日", "いつまで", "期間", "経過", "確率", "生存率", "ステージ", "画像", "写真", "ウイルス", "細菌",
        "治りかけ", "位置", "仕組み", "ガイドライン", "病気", "疾患", "症候群",
    ),
    "治療・対策": (
        "治療", "治し方", "治す", "治る", "治らない", "治った", "薬", "市販", "処方", "手術", "注射", "点滴",
        "軟膏", "クリーム", "塗り薬", "飲み薬", "漢方", "抗生", "レーザー", "除去", "施術", "リハビリ",
        "自然治癒", "対処", "和らげる", "改善", "方法", "抜歯", "インプラント", "入れ歯", "矯正", "ホワイトニング",
        "根管", "詰め物", "被せ物", "麻酔", "ロキソニン", "カロナール", "ステロイド", "消毒", "冷やす", "温める",
        "ツボ", "マッサージ", "即効", "応急", "病院行くべき", "副作用", "効果", "効く", "錠", "mg", "カプセル",
        "テープ", "スプレー", "ジェル", "飲み方", "ダウンタイム", "療法", "ボトックス", "セラミック", "クラウン",
    ),
    "症状・不安": (
        "症状", "痛い", "痛み", "痛む", "かゆい", "かゆみ", "腫れ", "熱", "咳", "せき", "だるい", "吐き気",
        "下痢", "しびれ", "めまい", "出血", "血", "赤い", "赤み", "ブツブツ", "できもの", "しこり", "不安",
        "怖い", "心配", "大丈夫", "初期", "前兆", "サイン", "チェック", "セルフチェック", "重症", "悪化", "ひどい",
        "止まらない", "続く", "繰り返す", "寒気", "頭痛", "腹痛", "喉", "のど", "鼻水", "息苦しい", "動悸",
        "むくみ", "眠れない", "疲れ", "ズキズキ", "ピリピリ", "違和感", "しみる", "ぐらぐら", "口臭", "臭い",
        "痛", "痰", "発疹", "湿疹", "不調", "異常", "障害", "眠い", "頻尿", "危険", "吐く", "嘔吐", "便秘",
        "ただれ", "水ぶくれ", "皮むけ", "乾燥", "たるみ", "シミ", "しみ", "くすみ", "毛穴", "脱毛", "抜け毛",
    ),
}

CATEGORIES: tuple[str, ...] = (*CATEGORY_CUES.keys(), OTHER)
# Display order (timeline, chart legend, analysis).
DISPLAY_ORDER: tuple[str, ...] = (
    "症状・不安", "原因・理解", "治療・対策", "医療機関", "費用・保険", "体験談・口コミ", "予防・生活習慣", OTHER,
)

_PRIORITY = {name: i for i, name in enumerate(CATEGORY_CUES)}
_CUE_TO_CATEGORY: dict[str, str] = {}
for _cat, _cues in CATEGORY_CUES.items():
    for _cue in _cues:
        key = unicodedata.normalize("NFKC", _cue).lower()
        # A cue listed in two categories belongs to the higher-priority one.
        if key not in _CUE_TO_CATEGORY:
            _CUE_TO_CATEGORY[key] = _cat


def _trie_pattern(words: list[str]) -> str:
    """One regex for many literal words, as a trie (``耳鼻(?:咽喉科|科)``...): the engine follows one branch per
    character instead of trying every word at every position (several times faster on 500,000 keywords).
    Greedy: at a position the longest word wins (耳鼻咽喉科 over 科), as with an alternation longest-first."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return build(trie)


_PATTERN = re.compile(_trie_pattern(list(_CUE_TO_CATEGORY)))


_CUE_RANK: dict[str, int] = {cue: _PRIORITY[cat] for cue, cat in _CUE_TO_CATEGORY.items()}
_BY_RANK: tuple[str, ...] = tuple(CATEGORY_CUES)


@lru_cache(maxsize=65536)
def categorize(keyword: str) -> str:
    """The category of one keyword (rule-based, deterministic): its highest-priority cue word wins."""
    found = _PATTERN.findall(unicodedata.normalize("NFKC", keyword).lower())
    if not found:
        return OTHER
    rank = _CUE_RANK
    return _BY_RANK[min(rank[c] for c in found)]
