"""Admin settings: section lengths, models per task (validated against the provider), prompt addenda, usage."""

import asyncio
import re

import pytest

from medipersona.admin import service
from medipersona.providers.registry import register_provider
from tests.personas.helpers import CapturingProvider


@register_provider
class AnyModelCapture(CapturingProvider):
    """Remembers its requests and takes any model name (like an OpenAI-compatible server)."""

    name = "test_capture_any_model"

    @classmethod
    def accepts_custom_models(cls) -> bool:
        return True


@pytest.fixture(autouse=True)
def _fresh_cache():
    service.clear_cache()
    yield
    service.clear_cache()


async def test_defaults_and_partial_update(admin_client):
    data = (await admin_client.get("/api/admin/settings")).json()
    assert data["settings"]["section_lengths"]["personality"] == 200
    assert data["model_choices"]["persona_text"]["provider"] == "offline"
    assert "offline-composer" in data["model_choices"]["persona_text"]["known_models"]
    updated = await admin_client.put("/api/admin/settings", json={"section_lengths": {"reason": 350}})
    assert updated.status_code == 200
    lengths = updated.json()["settings"]["section_lengths"]
    assert lengths["reason"] == 350 and lengths["personality"] == 200


async def test_invalid_update_changes_nothing(admin_client):
    response = await admin_client.put("/api/admin/settings", json={
        "section_lengths": {"reason": 30, "personality": 300},
        "models": {"persona_text": "gpt-4o"},
    })
    assert response.status_code == 422
    fields = {f["field"]: f["message"] for f in response.json()["error"]["fields"]}
    assert "50〜400" in fields["section_lengths.reason"]
    assert "offline" in fields["models.persona_text"]
    after = (await admin_client.get("/api/admin/settings")).json()["settings"]
    assert after["section_lengths"]["personality"] == 200  # the valid part was not half-applied


async def test_models_validated_against_configured_provider(app, admin_client, settings):
    ok = await admin_client.put("/api/admin/settings", json={"models": {"persona_text": "offline-composer"}})
    assert ok.status_code == 200
    async with app.state.db.sessionmaker() as session:
        assert (await service.task_route(session, settings, "persona_text")).model == "offline-composer"
        assert (await service.task_route(session, settings, "portrait")).model == settings.image_model
    bad = await admin_client.put("/api/admin/settings", json={"models": {"swot": "x"}})
    assert bad.status_code == 422


async def test_pipeline_reads_section_lengths(app, admin_client):
    from medipersona.personas.generation import section_lengths

    await admin_client.put("/api/admin/settings", json={"section_lengths": {"demands": 80}})
    async with app.state.db.sessionmaker() as session:
        assert (await section_lengths(session))["demands"] == 80


async def test_member_cannot_read_or_change(member_client):
    assert (await member_client.get("/api/admin/settings")).status_code == 403
    assert (await member_client.put("/api/admin/settings", json={})).status_code == 403
    assert (await member_client.get("/api/admin/usage")).status_code == 403


async def test_usage_counts_per_user_and_day(app, admin_client, member):
    from medipersona.personas.models import Persona

    async with app.state.db.sessionmaker() as session:
        for status in ("done", "failed", "done"):
            session.add(Persona(owner_id=member.id, status=status, department_id="internal_medicine",
                                chief_complaint_id="internal_medicine.cold", purpose_id="increase_patients",
                                setting_type="auto", seed=1))
        await session.commit()
    usage = (await admin_client.get("/api/admin/usage?days=7")).json()
    assert len(usage["days"]) == 7
    row = next(u for u in usage["users"] if u["username"] == "member1")
    assert row["total"] == 3 and row["failed"] == 1
    assert row["days"][usage["days"][-1]] == 3


async def test_settings_page_form_roundtrip(client):
    await client.login()
    page = await client.get("/admin/settings")
    assert page.status_code == 200 and "生成設定" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    bad = await client.post("/admin/settings", data={"csrf_token": token, "length.reason": "abc"})
    assert bad.status_code == 422 and "数値で入力してください" in bad.text
    ok = await client.post("/admin/settings", data={"csrf_token": token, "length.reason": "120",
                                                    "addendum.persona_text": "地域密着を意識"})
    assert ok.status_code == 200 and "保存しました" in ok.text
    assert 'value="120"' in ok.text and "地域密着を意識" in ok.text


@pytest.mark.parametrize("settings_overrides", [{"text_provider": "test_capture_any_model"}])
async def test_model_and_instructions_reach_the_analysis_jobs(admin_client):
    """What the admin sets for タイムライン分析 and 競合分析 is what those jobs ask the provider for."""
    from tests.competitors.helpers import body as competitor_body
    from tests.competitors.helpers import wait_status as wait_analysis
    from tests.personas.helpers import CREATE_BODY, wait_status

    saved = await admin_client.put("/api/admin/settings", json={
        "models": {"timeline_analysis": "timeline-model-x", "competitor_swot": "swot-model-y"},
        "prompt_addenda": {"timeline_analysis": "通院前の不安に特に注目してください。",
                           "competitor_swot": "駐車場の有無を必ず検討してください。"}})
    assert saved.status_code == 200, saved.text
    CapturingProvider.requests.clear()

    # a persona whose age band has keyword rows (自動 alone may draw a 70+ band the sample data filters out)
    body = {**CREATE_BODY, "profile": {"age": 45, "gender": "female"}}
    pid = (await admin_client.post("/api/personas", json=body)).json()["id"]
    assert (await wait_status(admin_client, pid))["status"] == "done"
    assert (await admin_client.post(f"/api/personas/{pid}/timeline-analysis")).status_code == 202
    analysis_id = (await admin_client.post("/api/competitors", json=competitor_body())).json()["id"]
    assert (await wait_analysis(admin_client, analysis_id))["status"] == "done"
    for _ in range(100):
        if any(r.task == "timeline_analysis" for r in CapturingProvider.requests):
            break
        await asyncio.sleep(0.1)

    by_task = {r.task: r for r in CapturingProvider.requests}
    assert by_task["persona_text"].model not in ("timeline-model-x", "swot-model-y")
    assert by_task["timeline_analysis"].model == "timeline-model-x"
    assert "通院前の不安に特に注目してください。" in by_task["timeline_analysis"].prompt
    assert by_task["competitor_swot"].model == "swot-model-y"
    assert "駐車場の有無を必ず検討してください。" in by_task["competitor_swot"].prompt
    assert "駐車場" not in by_task["timeline_analysis"].prompt
