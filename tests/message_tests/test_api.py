"""Message tests: a structured reaction per persona, the numbers, the streamed summary, the page's chart, the
exports; bad input (nothing stored), permissions, images only where the provider reads them."""

from __future__ import annotations

import base64
import csv
import io

import pytest
from sqlalchemy import update

from medipersona.message_tests.models import MessageTest
from medipersona.personas.models import Persona
from tests.personas.helpers import CREATE_BODY
from tests.providers.fakes import TINY_PNG
from tests.support.conversations import (
    FailingProvider,
    RecordingProvider,
    count,
    error_of,
    events,
    field_messages,
    insert_persona,
    pdf_text,
    user_id,
)

AD = ("駅から徒歩3分の内科クリニックです。インフルエンザの検査は当日予約OK。土曜も診療しています。"
      "費用の目安は3割負担で約2,000円です。")


async def two_personas(app, owner: str = "admin") -> list[Persona]:
    owner_id = await user_id(app, owner)
    return [await insert_persona(app, owner_id),
            await insert_persona(app, owner_id, name="佐藤 健", patient_type_id="specialist_seeking",
                                 profile={"name": "佐藤 健", "gender": "male", "age": 62, "occupation": "自営業",
                                          "family": "妻と2人暮らし"})]


async def run_test(client, body: dict) -> tuple[dict, list[tuple[str, dict]]]:
    r = await client.post("/api/message-tests", json=body)
    assert r.status_code == 202, r.text
    stream = await events(client, r.json()["events_url"])
    return (await client.get(f"/api/message-tests/{r.json()['id']}")).json(), stream


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_each_persona_reacts_then_the_summary_streams(app, admin_client):
    personas = await two_personas(app)
    data, stream = await run_test(admin_client, {"persona_ids": [p.id for p in personas], "message": AD,
                                                 "kind": "ad"})
    types = [t for t, _ in stream]
    assert types.count("result") == 2 and "stats" in types and "delta" in types and types[-1] == "done"
    assert types.index("stats") > max(i for i, t in enumerate(types) if t == "result")
    assert data["status"] == "done"
    assert [r["persona_id"] for r in data["results"]] == [p.id for p in personas]
    for result in data["results"]:
        assert 1 <= result["score"] <= 5 and isinstance(result["would_book"], bool)
        assert result["comment"] and isinstance(result["concerns"], list)
        assert result["name"] in ("山田 花子", "佐藤 健") and result["patient_type"]
    convenience, specialist = data["results"]
    # The message offers access (利便性重視型 wants it) but says nothing of the doctor (専門医療追求型 wants that).
    assert convenience["score"] > specialist["score"]
    assert "医師の専門性や経歴が分からない" in specialist["concerns"]
    summary = data["summary"]
    assert set(summary) >= {"overview", "concerns", "booking_triggers", "by_type", "stats", "meta"}
    assert summary["stats"]["count"] == 2 and summary["stats"]["distribution"][str(convenience["score"])] >= 1
    assert summary["meta"]["is_offline"] is True
    assert "2人のペルソナが読み" in summary["overview"]
    streamed = "".join(d["text"] for t, d in stream if t == "delta" and d["section"] == "overview")
    assert streamed == summary["overview"]
    chart = await admin_client.get(f"/api/message-tests/{data['id']}/chart.svg")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "スコアの分布（2人" in chart.text and "予約する" in chart.text
    page = await admin_client.get(f"/message-tests/{data['id']}")
    assert page.status_code == 200 and convenience["comment"] in page.text and summary["by_type"] in page.text


async def test_a_set_is_tested_with_its_finished_members(app, admin_client):
    r = await admin_client.post("/api/persona-sets", json={**CREATE_BODY, "count": 3, "vary": "age"})
    set_id = r.json()["id"]
    await events(admin_client, f"/api/persona-sets/{set_id}/events")
    data, _ = await run_test(admin_client, {"set_id": set_id, "message": AD, "kind": "leaflet"})
    assert data["set_id"] == set_id and data["persona_ids"] == r.json()["persona_ids"]
    assert len(data["results"]) == 3 and data["kind_label"] == "チラシ"


async def test_exports_csv_and_pdf(app, admin_client, tmp_path):
    personas = await two_personas(app)
    data, _ = await run_test(admin_client, {"persona_ids": [p.id for p in personas], "message": AD, "kind": "web"})
    r = await admin_client.get(f"/api/message-tests/{data['id']}/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:6] == ["名前", "患者タイプ", "年齢", "性別", "スコア", "予約する"]
    assert [row[0] for row in rows[1:]] == ["山田 花子", "佐藤 健"]
    assert rows[1][4] == str(data["results"][0]["score"])
    pdf = await admin_client.get(f"/api/message-tests/{data['id']}/export.pdf")
    assert pdf.status_code == 200
    text, _pages = await pdf_text(pdf.content, tmp_path / "test.pdf")
    for needle in ("テストした文章", "スコアの分布", "まとめ", "予約につながる条件", "一人ひとりの反応", "佐藤 健"):
        assert needle in text, needle


@pytest.mark.parametrize(("patch", "field", "needle"), [
    ({"message": ""}, "message", "メッセージを入力してください"),
    ({"message": " \n\t "}, "message", "メッセージを入力してください"),
    ({"message": "あ" * 2001}, "message", "2000文字以内"),
    ({"kind": "tv"}, "kind", "次のいずれか"),
    ({"persona_ids": []}, "body", "どちらか一方"),
    ({"set_id": "abc"}, "body", "どちらか一方"),
    ({"persona_ids": ["x"] * 13}, "persona_ids", "最大12件"),
    ({"persona_ids": ["same", "same"]}, "persona_ids", "重複"),
])
async def test_bad_input_is_refused_and_nothing_is_stored(app, admin_client, patch, field, needle):
    body = {"persona_ids": ["a" * 32], "message": AD, "kind": "ad", **patch}
    r = await admin_client.post("/api/message-tests", json=body)
    assert r.status_code == 422, r.text
    assert needle in field_messages(r)[field]
    assert await count(app, MessageTest) == 0


async def test_other_users_unfinished_personas_sets_and_sections(app, admin_client, member_client):
    from medipersona.accounts.service import create_user

    mine = await insert_persona(app, await user_id(app, "member1"))
    theirs = await insert_persona(app, await user_id(app, "admin"))
    running = await insert_persona(app, await user_id(app, "member1"), status="running", name="生成中 太郎")
    r = await member_client.post("/api/message-tests", json={"persona_ids": [mine.id, theirs.id], "message": AD})
    assert r.status_code == 404 and "見つかりません" in error_of(r)["message"]
    r = await member_client.post("/api/message-tests", json={"persona_ids": [mine.id, running.id], "message": AD})
    assert r.status_code == 409 and "生成中 太郎" in error_of(r)["message"]
    s = await admin_client.post("/api/persona-sets", json={**CREATE_BODY, "count": 2})
    r = await member_client.post("/api/message-tests", json={"set_id": s.json()["id"], "message": AD})
    assert r.status_code == 404
    async with app.state.db.sessionmaker() as session:
        await session.execute(update(Persona).where(Persona.id.in_(s.json()["persona_ids"])).values(status="running"))
        await session.commit()
    r = await admin_client.post("/api/message-tests", json={"set_id": s.json()["id"], "message": AD})
    assert r.status_code == 409 and error_of(r)["code"] == "set_not_ready"
    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="dentist", password="dentist-password-1", role="member",
                          sections=["dental"])
    dentist_persona = await insert_persona(app, await user_id(app, "dentist"))
    await member_client.use_token("dentist", "dentist-password-1")
    r = await member_client.post("/api/message-tests", json={"persona_ids": [dentist_persona.id], "message": AD})
    assert r.status_code == 403
    assert await count(app, MessageTest) == 0
    # An admin's test is invisible to members.
    data, _ = await run_test(admin_client, {"persona_ids": [theirs.id], "message": AD})
    await member_client.use_token("member1", "member-password-123")
    for url in ("", "/events", "/chart.svg", "/export.csv", "/export.pdf"):
        assert (await member_client.get(f"/api/message-tests/{data['id']}{url}")).status_code == 404, url


async def test_a_leaflet_image_needs_a_provider_that_reads_images(app, admin_client, settings):
    persona = await insert_persona(app, await user_id(app, "admin"))
    image = {"data": base64.b64encode(TINY_PNG).decode(), "mime": "image/png"}
    body = {"persona_ids": [persona.id], "message": AD, "kind": "leaflet", "image": image}
    r = await admin_client.post("/api/message-tests", json=body)
    assert r.status_code == 422
    assert "画像を読み取れない" in field_messages(r)["image"] and "オフライン" in field_messages(r)["image"]
    assert await count(app, MessageTest) == 0 and not (settings.data_dir / "uploads").exists()
    app.state.settings.text_provider = RecordingProvider.name
    RecordingProvider.requests.clear()
    for bad, status in (({"data": "not base64 !!", "mime": "image/png"}, 422),
                        ({"data": base64.b64encode(b"GIF89a not really").decode(), "mime": "image/png"}, 422),
                        ({"data": base64.b64encode(b"\x89PNG\r\n\x1a\n broken").decode(), "mime": "image/png"}, 422),
                        ({"data": base64.b64encode(b"\x89PNG" + b"0" * (4 * 1024 * 1024)).decode(),
                          "mime": "image/png"}, 413)):
        r = await admin_client.post("/api/message-tests", json={**body, "image": bad})
        assert r.status_code == status, r.text
    assert await count(app, MessageTest) == 0
    data, _ = await run_test(admin_client, body)
    reaction = next(r for r in RecordingProvider.requests if r.task == "message_test_reaction")
    assert reaction.images and reaction.images[0].data == TINY_PNG and reaction.images[0].mime == "image/png"
    assert "画像も添付" in reaction.prompt
    stored = await admin_client.get(f"/api/message-tests/{data['id']}/image")
    assert stored.status_code == 200 and stored.content == TINY_PNG
    await admin_client.delete(f"/api/message-tests/{data['id']}")
    assert not any((settings.data_dir / "uploads" / "message_tests").iterdir())


async def test_prompts_carry_the_persona_and_the_message(app, admin_client):
    app.state.settings.text_provider = RecordingProvider.name
    RecordingProvider.requests.clear()
    personas = await two_personas(app)
    await run_test(admin_client, {"persona_ids": [p.id for p in personas], "message": AD, "kind": "web"})
    reactions = [r for r in RecordingProvider.requests if r.task == "message_test_reaction"]
    assert len(reactions) == 2
    for request in reactions:
        assert AD in request.prompt and "Webページの文章" in request.prompt
        assert "インフルエンザ" in request.prompt and "夜間や土曜の診療" in request.prompt
        assert "架空の人物" in request.prompt and request.schema["properties"]["score"]["maximum"] == 5
    assert "山田 花子" in reactions[0].prompt and "利便性重視型" in reactions[0].prompt
    assert "佐藤 健" in reactions[1].prompt and "専門医療追求型" in reactions[1].prompt
    summary = next(r for r in RecordingProvider.requests if r.task == "message_test_summary")
    assert AD in summary.prompt and "山田 花子" in summary.prompt and "平均スコア" in summary.prompt


async def test_a_failed_reaction_fails_the_test_and_retry_runs_it_again(app, admin_client):
    app.state.settings.text_provider = FailingProvider.name
    personas = await two_personas(app)
    data, stream = await run_test(admin_client, {"persona_ids": [p.id for p in personas], "message": AD})
    assert stream[-1][0] == "error" and "さんの反応を得られませんでした" in stream[-1][1]["message"]
    assert data["status"] == "failed" and data["error"]["message"] == stream[-1][1]["message"]
    assert (await admin_client.get(f"/api/message-tests/{data['id']}/export.pdf")).status_code == 409
    app.state.settings.text_provider = "offline"
    r = await admin_client.post(f"/api/message-tests/{data['id']}/retry")
    assert r.status_code == 202
    await events(admin_client, r.json()["events_url"])
    again = (await admin_client.get(f"/api/message-tests/{data['id']}")).json()
    assert again["status"] == "done" and len(again["results"]) == 2 and again["error"] is None
    assert (await admin_client.post(f"/api/message-tests/{data['id']}/retry")).status_code == 409


async def test_quota_counts_each_reaction_and_the_summary(app, client):
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="limited", password="limited-password-1", daily_quota=4)
    await client.use_token("limited", "limited-password-1")
    personas = await two_personas(app, "limited")  # two personas created today: 2 of 4
    r = await client.post("/api/message-tests", json={"persona_ids": [p.id for p in personas], "message": AD})
    assert r.status_code == 429 and "3回必要" in error_of(r)["message"]  # 2 reactions + the summary
    r = await client.post("/api/message-tests", json={"persona_ids": [personas[0].id], "message": AD})
    assert r.status_code == 202
    assert await count(app, MessageTest) == 1


async def test_the_form_page_without_javascript(app, client):
    await client.login()
    persona = await insert_persona(app, await user_id(app, "admin"))
    page = await client.get("/message-tests")
    assert "画像を読み取れないため" in page.text and persona.name in page.text
    form = {"csrf_token": client.csrf_token, "target": "personas", "persona_ids": persona.id, "kind": "ad",
            "message": ""}
    refused = await client.post("/message-tests", data=form)
    assert refused.status_code == 422 and "メッセージを入力してください" in refused.text
    created = await client.post("/message-tests", data={**form, "message": AD})
    assert created.status_code == 303
    test_id = created.headers["location"].rsplit("/", 1)[1]
    await events(client, f"/api/message-tests/{test_id}/events")
    page = await client.get(created.headers["location"])
    assert "一人ひとりの反応" in page.text and "山田 花子" in page.text
