"""Competitor-analysis exports: pages and their content, the map drawn in (no outside data), long tables paginated
without overflow, PPTX fonts, and the endpoints (files, names, permissions, states)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from export_checks import pdf_fonts, pdf_pages_text, pptx_report

from tests.competitors.analysis_samples import XSS, analysis_values, competitor, insert_analysis

pytestmark = pytest.mark.timeout(180)

PAGE_TITLES = ["競合分析", "競合医療機関（距離の近い順・3件）", "SWOT分析", "地域・需要と戦略提案"]


def document(**overrides) -> dict:
    from medipersona.competitors.models import CompetitorAnalysis
    from medipersona.competitors.service import analysis_to_api
    from medipersona.exports.competitors import build_competitor_document

    return build_competitor_document(analysis_to_api(CompetitorAnalysis(id="a" * 32, **analysis_values(1, **overrides))))


def compact(text: str) -> str:
    return "".join(text.split())


def test_pdf_pages_content_and_embedded_font():
    from medipersona.exports.pdf import render_competitors_pdf

    data = render_competitors_pdf(document())
    pages = [compact(p) for p in pdf_pages_text(data)]
    assert len(pages) == 4
    for page, title in zip(pages, PAGE_TITLES, strict=True):
        assert page.startswith(compact(title)), page[:60]
    # Page 1: the map (drawn as vector text: title, ring labels, north, legend) beside the clinic and market data.
    for text in ("競合マップ", "3km", "自院", "競合（番号は一覧の順位）", "さくら内科クリニック", "取り込んだ競合リスト",
                 "平均評価", "3.8", "33%", "1km以内"):
        assert text in pages[0], text
    # Page 2: the table in distance order; markup in a name is plain text.
    table = pages[1]
    assert table.index("あおば内科") < table.index(compact(XSS)) < table.index("みどり医院")
    assert "600m" in table and "2.10km" in table and "https://aoba.example.jp/" in table
    assert "javascript:alert" not in table
    for label in ("強み", "弱み", "機会", "脅威", "土曜午後の診療は周辺で少ない。"):
        assert label in pages[2]
    for label in ("地域の人口", "データなし", "需要推計", "差別化戦略", "マーケティング戦略", "オペレーション改善"):
        assert label in pages[3]
    fonts = pdf_fonts(data)
    assert fonts and all(f["emb"] == "yes" for f in fonts), fonts


def test_long_competitor_list_continues_on_more_pages_and_fits():
    from medipersona.exports.pdf import render_competitors_pdf
    from medipersona.exports.pptx import render_competitors_pptx

    hours = "月曜日: 9時00分～12時30分, 15時00分～18時30分\n火曜日: 9時00分～12時30分\n水曜日: 休診日\n" * 3
    comps = [competitor(f"医院{i:02d}", 30 * i, 10 * i, rating=4.0, reviews=i, hours=hours,
                        website=f"https://clinic{i}.example.jp/" + "long/" * 12) for i in range(60)]
    doc = document(competitors=comps, market={"count": 60})
    pages = [compact(p) for p in pdf_pages_text(render_competitors_pdf(doc))]
    table_pages = [p for p in pages if p.startswith(compact("競合医療機関"))]
    assert len(table_pages) >= 2
    assert all("（続き）" in p for p in table_pages[1:])
    joined = "".join(table_pages)
    assert all(f"医院{i:02d}" in joined for i in range(60))  # no row lost between pages
    report = pptx_report(render_competitors_pptx(doc))
    assert report["slides"] == len(pages)
    assert report["overflowing"] == [] and report["outside"] == [] and report["runs_without_ea"] == []


def test_pptx_same_content_with_the_map_as_picture():
    from io import BytesIO

    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    from medipersona.exports.pptx import render_competitors_pptx

    data = render_competitors_pptx(document())
    report = pptx_report(data)
    assert report["slides"] == 4
    assert report["runs_without_ea"] == [] and report["overflowing"] == [] and report["outside"] == []
    for text, title in zip(report["texts"], PAGE_TITLES, strict=True):
        assert title in text
    assert "差別化戦略" in report["texts"][3]
    slide1 = Presentation(BytesIO(data)).slides[0]
    assert any(s.shape_type == MSO_SHAPE_TYPE.PICTURE for s in slide1.shapes)


def test_empty_area_still_exports_with_a_message():
    from medipersona.exports.pdf import render_competitors_pdf

    pages = [compact(p) for p in pdf_pages_text(render_competitors_pdf(document(competitors=[], market={})))]
    assert "範囲内に競合医療機関は見つかりませんでした。" in pages[1]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_export_endpoints(member_client, member, app):
    analysis = await insert_analysis(app, member.id)
    response = await member_client.get(f"/api/competitors/{analysis.id}/export.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert 'filename="competitors.pdf"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "さくら内科クリニック_competitors.pdf"
    assert len(pdf_pages_text(response.content)) == 4
    response = await member_client.get(f"/api/competitors/{analysis.id}/export.pptx")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    assert pptx_report(response.content)["slides"] == 4


async def test_export_permissions_and_states(member_client, member, client, app):
    from medipersona.accounts.service import get_user_by_username

    async with app.state.db.sessionmaker() as session:
        admin = await get_user_by_username(session, "admin")
    others = await insert_analysis(app, admin.id)
    for ext in ("pdf", "pptx"):
        response = await member_client.get(f"/api/competitors/{others.id}/export.{ext}")
        assert response.status_code == 404
        assert "競合分析" in response.json()["error"]["message"]
    for status in ("queued", "running", "failed"):
        analysis = await insert_analysis(app, member.id, status=status)
        response = await member_client.get(f"/api/competitors/{analysis.id}/export.pdf")
        assert response.status_code == 409
        body = response.json()["error"]
        assert body["code"] == "analysis_not_ready" and "完了" in body["message"]
    assert (await client.get(f"/api/competitors/{others.id}/export.pdf")).status_code == 401
