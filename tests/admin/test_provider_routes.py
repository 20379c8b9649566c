"""Provider and model per task chosen by an admin at run time: validated (a provider without its key is
refused with the reason), stored with a version that every worker checks, used by the next generation; the
portrait can be turned off (画像なし). Across real processes: tests/instances/test_two_instances.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import ClassVar

import pytest

from medipersona.admin import service
from medipersona.admin.models import AppSetting
from medipersona.providers.offline import OfflineProvider
from medipersona.providers.registry import register_provider
from tests.personas.helpers import CREATE_BODY, stream_events, wait_status


@register_provider
class RouteProbe(OfflineProvider):
    """The offline output under another name (to see which provider answered)."""

    name: ClassVar[str] = "test_route_probe"
    default_text_model: ClassVar[str] = "probe-text"
    default_image_model: ClassVar[str] = "probe-image"
    known_text_models: ClassVar[tuple[str, ...]] = ("probe-text", "probe-text-large")
    known_image_models: ClassVar[tuple[str, ...]] = ("probe-image",)


@pytest.fixture(autouse=True)
def _fresh_cache():
    service.clear_cache()
    yield
    service.clear_cache()


def fields(response) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


async def test_choices_are_validated_with_reasons(admin_client, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    bad = await admin_client.put("/api/admin/settings", json={
        "providers": {"persona_text": "openai", "timeline_analysis": "none", "portrait": "anthropic",
                      "swot": "offline", "competitor_swot": "nosuch"},
        "fallbacks": {"image": "anthropic", "video": "offline"}})
    assert bad.status_code == 422
    errors = fields(bad)
    assert "OPENAI_API_KEY" in errors["providers.persona_text"] and "環境変数" in errors["providers.persona_text"]
    assert "オフにできません" in errors["providers.timeline_analysis"]
    assert "画像を生成できません" in errors["providers.portrait"]
    assert "不明なタスク" in errors["providers.swot"]
    assert "ありません" in errors["providers.competitor_swot"]
    assert "画像を生成できません" in errors["fallbacks.image"] and "fallbacks.video" in errors
    unchanged = (await admin_client.get("/api/admin/settings")).json()["settings"]
    assert unchanged["providers"]["persona_text"] == "" and unchanged["fallbacks"]["image"] == ""

    # A model is checked against the provider chosen in the same update; switching provider without naming
    # a model drops the old provider's model (its default is used).
    ok = await admin_client.put("/api/admin/settings", json={
        "providers": {"persona_text": "test_route_probe"}, "models": {"persona_text": "probe-text-large"}})
    assert ok.status_code == 200, ok.text
    wrong = await admin_client.put("/api/admin/settings", json={"models": {"persona_text": "offline-composer"}})
    assert "test_route_probe" in fields(wrong)["models.persona_text"]
    back = await admin_client.put("/api/admin/settings", json={"providers": {"persona_text": "offline"}})
    assert back.status_code == 200 and back.json()["settings"]["models"]["persona_text"] == ""


async def test_next_generation_uses_the_chosen_providers_and_model(admin_client):
    saved = await admin_client.put("/api/admin/settings", json={
        "providers": {"persona_text": "test_route_probe", "portrait": "test_route_probe"},
        "models": {"persona_text": "probe-text-large"}})
    assert saved.status_code == 200
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    persona = await wait_status(admin_client, pid)
    assert persona["status"] == "done"
    assert (persona["text_provider"], persona["text_model"]) == ("test_route_probe", "probe-text-large")
    assert (persona["image_provider"], persona["image_model"]) == ("test_route_probe", "probe-image")


async def test_portrait_off_gives_a_persona_without_image(admin_client):
    assert (await admin_client.put("/api/admin/settings",
                                   json={"providers": {"portrait": "none"}})).status_code == 200
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    events = await stream_events(admin_client, pid)
    image = next(d for t, d in events if t == "image")
    assert image["status"] == "none" and "画像なし" in image["message"]
    assert events[-1][0] == "done" and events[-1][1]["image_status"] == "none"
    persona = (await admin_client.get(f"/api/personas/{pid}")).json()
    assert persona["status"] == "done" and persona["image_status"] == "none" and persona["image_url"] is None
    assert all(persona["sections"].values()) and len(persona["sections"]) == 6
    assert persona["error"] is None
    page = await admin_client.get(f"/personas/{pid}")
    assert "画像なしの設定" in page.text
    pdf = await admin_client.get(f"/api/personas/{pid}/export.pdf")
    assert pdf.status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_a_change_saved_elsewhere_is_taken_up_at_the_next_version_check(app, monkeypatch):
    """Another instance saved (its own process: our cache was not cleared): the version row tells us."""
    monkeypatch.setattr(service, "CHECK_INTERVAL", 3600)
    async with app.state.db.sessionmaker() as session:
        before = await service.task_route(session, app.state.settings, "persona_text")
        assert before.provider == "offline"
        # What another instance's save writes: the parts and a new version, in one transaction.
        session.add(AppSetting(key="providers", value={"persona_text": "test_route_probe"}))
        session.add(AppSetting(key="version", value={"n": 99, "token": "elsewhere"}, updated_at=datetime.now(UTC)))
        await session.commit()
        cached = await service.task_route(session, app.state.settings, "persona_text")
        assert cached.provider == "offline"  # until the next version check: the cached settings
        monkeypatch.setattr(service, "CHECK_INTERVAL", 0)  # the check interval has passed
        after = await service.task_route(session, app.state.settings, "persona_text")
    assert after.provider == "test_route_probe"


async def test_settings_page_offers_providers_and_portrait_off(client, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    await client.login()
    page = await client.get("/admin/settings")
    assert 'name="provider.portrait"' in page.text and "画像なし（生成しない）" in page.text
    assert re.search(r'<option value="gemini"\s+disabled>gemini：[^<]*（APIキー未設定）', page.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    saved = await client.post("/admin/settings", data={"csrf_token": token, "provider.portrait": "none",
                                                       "provider.persona_text": "simulated",
                                                       "fallback.text": "offline"})
    assert saved.status_code == 200 and "保存しました" in saved.text
    assert '<option value="none" selected>' in saved.text
    refused = await client.post("/admin/settings", data={"csrf_token": token, "provider.persona_text": "gemini"})
    assert refused.status_code == 422 and "GEMINI_API_KEY" in refused.text
