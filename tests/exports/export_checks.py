"""Inspection helpers: poppler for PDFs, python-pptx plus the font's own metrics for PPTX files."""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
from io import BytesIO
from pathlib import Path

import pytest

from medipersona.catalog.labels import PERSONA_SECTIONS

SECTION_TEXT = ("仕事と家庭の両立を大切にしており、自分の時間を確保することに価値を感じている。"
                "周囲の評判やSNSの口コミをよく確認し、納得してから行動するタイプ。")


def sample_sections(length: int = 200) -> dict[str, str]:
    return {s.key: (s.label + "。" + SECTION_TEXT * 10)[:length] for s in PERSONA_SECTIONS}


def sample_series(n: int = 80, seed: int = 3) -> list[dict]:
    rnd = random.Random(seed)
    points = []
    for i in range(n):
        days = rnd.uniform(-90, 60)
        points.append({"keyword": f"めまい 原因 {i}", "days": round(days, 3), "overlap": rnd.randint(20, 4000),
                       "volume": 1000, "estimated_volume": 300, "category": "症状・不安",
                       "phase": "before" if days < 0 else "after", "rank": i})
    return sorted(points, key=lambda p: p["days"])

HEADINGS_PAGE1 = ["基本情報", "その他の特徴", "性格（価値観・人生観）", "通院理由", "症状通院頻度・行動パターン",
                  "口コミの重視ポイント", "医療機関への価値観・行動傾向", "医療機関に求めるもの"]
HEADINGS_PAGE2 = ["タイムライン分析", "心理変化の分析", "隠れたニーズ", "マーケティング提案"]


def need_poppler() -> None:
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils not installed (apt-get install -y poppler-utils)")


def pdf_pages_text(data: bytes) -> list[str]:
    """Text of each page (pdftotext), split on form feeds."""
    need_poppler()
    out = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True,
                         check=True).stdout.decode()
    pages = out.split("\f")
    return [p for p in pages[:-1]] if pages and not pages[-1].strip() else pages


def pdf_fonts(data: bytes) -> list[dict]:
    need_poppler()
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        out = subprocess.run(["pdffonts", fh.name], capture_output=True, check=True, text=True).stdout
    fonts = []
    for line in out.splitlines()[2:]:
        parts = line.split()
        # name type... encoding emb sub uni object gen
        fonts.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return fonts


def pdf_to_pngs(data: bytes, out_dir: Path, dpi: int = 60) -> list[Path]:
    need_poppler()
    pdf = out_dir / "doc.pdf"
    pdf.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out_dir / "page")], check=True)
    return sorted(out_dir.glob("page-*.png"))


def pptx_report(data: bytes) -> dict:
    """Slides, all text, runs without an East-Asian font, and text boxes whose measured text exceeds the box."""
    from pptx import Presentation
    from pptx.oxml.ns import qn

    from medipersona.exports.preview import measured_height_mm, text_boxes

    prs = Presentation(BytesIO(data))
    texts: list[str] = []
    runs_without_ea = []
    overflowing = []
    outside = []
    slide_w, slide_h = prs.slide_width, prs.slide_height
    overlapping = []
    for n, slide in enumerate(prs.slides, start=1):
        slide_text = []
        boxes = [(s.left, s.top, s.left + s.width, s.top + s.height, s.text_frame.text[:15])
                 for s, _ in text_boxes(slide)]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    overlapping.append((n, a[4], b[4]))
        for shape in slide.shapes:
            if shape.left < 0 or shape.top < 0 or shape.left + shape.width > slide_w + 1 \
                    or shape.top + shape.height > slide_h + 1:
                outside.append((n, shape.name))
            if not shape.has_text_frame:
                continue
            for p in shape.text_frame.paragraphs:
                for run in p.runs:
                    ea = run._r.find(qn("a:rPr") + "/" + qn("a:ea"))
                    if ea is None or not ea.get("typeface"):
                        runs_without_ea.append((n, run.text[:20]))
        for shape, paragraphs in text_boxes(slide):
            slide_text.append(shape.text_frame.text)
            height = measured_height_mm(paragraphs, shape.width / 36000)
            if height > shape.height / 36000 + 0.05:
                overflowing.append((n, shape.text_frame.text[:30], round(height, 2), round(shape.height / 36000, 2)))
        texts.append("\n".join(slide_text))
    return {"slides": len(prs.slides), "texts": texts, "runs_without_ea": runs_without_ea,
            "overflowing": overflowing, "outside": outside,
            "overlapping": overlapping}
