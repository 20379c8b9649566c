"""The numbers of a message test, computed from the reactions (never by a model): score distribution, average,
how many would book, per patient type, and the concerns named most often."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

TOP_CONCERNS = 5
NO_TYPE = "患者タイプなし"


def _key(text: str) -> str:
    """Concerns that differ only in width, spaces or final punctuation count as one."""
    return re.sub(r"[\s。、．，！？!?]+$", "", unicodedata.normalize("NFKC", text).strip())


def compute_stats(results: list[dict[str, Any]]) -> dict[str, Any]:
    count = len(results)
    scores = [int(r["score"]) for r in results]
    distribution = {str(k): scores.count(k) for k in range(1, 6)}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_type.setdefault(r.get("patient_type") or NO_TYPE, []).append(r)
    concerns: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for r in results:
        for text in {_key(c): c for c in r.get("concerns") or [] if _key(c)}.items():
            concerns[text[0]] += 1
            shown.setdefault(text[0], text[1].strip())
    return {
        "count": count,
        "average": round(sum(scores) / count, 2) if count else 0.0,
        "distribution": distribution,
        "would_book": sum(1 for r in results if r.get("would_book")),
        "by_type": [{"patient_type": name, "count": len(rows),
                     "average": round(sum(int(r["score"]) for r in rows) / len(rows), 2),
                     "would_book": sum(1 for r in rows if r.get("would_book"))}
                    for name, rows in sorted(by_type.items(), key=lambda kv: (-len(kv[1]), kv[0]))],
        "top_concerns": [{"text": shown[key], "count": n} for key, n in concerns.most_common(TOP_CONCERNS)],
    }
