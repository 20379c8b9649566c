"""The export endpoints: files, names, permissions, states, stored data only; rendering in the process pool."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import unquote

import pytest
from export_checks import HEADINGS_PAGE1, HEADINGS_PAGE2, pdf_fonts, pdf_pages_text, pptx_report

pytestmark = pytest.mark.timeout(180)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_pdf_export_two_pages_with_timeline(member_client, member, make_persona, stored_portrait, fake_timeline):
    persona = await make_persona(member.id, image_digest=stored_portrait, image_status="done")
    response = await member_client.get(f"/api/personas/{persona.id}/export.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="persona.pdf"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "山田 花子_persona.pdf"
    pages = pdf_pages_text(response.content)
    assert len(pages) == 2
    for heading in HEADINGS_PAGE1:
        assert heading in pages[0]
    for heading in HEADINGS_PAGE2:
        assert heading in pages[1]
    assert "内科" in pages[0] and "めまい" in pages[0]
    assert "34歳" in pages[0] and "年収400〜500万円" in pages[0] and "女性" in pages[0]
    assert "座右の銘" in pages[0] and "好きな食べ物" in pages[0]
    assert all(f["emb"] == "yes" for f in pdf_fonts(response.content))
    # The portrait is embedded as an image (pdfimages lists it).
    images = await asyncio.to_thread(subprocess.run, ["pdfimages", "-list", "-"], input=response.content,
                                     capture_output=True, check=False)
    if images.returncode == 0:
        assert b"jpeg" in images.stdout


async def test_pptx_export(member_client, member, make_persona, stored_portrait, fake_timeline):
    persona = await make_persona(member.id, image_digest=stored_portrait, image_status="done", name="Tanaka 太郎")
    response = await member_client.get(f"/api/personas/{persona.id}/export.pptx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    disposition = response.headers["content-disposition"]
    assert 'filename="Tanaka_persona.pptx"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Tanaka 太郎_persona.pptx"
    report = pptx_report(response.content)
    assert report["slides"] == 2
    for heading in HEADINGS_PAGE1:
        assert heading in report["texts"][0]
    for heading in HEADINGS_PAGE2:
        assert heading in report["texts"][1]
    assert report["runs_without_ea"] == [] and report["overflowing"] == [] and report["overlapping"] == []

    from io import BytesIO

    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    prs = Presentation(BytesIO(response.content))
    pictures = [s for s in prs.slides[0].shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]
    assert len(pictures) == 1  # the stored portrait
    assert len([s for s in prs.slides[1].shapes if s.shape_type == MSO_SHAPE_TYPE.PICTURE]) == 1  # the chart


async def test_without_portrait_and_timeline_one_page(member_client, member, make_persona):
    persona = await make_persona(member.id, timeline_status="idle", timeline_analysis=None)
    response = await member_client.get(f"/api/personas/{persona.id}/export.pdf")
    assert response.status_code == 200, response.text
    pages = pdf_pages_text(response.content)
    if len(pages) == 2:  # keyword data for the complaint exists in this build: page 2 is the chart alone
        assert "タイムライン分析" in pages[1]
    else:
        assert len(pages) == 1
    assert "画像なし" in pages[0]
    response = await member_client.get(f"/api/personas/{persona.id}/export.pptx")
    assert response.status_code == 200
    assert pptx_report(response.content)["slides"] == len(pages)


async def test_analysis_without_series_still_two_pages(member_client, member, make_persona, monkeypatch):
    from medipersona.exports import service

    async def no_series(session, persona):
        return None, []

    monkeypatch.setattr(service, "timeline_series", no_series)
    persona = await make_persona(member.id)
    response = await member_client.get(f"/api/personas/{persona.id}/export.pdf")
    pages = pdf_pages_text(response.content)
    assert len(pages) == 2
    assert "心理変化の分析" in pages[1] and "キーワードデータがありません" in pages[1]


async def test_member_cannot_export_another_users_persona(member_client, admin_client, app, make_persona):
    from medipersona.accounts.service import get_user_by_username

    async with app.state.db.sessionmaker() as session:
        admin = await get_user_by_username(session, "admin")
    persona = await make_persona(admin.id)
    for ext in ("pdf", "pptx"):
        response = await member_client.get(f"/api/personas/{persona.id}/export.{ext}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] in ("not_found", "persona_not_found")
    missing = await member_client.get("/api/personas/doesnotexist/export.pdf")
    assert missing.status_code == 404


async def test_admin_may_export_a_members_persona(admin_client, member, make_persona, fake_timeline):
    persona = await make_persona(member.id)
    response = await admin_client.get(f"/api/personas/{persona.id}/export.pdf")
    assert response.status_code == 200


async def test_unfinished_persona_is_409_in_japanese(member_client, member, make_persona):
    for status in ("queued", "running", "failed"):
        persona = await make_persona(member.id, status=status)
        response = await member_client.get(f"/api/personas/{persona.id}/export.pdf")
        assert response.status_code == 409
        body = response.json()["error"]
        assert body["code"] == "persona_not_ready"
        assert "完了" in body["message"]


async def test_login_required(client, member, make_persona):
    persona = await make_persona(member.id)
    response = await client.get(f"/api/personas/{persona.id}/export.pdf")
    assert response.status_code == 401


async def test_portrait_missing_from_storage_exports_without_it(member_client, member, make_persona):
    """A persona whose portrait is not (or no longer) in shared storage exports with 画像なし, not an error."""
    for digest in ("0" * 64, "not-a-digest", None):
        persona = await make_persona(member.id, image_digest=digest, image_status="done", timeline_status="idle",
                                     timeline_analysis=None)
        response = await member_client.get(f"/api/personas/{persona.id}/export.pdf")
        assert response.status_code == 200
        assert "画像なし" in pdf_pages_text(response.content)[0], digest


def test_content_disposition_names():
    from medipersona.exports.service import content_disposition, export_filename

    assert export_filename("山田 花子", "pdf") == "山田 花子_persona.pdf"
    assert export_filename('a/b\\c"d', "pdf") == "abcd_persona.pdf"
    assert export_filename("  山田\u3000花子\n ", "pdf") == "山田 花子_persona.pdf"
    assert export_filename("", "pptx") == "persona.pptx"
    header = content_disposition("山田\r\n花子", "pdf")
    assert "\r" not in header and "\n" not in header
    assert header.isascii()


def test_app_process_never_imports_export_libraries(tmp_path):
    """A real export through the app in a fresh interpreter: fpdf/pptx load only in the pool processes."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from tests.support.helpers import make_settings, ADMIN_PASSWORD
        from pathlib import Path

        async def main():
            import httpx
            from medipersona.app import create_app
            from medipersona.bootstrap import first_run
            from medipersona.personas.models import Persona
            await first_run(settings)
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                async with app.state.db.sessionmaker() as session:
                    p = Persona(owner_id=1, status="done", department_id="internal_medicine",
                                chief_complaint_id="internal_medicine.dizziness", purpose_id="x",
                                setting_type="auto", seed=1, name="山田 花子",
                                sections={{"personality": "テスト"}}, timeline_status="done",
                                timeline_analysis={{"psychology": "分析", "hidden_needs": "ニーズ",
                                                    "marketing": "提案"}})
                    session.add(p)
                    await session.commit()
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    r = await c.post("/api/auth/token", json={{"username": "admin", "password": ADMIN_PASSWORD}})
                    c.headers["Authorization"] = "Bearer " + r.json()["access_token"]
                    for ext in ("pdf", "pptx"):
                        r = await c.get(f"/api/personas/{{p.id}}/export.{{ext}}")
                        assert r.status_code == 200, r.text
                        assert len(r.content) > 1000
            heavy = sorted(m for m in ("fpdf", "pptx", "fontTools", "matplotlib")
                           if m in sys.modules)
            print("HEAVY:" + ",".join(heavy))

        from medipersona.migrate import upgrade
        settings = make_settings(Path({str(tmp_path)!r}))
        upgrade(settings)
        asyncio.run(main())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=150,
                         cwd=str(tmp_path), check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "HEAVY:\n" in out.stdout or out.stdout.strip().endswith("HEAVY:"), out.stdout


async def test_pool_recovers_after_a_worker_dies(settings):
    import os
    import signal

    from medipersona.exports import pool

    pool.shutdown_export_pool()
    try:
        pid = await pool.run_export(os.getpid)
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        # The broken pool is replaced; the next export runs in a new process.
        new_pid = await pool.run_export(os.getpid)
        assert new_pid != pid
    finally:
        pool.shutdown_export_pool()


async def test_pdf_uses_the_keyword_store_and_chart(member_client, member, make_persona, app):
    """No fakes: the fictional sample keyword data in the store, the timeline series and the keyword chart."""
    from medipersona.keywords.sample import load_sample

    await load_sample(app.state.db)
    persona = await make_persona(member.id)
    response = await member_client.get(f"/api/personas/{persona.id}/export.pdf")
    assert response.status_code == 200
    pages = pdf_pages_text(response.content)
    assert len(pages) == 2
    page2 = pages[1].replace(" ", "")
    assert "検索タイムライン" in page2  # the chart (vector) drawn with the embedded font
    assert "架空のサンプルデータ" in page2 and "キーワード数" in page2
    assert "キーワードデータがありません" not in page2
    response = await member_client.get(f"/api/personas/{persona.id}/export.pptx")
    report = pptx_report(response.content)
    assert report["slides"] == 2 and "架空のサンプルデータ" in report["texts"][1]


async def test_export_that_hangs_is_abandoned_with_503(settings, monkeypatch):
    import time

    from medipersona.errors import ServiceUnavailable
    from medipersona.exports import pool

    pool.shutdown_export_pool()
    try:
        await pool.run_export(time.sleep, 0)  # start the process first: the timeout is about the render
        monkeypatch.setattr(pool, "EXPORT_TIMEOUT_SECONDS", 0.5)
        with pytest.raises(ServiceUnavailable) as caught:
            await pool.run_export(time.sleep, 3)
        assert caught.value.code == "export_timeout"
    finally:
        pool.shutdown_export_pool()
