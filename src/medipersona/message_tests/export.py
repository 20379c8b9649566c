"""A message test as documents: CSV (one row per persona; UTF-8 with BOM so that Excel opens it correctly) built in
the web worker, and an A4 landscape PDF drawn in the export pool: the message and the chart with the numbers, the
summary, then the reactions table."""

from __future__ import annotations

import csv
import io
from typing import Any

CSV_COLUMNS = ("名前", "患者タイプ", "年齢", "性別", "スコア", "予約する", "感想", "懸念", "ペルソナID")
TABLE_COLUMNS = (("名前", 30.0), ("患者タイプ", 28.0), ("年齢・性別", 22.0), ("スコア", 14.0), ("予約", 14.0),
                 ("感想", 110.0), ("懸念", 59.0))  # 277 mm = the page width less its margins
OFFLINE_NOTE = "※オフライン生成（AI未使用）による定型の反応です"


def results_csv(test: dict[str, Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in test.get("results") or []:
        writer.writerow([r.get("name", ""), r.get("patient_type", ""), r.get("age_label", ""), r.get("gender_label", ""),
                         r.get("score", ""), "はい" if r.get("would_book") else "いいえ", r.get("comment", ""),
                         " / ".join(r.get("concerns") or []), r.get("persona_id", "")])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def build_test_document(test: dict[str, Any], created_label: str) -> dict[str, Any]:
    from medipersona.message_tests.prompt import SUMMARY_SECTIONS

    summary = test.get("summary") or {}
    stats = summary.get("stats") or {}
    offline = bool((summary.get("meta") or {}).get("is_offline"))
    subtitle = f"{test['kind_label']}　{stats.get('count', 0)}人　{created_label}" + (f"　{OFFLINE_NOTE}" if offline else "")
    return {
        "title": "メッセージテスト", "name": f"メッセージテスト（{test['kind_label']}）", "created": test.get("created_at"),
        "subtitle": subtitle, "message": test.get("message", ""), "stats": stats,
        "numbers": [("回答した人数", f"{stats.get('count', 0)}人"), ("平均スコア", f"{stats.get('average', 0)}"),
                    ("予約すると答えた人", f"{stats.get('would_book', 0)}人")]
        + [(row["patient_type"], f"{row['count']}人・平均{row['average']}・予約{row['would_book']}人")
           for row in stats.get("by_type") or []],
        "summary": [(label, summary.get(key, "")) for key, label in SUMMARY_SECTIONS],
        "rows": [[r.get("name", ""), r.get("patient_type", ""), f"{r.get('age_label', '')}・{r.get('gender_label', '')}",
                  f"{r.get('score', '')}点", "する" if r.get("would_book") else "しない", r.get("comment", ""),
                  "、".join(r.get("concerns") or []) or "—"] for r in test.get("results") or []],
    }


# --- layout (export pool) -----------------------------------------------------------------------------------


def test_pages(fm, doc: dict) -> list:
    from medipersona.exports.geometry import (
        BORDER,
        MARGIN,
        PAGE_H,
        PAGE_W,
        WHITE,
        Box,
        FontRange,
        Page,
        image,
        rect,
    )
    from medipersona.exports.panels import Block, info_panels, titled_blocks
    from medipersona.exports.pdf import FONT_KEY
    from medipersona.exports.tables import block_grid_page, page_header, table_pages
    from medipersona.message_tests.chart import score_chart_svg

    first = Page()
    top = page_header(fm, first.ops, doc["title"], doc.get("subtitle") or "")
    left_w = 120.0
    bottom = PAGE_H - MARGIN
    message = Block("テストした文章", doc.get("message") or "—", Box(MARGIN, top, left_w, bottom - top))
    first.ops.extend(titled_blocks(fm, [message], FontRange(10.0, 6.0)))
    x = MARGIN + left_w + 6
    width = PAGE_W - MARGIN - x
    chart_h = width * 300 / 640
    svg = score_chart_svg(doc.get("stats") or {}, 640, 300, font_family=FONT_KEY, title=False)
    chart_box = Box(x, top, width, chart_h)
    first.ops.append(rect(chart_box, fill=WHITE, border=BORDER))
    first.ops.append(image(chart_box, svg.encode(), "svg"))
    first.ops.extend(info_panels(fm, [("集計", doc.get("numbers") or [])],
                                 Box(x, top + chart_h + 4, width, bottom - top - chart_h - 4)))
    second = block_grid_page(fm, "まとめ", doc.get("subtitle") or "", list(doc.get("summary") or []),
                             font=FontRange(10.5, 5.5))
    table = table_pages(fm, list(TABLE_COLUMNS), doc.get("rows") or [], title="一人ひとりの反応",
                        subtitle=doc.get("subtitle") or "", size=8.0, max_lines=12, empty="反応はありません。")
    return [first, second, *table]


def render_test_pdf(doc: dict) -> bytes:
    from medipersona.exports.fonts import metrics
    from medipersona.exports.pdf import pages_pdf

    return pages_pdf(test_pages(metrics(), doc), doc, "")
