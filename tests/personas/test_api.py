"""The persona API: validation, permissions, quota, the full job lifecycle, history operations."""

from __future__ import annotations

import pytest

from medipersona.catalog.labels import SECTION_KEYS

from .helpers import CREATE_BODY, stream_events, wait_status


def field_messages(response) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"]["fields"]}


# ------------------------------------------------------------------------------------------------ validation
async def test_missing_fields_give_japanese_field_messages(admin_client):
    r = await admin_client.post("/api/personas", json={"setting_type": "auto"})
    assert r.status_code == 422
    fields = field_messages(r)
    assert fields["department"] == "必須項目です。"
    assert fields["chief_complaint"] == "必須項目です。"
    assert fields["purpose"] == "必須項目です。"


@pytest.mark.parametrize(
    ("patch", "field", "needle"),
    [
        ({"profile": {"age": 101}}, "profile.age", "100以下"),
        ({"profile": {"age": 5, "income": "500-600"}}, "profile", "15歳未満"),
        ({"profile": {"income": "lots"}}, "profile.income", "年収を一覧から"),
        ({"profile": {"prefecture": "ニューヨーク"}}, "profile.prefecture", "都道府県"),
        ({"profile": {"gender": "x"}}, "profile.gender", "次のいずれか"),
        ({"profile": {"name": "あ" * 51}}, "profile.name", "50文字以内"),
        ({"setting_type": "magic"}, "setting_type", "次のいずれか"),
        ({"extras": {"unknown": "x"}}, "extras.unknown", "指定できません"),
        ({"extra_fields": [{"name": "", "value": "x"}]}, "extra_fields.0.name", "1文字以上"),
        ({"department": "no_such"}, "department", "診療科が見つかりません"),
        ({"chief_complaint": "dermatology.acne"}, "chief_complaint", "選んだ診療科の主訴"),
        ({"purpose": "world_domination"}, "purpose", "作成目的が見つかりません"),
        ({"setting_type": "patient_type"}, "patient_type", "患者タイプを選んでください"),
    ],
)
async def test_invalid_input_422(admin_client, patch, field, needle):
    body = {**CREATE_BODY, **patch}
    r = await admin_client.post("/api/personas", json=body)
    assert r.status_code == 422, r.text
    fields = field_messages(r)
    assert field in fields, fields
    assert needle in fields[field]


async def test_auth_and_sections(app, client):
    r = await client.post("/api/personas", json=CREATE_BODY)
    assert r.status_code == 401
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="dentist", password="dentist-password-1", role="member",
                          sections=["dental"])
    await client.use_token("dentist", "dentist-password-1")
    r = await client.post("/api/personas", json=CREATE_BODY)
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "section_forbidden"
    ok = await client.post("/api/personas", json={**CREATE_BODY, "department": "general_dentistry",
                                                   "chief_complaint": _first_complaint("general_dentistry")})
    assert ok.status_code == 202, ok.text


def _first_complaint(department_id: str) -> str:
    from medipersona.catalog.service import get_catalog

    return get_catalog().department(department_id).chief_complaints[0].id


async def test_daily_quota_429(app, client):
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="limited", password="limited-password-1", daily_quota=1)
    await client.use_token("limited", "limited-password-1")
    assert (await client.post("/api/personas", json=CREATE_BODY)).status_code == 202
    r = await client.post("/api/personas", json=CREATE_BODY)
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "quota_exceeded"
    assert "上限" in r.json()["error"]["message"]


# ------------------------------------------------------------------------------------------------ lifecycle
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_full_lifecycle_with_offline_provider(admin_client, settings):
    r = await admin_client.post("/api/personas", json=CREATE_BODY)
    assert r.status_code == 202
    assert r.json()["status"] == "queued"
    pid = r.json()["id"]
    events = await stream_events(admin_client, pid)
    types = [t for t, _ in events]
    assert types[:2] == ["status", "status"]
    assert events[0][1] == {"status": "queued"} and events[1][1]["status"] == "running"
    assert types[-1] == "done"
    assert "delta" in types and "image" in types
    # every section completes exactly once, in order, after its deltas
    section_keys = [d["key"] for t, d in events if t == "section"]
    assert section_keys == list(SECTION_KEYS)
    first_delta = types.index("delta")
    assert first_delta < types.index("section")
    # deltas rebuild the section text
    rebuilt: dict[str, str] = {}
    for t, d in events:
        if t == "delta":
            assert d["offset"] == len(rebuilt.get(d["section"], ""))
            rebuilt[d["section"]] = rebuilt.get(d["section"], "") + d["text"]
            assert d["sections_total"] == 6 and 1 <= d["section_index"] <= 6
    done = events[-1][1]
    for key in SECTION_KEYS:
        assert done["sections"][key].strip()
        assert rebuilt[key].strip() == done["sections"][key]

    body = (await admin_client.get(f"/api/personas/{pid}")).json()
    assert body["status"] == "done" and body["error"] is None
    assert set(body["sections"]) == set(SECTION_KEYS)
    assert body["profile"]["age"] is not None and body["profile_labels"]["年齢"].endswith("歳")
    assert body["text_provider"] == "offline" and body["image_provider"] == "offline"
    assert body["timings"]["total_seconds"] >= 0 and "text_seconds" in body["timings"]
    assert body["job"]["status"] == "done" and body["job"]["attempts"] == 1
    assert isinstance(body["keywords_used"], list)
    image = await admin_client.get(body["image_url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image.headers["content-type"] == "image/png"
    # a late client gets the whole story again, then the stream closes
    again = await stream_events(admin_client, pid)
    assert again == events
    # resuming after an event id sends only what follows
    raw = await admin_client.get(f"/api/personas/{pid}/events")
    ids = [int(line[4:]) for line in raw.text.splitlines() if line.startswith("id: ")]
    tail = await stream_events(admin_client, pid, headers={"Last-Event-ID": str(ids[-3])})
    assert tail == events[-2:]


@pytest.mark.parametrize("settings_overrides", [{"text_provider": "simulated", "image_provider": "simulated",
                                                 "simulated_text_seconds": 1.2,
                                                 "simulated_image_seconds": 1.0}])
async def test_sse_late_client_mid_generation(admin_client):
    import asyncio

    r = await admin_client.post("/api/personas", json=CREATE_BODY)
    pid = r.json()["id"]
    early_task = asyncio.create_task(stream_events(admin_client, pid))
    await asyncio.sleep(0.7)  # mid-generation
    late = await stream_events(admin_client, pid)
    early = await early_task
    assert late == early
    types = [t for t, _ in late]
    assert types[0] == "status" and types[-1] == "done"
    assert types.count("delta") >= 6
    assert types.count("delta") < 60  # coalesced, not one write per chunk


@pytest.mark.parametrize("settings_overrides", [{"text_provider": "test_capture"}])
async def test_keywords_really_reach_the_prompt(admin_client, monkeypatch):
    from medipersona.keywords import lookup

    from .helpers import CapturingProvider

    seen = {}

    async def fake_top(session, department_id, chief_complaint_id, age, gender, limit=15):
        seen.update(department=department_id, complaint=chief_complaint_id, age=age, gender=gender)
        return [{"keyword": "インフルエンザ 検査 何時間後", "volume": 5000, "overlap": 400, "days": -1,
                 "category": "医療機関", "estimated_volume": 900}]

    monkeypatch.setattr(lookup, "top_keywords_for_prompt", fake_top)
    CapturingProvider.requests.clear()
    body = {**CREATE_BODY, "setting_type": "input", "profile": {"age": 45, "gender": "female"}}
    pid = (await admin_client.post("/api/personas", json=body)).json()["id"]
    persona = await wait_status(admin_client, pid)
    assert persona["status"] == "done"
    assert seen == {"department": "internal_medicine", "complaint": "internal_medicine.influenza", "age": 45,
                    "gender": "female"}
    request = next(r for r in reversed(CapturingProvider.requests) if r.task == "persona_text")
    assert "インフルエンザ 検査 何時間後" in request.prompt
    assert "40代・女性" in request.prompt and "45歳" in request.prompt
    assert persona["keywords_used"][0]["keyword"] == "インフルエンザ 検査 何時間後"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{"text_provider": "test_broken"}])
async def test_malformed_output_fails_with_clear_error_then_retry(admin_client):
    from .helpers import BrokenTextProvider

    BrokenTextProvider.calls = 0
    BrokenTextProvider.failures = 10**9
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    events = await stream_events(admin_client, pid)
    assert events[-1][0] == "error"
    error = events[-1][1]
    assert error["code"] == "invalid_output"
    assert "ペルソナの文章を生成できませんでした" in error["message"]
    assert "done" not in [t for t, _ in events]
    body = (await admin_client.get(f"/api/personas/{pid}")).json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "invalid_output"
    assert body["sections"] == {}  # never blank sections marked done
    assert body["timeline_status"] in ("idle", "failed")  # the analysis beside the text stopped with it
    assert BrokenTextProvider.calls == 3  # asked again with the problem, then gave up

    assert (await admin_client.post(f"/api/personas/{pid}/sections/reason/regenerate")).status_code == 409
    BrokenTextProvider.failures = 0  # the provider recovers
    r = await admin_client.post(f"/api/personas/{pid}/retry")
    assert r.status_code == 202 and r.json()["status"] == "queued"
    events = await stream_events(admin_client, pid)
    assert events[-1][0] == "done"
    body = (await admin_client.get(f"/api/personas/{pid}")).json()
    assert body["status"] == "done" and set(body["sections"]) == set(SECTION_KEYS) and body["error"] is None
    assert (await admin_client.post(f"/api/personas/{pid}/retry")).status_code == 409


@pytest.mark.parametrize("settings_overrides", [{"image_provider": "test_noimage"}])
async def test_portrait_failure_does_not_fail_the_text(admin_client):
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    events = await stream_events(admin_client, pid)
    image = next(d for t, d in events if t == "image")
    assert image["status"] == "failed" and "似顔絵" in image["message"]
    assert events[-1][0] == "done" and events[-1][1]["image_status"] == "failed"
    body = (await admin_client.get(f"/api/personas/{pid}")).json()
    assert body["status"] == "done" and body["image_status"] == "failed" and body["image_url"] is None
    assert body["error"]["code"] == "image_failed"
    assert (await admin_client.get(f"/api/personas/{pid}/image")).status_code == 404


# ------------------------------------------------------------------------------------------------ history
async def test_list_filters_and_ownership(app, admin_client, member_client):
    a = (await member_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    derm = {**CREATE_BODY, "department": "dermatology", "chief_complaint": _first_complaint("dermatology")}
    b = (await member_client.post("/api/personas", json=derm)).json()["id"]
    c = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    for pid in (a, b):
        await wait_status(member_client, pid)
    await wait_status(admin_client, c)
    mine = (await member_client.get("/api/personas")).json()
    assert {i["id"] for i in mine["items"]} == {a, b} and mine["total"] == 2
    everyone = (await admin_client.get("/api/personas")).json()
    assert {a, b, c} <= {i["id"] for i in everyone["items"]}
    only_derm = (await member_client.get("/api/personas", params={"department": "dermatology"})).json()
    assert [i["id"] for i in only_derm["items"]] == [b]
    by_complaint = (await member_client.get("/api/personas", params={"q": "インフルエンザ"})).json()
    assert [i["id"] for i in by_complaint["items"]] == [a]
    paged = (await member_client.get("/api/personas", params={"per_page": 1, "page": 2})).json()
    assert paged["total"] == 2 and len(paged["items"]) == 1 and paged["pages"] == 2
    future = (await member_client.get("/api/personas", params={"date_from": "2999-01-01"})).json()
    assert future["total"] == 0
    today = (await member_client.get("/api/personas", params={"date_to": "2999-01-01"})).json()
    assert today["total"] == 2
    bad = await member_client.get("/api/personas", params={"date_from": "yesterday"})
    assert bad.status_code == 422
    # another member's persona is invisible
    assert (await member_client.get(f"/api/personas/{c}")).status_code == 404
    assert (await member_client.delete(f"/api/personas/{c}")).status_code == 404


async def test_patch_regenerate_duplicate_delete(admin_client, settings):
    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    before = await wait_status(admin_client, pid)
    # edit
    r = await admin_client.patch(f"/api/personas/{pid}", json={
        "name": "鈴木 一郎", "profile": {"hobby": "釣り"}, "extras": {"motto": "七転び八起き"},
        "extra_fields": [{"name": "ペット", "value": "柴犬"}]})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["name"] == "鈴木 一郎" and edited["profile"]["hobby"] == "釣り"
    assert edited["extras"]["motto"] == "七転び八起き" and edited["extra_fields"] == [{"name": "ペット", "value": "柴犬"}]
    assert edited["profile"]["age"] == before["profile"]["age"]
    r = await admin_client.patch(f"/api/personas/{pid}", json={"profile": {"age": -1}})
    assert r.status_code == 422 and "profile.age" in field_messages(r)
    # a field sent empty is cleared (the edit form sends "" for a field the user emptied) ...
    r = await admin_client.patch(f"/api/personas/{pid}", json={"profile": {"hobby": "", "life_events": None}})
    assert r.status_code == 200, r.text
    assert "hobby" not in r.json()["profile"] and "life_events" not in r.json()["profile"]
    assert r.json()["profile"]["age"] == before["profile"]["age"]
    # ... except name, gender and age, which every persona needs
    r = await admin_client.patch(f"/api/personas/{pid}", json={"profile": {"age": None, "gender": "", "hobby": "囲碁"}})
    assert r.status_code == 422
    assert field_messages(r) == {"profile.age": "年齢は空にできません。", "profile.gender": "性別は空にできません。"}
    assert "hobby" not in (await admin_client.get(f"/api/personas/{pid}")).json()["profile"]  # nothing written
    # regenerate one section
    assert (await admin_client.post(f"/api/personas/{pid}/sections/nope/regenerate")).status_code == 404
    r = await admin_client.post(f"/api/personas/{pid}/sections/reviews/regenerate")
    assert r.status_code == 202 and r.json()["section"] == "reviews"
    events = await stream_events(admin_client, pid)
    assert events[-1][0] == "done" and events[-1][1]["section"] == "reviews"
    assert [d["key"] for t, d in events if t == "section"] == ["reviews"]
    after = (await admin_client.get(f"/api/personas/{pid}")).json()
    assert after["sections"]["reviews"] == events[-1][1]["text"]
    for key in SECTION_KEYS:
        if key != "reviews":
            assert after["sections"][key] == before["sections"][key]
    assert after["name"] == "鈴木 一郎"
    # duplicate
    r = await admin_client.post(f"/api/personas/{pid}/duplicate")
    assert r.status_code == 201
    copy = r.json()
    assert copy["id"] != pid and copy["sections"] == after["sections"] and copy["status"] == "done"
    copy_image = await admin_client.get(copy["image_url"])
    assert copy_image.status_code == 200 and copy_image.content.startswith(b"\x89PNG")
    copy_events = await stream_events(admin_client, copy["id"])
    assert copy_events[-1][0] == "done" and len([t for t, _ in copy_events if t == "section"]) == 6
    # the copy shares the stored portrait (stored once, by content): deleting the original keeps it
    assert copy["image_url"] == after["image_url"]
    assert (await admin_client.delete(f"/api/personas/{pid}")).status_code == 204
    assert (await admin_client.get(f"/api/personas/{pid}")).status_code == 404
    assert (await admin_client.get(copy["image_url"])).status_code == 200


async def test_cookie_requests_need_csrf(client):
    await client.login()
    r = await client.post("/api/personas", json=CREATE_BODY)
    assert r.status_code == 403
    r = await client.post("/api/personas", json=CREATE_BODY, headers={"X-CSRF-Token": client.csrf_token})
    assert r.status_code == 202


async def test_events_of_a_long_finished_persona_are_a_snapshot(app, admin_client):
    """Job events are pruned after a while; the stream then sends the stored state instead."""
    from datetime import timedelta

    from sqlalchemy import update

    from medipersona.db import utcnow
    from medipersona.jobs.models import Job

    pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    await stream_events(admin_client, pid)
    async with app.state.db.sessionmaker() as s:
        await s.execute(update(Job).where(Job.persona_id == pid).values(finished_at=utcnow() - timedelta(days=30)))
        await s.commit()
    assert await app.state.jobs.prune_events() > 0
    events = await stream_events(admin_client, pid)
    assert [d["key"] for t, d in events if t == "section"] == list(SECTION_KEYS)
    assert events[0] == ("status", {"status": "done"}) and events[-1][0] == "done"
    assert any(t == "image" for t, _ in events)


@pytest.mark.parametrize("settings_overrides", [{"text_provider": "test_capture"}])
async def test_admin_section_lengths_and_instructions_reach_the_prompt(app, admin_client, settings):
    from medipersona.admin import service as admin

    from .helpers import CapturingProvider

    admin.clear_cache()
    async with app.state.db.sessionmaker() as session:
        await admin.save_admin_settings(session, settings, {
            "section_lengths": {"personality": 321, "demands": 77},
            "prompt_addenda": {"persona_text": "地域密着の視点を必ず含めてください。"}}, None)
    try:
        CapturingProvider.requests.clear()
        pid = (await admin_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
        assert (await wait_status(admin_client, pid))["status"] == "done"
        request = next(r for r in reversed(CapturingProvider.requests) if r.task == "persona_text")
        assert "321文字程度" in request.prompt and "77文字程度" in request.prompt
        assert "地域密着の視点を必ず含めてください。" in request.prompt
        assert request.context["section_lengths"]["personality"] == 321
        # the admin's words come before the safety rules, which keep the last word
        assert request.prompt.index("地域密着") < request.prompt.index("医療広告ガイドライン")
    finally:
        admin.clear_cache()


async def test_contradictions_are_warnings_not_errors(admin_client):
    """Hand-entered contradictions come back as warnings (check and create), never as an error."""
    body = {**CREATE_BODY, "department": "diabetology", "chief_complaint": "diabetology.gestational_diabetes",
            "setting_type": "input",
            "profile": {"gender": "male", "age": 79, "family": "一人暮らし", "occupation": "無職（年金生活）",
                        "income": "100-200"},
            "extras": {"holiday": "夫婦で温泉旅行"}}
    check = await admin_client.post("/api/personas/check", json=body)
    assert check.status_code == 200, check.text
    rules = {w["rule"] for w in check.json()["warnings"]}
    assert {"complaint_sex", "complaint_age", "spouse"} <= rules
    assert all(w["message"] for w in check.json()["warnings"])
    created = await admin_client.post("/api/personas", json=body)
    assert created.status_code == 202, created.text
    assert {"complaint_sex", "spouse"} <= {w["rule"] for w in created.json()["warnings"]}
    persona = (await admin_client.get(f"/api/personas/{created.json()['id']}")).json()
    assert {"complaint_sex", "spouse"} <= {w["rule"] for w in persona["warnings"]}
    page = await admin_client.get(f"/personas/{created.json()['id']}")
    assert "プロフィールに食い違いがあるかもしれません" in page.text and "配偶者" in page.text
    # an auto-filled persona has none, and a child gets a guardian shown as 保護者
    auto = await admin_client.post("/api/personas", json={**CREATE_BODY, "department": "pediatrics",
                                                          "chief_complaint": "pediatrics.bedwetting"})
    assert auto.status_code == 202 and auto.json()["warnings"] == []
    child = (await admin_client.get(f"/api/personas/{auto.json()['id']}")).json()
    assert child["guardian_labels"]["続柄"] in ("母", "父") and child["profile"]["age"] < 15
    assert child["demographics"]["source"] in ("rules", "keywords") and child["demographics"]["label"]
    page = await admin_client.get(f"/personas/{auto.json()['id']}")
    assert "<dt>保護者</dt>" in page.text and "性別・年齢の決め方" in page.text
