"""An interview as a document: Markdown (built here, in the web worker: plain text) and an A4 landscape PDF whose
pages (a table of speaker and words, continued over as many pages as needed) are drawn in the export pool.
"""

from __future__ import annotations

from typing import Any

OFFLINE_NOTE = "回答はオフライン生成（AI未使用）による定型の応答です。"
FICTION_NOTE = "このインタビューの回答者は、マーケティング検討のために作られた架空の人物です。"
SPEAKER_W = 40.0
PDF_PT = 9.0
PDF_MAX_LINES = 60


def _profile_line(data: dict[str, Any]) -> str:
    return "、".join(v for v in data.get("profile", []) if v)


def build_interview_document(interview: dict[str, Any], persona: dict[str, Any]) -> dict[str, Any]:
    """Plain data for the Markdown and the PDF. ``interview``: the API dict; ``persona``: name, labels, created."""
    name = persona.get("name") or "ペルソナ"
    rows = [["インタビュアー" if m["role"] == "user" else name, m["text"]] for m in interview.get("messages") or []]
    offline = any(m.get("is_offline") for m in interview.get("messages") or [] if m["role"] == "persona")
    notes = [FICTION_NOTE] + ([OFFLINE_NOTE] if offline else [])
    return {"title": "インタビュー記録", "name": f"{name}へのインタビュー", "persona_name": name,
            "created": interview.get("created_at"), "subtitle": persona.get("subtitle", ""),
            "profile": persona.get("profile", []), "rows": rows, "notes": notes,
            "interview_title": interview.get("title") or ""}


def interview_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# {doc['name']}", ""]
    if doc.get("subtitle"):
        lines += [f"- {doc['subtitle']}"]
    if doc.get("profile"):
        lines += [f"- プロフィール: {_profile_line(doc)}"]
    if doc.get("created"):
        lines += [f"- 開始: {doc['created'][:16].replace('T', ' ')}（UTC）"]
    lines += [*(f"- {note}" for note in doc.get("notes", [])), ""]
    for speaker, text in doc.get("rows") or []:
        body = "\n".join(f"> {line}" if line else ">" for line in text.splitlines())
        lines += [f"**{speaker}**", "", body, ""]
    if not doc.get("rows"):
        lines += ["（まだ質問はありません）", ""]
    return "\n".join(lines)


# --- layout (export pool) -----------------------------------------------------------------------------------


def interview_pages(fm, doc: dict) -> list:
    from medipersona.exports.geometry import MARGIN, MUTED, PAGE_W, Box, FontRange, Page
    from medipersona.exports.tables import page_header, table_pages
    from medipersona.exports.text_fit import shrink_to_content, text_op

    page = Page()
    top = page_header(fm, page.ops, doc.get("name") or "インタビュー記録", doc.get("subtitle") or "")
    intro = "\n".join(filter(None, ["プロフィール：" + _profile_line(doc) if doc.get("profile") else "",
                                    *doc.get("notes", [])]))
    note = shrink_to_content(text_op(fm, intro, Box(MARGIN, top, PAGE_W - 2 * MARGIN, 24), FontRange(9, 6.5),
                                     color=MUTED))
    page.ops.append(note)
    columns = [("発言者", SPEAKER_W), ("内容", PAGE_W - 2 * MARGIN - SPEAKER_W)]
    rest = table_pages(fm, columns, doc.get("rows") or [], title=doc.get("name") or "インタビュー記録",
                       subtitle=doc.get("subtitle") or "", size=PDF_PT, max_lines=PDF_MAX_LINES,
                       start=(page, note.y + note.h + 3), empty="まだ質問はありません。")
    return [page, *rest]


def render_interview_pdf(doc: dict) -> bytes:
    from medipersona.exports.fonts import metrics
    from medipersona.exports.pdf import pages_pdf

    return pages_pdf(interview_pages(metrics(), doc), doc, "インタビュー記録")
