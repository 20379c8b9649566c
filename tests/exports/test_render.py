"""Rendering without HTTP: page count, Japanese text, embedded font, fitting of long inputs, PPTX fonts and boxes."""

from __future__ import annotations

import pytest
from export_checks import (
    HEADINGS_PAGE1,
    HEADINGS_PAGE2,
    SECTION_TEXT,
    pdf_fonts,
    pdf_pages_text,
    pdf_to_pngs,
    pptx_report,
    sample_series,
)

from medipersona.catalog.labels import PERSONA_SECTIONS

pytestmark = pytest.mark.timeout(120)


def make_doc(*, timeline: bool = True, long: bool = False, portrait: bytes | None = None) -> dict:
    section = (SECTION_TEXT * 8)[:400] if long else SECTION_TEXT
    extras = [("座右の銘", "継続は力なり"), ("最近の悩み/関心", "肌荒れと睡眠不足、子育てで自分の時間が取れないこと")]
    if long:
        extras += [(f"自由項目{i}", "自由記述の追加項目の値で、少し長めの説明が入ります。") for i in range(12)]
    doc = {
        "title": "患者ペルソナ",
        "name": ("長い名前のペルソナ" * 6) if long else "山田 花子",
        "meta": [("診療科", "内科"), ("主訴", "めまい"), ("作成日", "2026-11-28")],
        "portrait": portrait,
        "basic": [("性別", "女性"), ("年齢", "34歳"), ("都道府県", "東京都"),
                  ("家族構成", "夫、長女（8歳）、義母と4人暮らしで、週末は実家の手伝いもしている" if long else "夫と2人")],
        "extras": extras,
        "sections": [(s.label, section) for s in PERSONA_SECTIONS],
        "timeline": None,
    }
    if timeline:
        doc["timeline"] = {
            "subtitle": "山田 花子　内科／めまい",
            "series": sample_series(),
            "summary": [("キーワード数", "80語"), ("ピーク", "-2日")],
            "analysis": [("心理変化の分析", (SECTION_TEXT * 6)[: 600 if long else 200]),
                         ("隠れたニーズ", (SECTION_TEXT * 6)[: 600 if long else 150]),
                         ("マーケティング提案", (SECTION_TEXT * 6)[: 600 if long else 250])],
        }
    return doc


def all_text_ops(doc, portrait=None):
    from medipersona.exports.assets import chart_png
    from medipersona.exports.fonts import metrics
    from medipersona.exports.layout import build_pages

    series = (doc.get("timeline") or {}).get("series")
    return build_pages(metrics(), doc, portrait, lambda w, h: chart_png(series, w, h))


def test_pdf_two_pages_headings_and_embedded_font(tmp_path):
    from medipersona.exports.pdf import render_pdf

    data = render_pdf(make_doc())
    assert data.startswith(b"%PDF")
    pages = pdf_pages_text(data)
    assert len(pages) == 2
    compact = [p.replace(" ", "") for p in pages]
    for heading in HEADINGS_PAGE1 + ["山田花子"]:
        assert heading in compact[0], heading
    for heading in HEADINGS_PAGE2:
        assert heading in compact[1], heading
    fonts = pdf_fonts(data)
    assert fonts and all(f["emb"] == "yes" for f in fonts), fonts
    assert any("IPAexGothic" in f["name"] for f in fonts)
    pngs = pdf_to_pngs(data, tmp_path)
    assert len(pngs) == 2


def test_pdf_without_timeline_is_one_page():
    from medipersona.exports.pdf import render_pdf

    pages = pdf_pages_text(render_pdf(make_doc(timeline=False)))
    assert len(pages) == 1
    assert "タイムライン分析" not in pages[0]


def test_long_inputs_fit_without_cutting():
    """400-character sections, a long name, many free fields: everything is drawn, nothing cut or overflowing."""
    from medipersona.exports.fonts import PT_MM, metrics
    from medipersona.exports.layout import ELLIPSIS, LINE_FACTOR, PAGE_H, PAGE_W
    from medipersona.exports.pdf import render_pdf

    doc = make_doc(long=True)
    pages = all_text_ops(doc)
    fm = metrics()
    drawn = []
    for page in pages:
        for op in page.ops:
            assert 0 <= op.x and op.x + op.w <= PAGE_W + 0.01 and 0 <= op.y and op.y + op.h <= PAGE_H + 0.01
            if op.kind != "text":
                continue
            assert len(op.lines) * op.size * LINE_FACTOR * PT_MM <= op.h + 0.02, op.text[:20]
            for line in op.lines:
                assert fm.width_mm(line, op.size) <= op.w + 0.01, line
                assert not line.endswith(ELLIPSIS), "text was cut"
            assert op.size >= 5
            drawn.append("".join(op.lines))
    everything = "".join(drawn)
    for _, text in doc["sections"]:
        assert text in everything
    for label, value in doc["extras"]:
        assert value in everything and label in everything
    assert doc["name"] in everything
    assert len(pdf_pages_text(render_pdf(doc))) == 2


def test_kinsoku_no_line_starts_with_closing_punctuation():
    from medipersona.exports.fonts import metrics
    from medipersona.exports.layout import NO_LINE_START, wrap

    text = "あいうえおかきくけこ、さしすせそ。たちつてと」なにぬねの）" * 10
    for width in (20, 27.3, 31, 45.5):
        for line in wrap(metrics(), text, width, 9)[1:]:
            assert line and line[0] not in NO_LINE_START, (width, line)


def test_pptx_two_slides_ea_fonts_and_boxes_fit(tmp_path):
    from medipersona.exports.pptx import render_pptx

    for doc in (make_doc(), make_doc(long=True)):
        report = pptx_report(render_pptx(doc))
        assert report["slides"] == 2
        assert "山田 花子" in report["texts"][0] or "長い名前" in report["texts"][0]
        for heading in HEADINGS_PAGE1:
            assert heading in report["texts"][0]
        for heading in HEADINGS_PAGE2:
            assert heading in report["texts"][1]
        assert report["runs_without_ea"] == []
        assert report["overflowing"] == []
        assert report["overlapping"] == []
        assert report["outside"] == []


def test_pptx_without_timeline_has_one_slide():
    from medipersona.exports.pptx import render_pptx

    assert pptx_report(render_pptx(make_doc(timeline=False)))["slides"] == 1


def test_unsupported_characters_are_dropped_not_tofu():
    from medipersona.exports.fonts import metrics

    assert metrics().clean("花子😀\x07\tさん") == "花子 さん"


def test_portrait_from_stored_bytes_and_broken_bytes():
    from io import BytesIO

    from PIL import Image

    from medipersona.exports.assets import load_portrait

    for fmt in ("PNG", "WEBP"):
        good = BytesIO()
        Image.new("RGBA", (1024, 1024), (200, 100, 50, 255)).save(good, format=fmt)
        data, w, h = load_portrait(good.getvalue())
        assert data[:2] == b"\xff\xd8" and max(w, h) <= 640
    assert load_portrait(b"not an image") is None
    assert load_portrait(None) is None


def test_longest_analysis_still_fits_on_page_two():
    """The analysis schema allows 2,000 characters per heading: the chart gives up width, nothing is cut."""
    from medipersona.exports.layout import ELLIPSIS
    from medipersona.exports.pdf import render_pdf
    from medipersona.exports.pptx import render_pptx

    doc = make_doc()
    doc["timeline"]["analysis"] = [(h, (SECTION_TEXT * 30)[:2000]) for h in ("心理変化の分析", "隠れたニーズ",
                                                                           "マーケティング提案")]
    doc["timeline"]["summary"] = [(f"項目{i}", f"値{i}") for i in range(8)]
    page2 = all_text_ops(doc)[1]
    drawn = "".join("".join(op.lines) for op in page2.ops if op.kind == "text")
    assert all(not "".join(op.lines).endswith(ELLIPSIS) for op in page2.ops if op.kind == "text")
    for _, text in doc["timeline"]["analysis"]:
        assert text in drawn
    assert len(pdf_pages_text(render_pdf(doc))) == 2
    report = pptx_report(render_pptx(doc))
    assert report["slides"] == 2 and report["overflowing"] == [] and report["overlapping"] == []


def test_dozens_of_free_fields_say_what_was_left_out():
    from medipersona.exports.pdf import render_pdf

    doc = make_doc()
    doc["extras"] = [(f"自由項目{i}", "自由記述の追加項目の値で、少し長めの説明が入ります。" * 2) for i in range(40)]
    text = pdf_pages_text(render_pdf(doc))[0].replace(" ", "")
    assert "自由項目0" in text and "ほか" in text and "項目は画面でご確認ください" in text


def test_every_extra_field_at_realistic_lengths_fits():
    """All eight extras and the wizard's maximum of 20 free fields: the left column widens, nothing is dropped."""
    from medipersona.exports.layout import ELLIPSIS
    from medipersona.exports.pdf import render_pdf
    from medipersona.exports.pptx import render_pptx

    doc = make_doc(long=True)
    doc["extras"] = [(f"特徴{i}", "仕事と家庭の両立に悩みつつ、休日は家族で過ごす時間を大切にしている。") for i in range(8)]
    doc["extras"] += [(f"自由項目{i}", "自由記述の追加項目の値で、少し長めの説明が入ります。") for i in range(20)]
    page1 = all_text_ops(doc)[0]
    drawn = "".join("".join(op.lines) for op in page1.ops if op.kind == "text")
    for label, value in doc["extras"]:
        assert label in drawn and value in drawn, label
    for _, text in doc["sections"]:
        assert text in drawn
    assert ELLIPSIS not in drawn and "ほか" not in drawn
    assert min(op.size for op in page1.ops if op.kind == "text") >= 5
    assert len(pdf_pages_text(render_pdf(doc))) == 2
    report = pptx_report(render_pptx(doc))
    assert report["overflowing"] == [] and report["overlapping"] == [] and report["outside"] == []
