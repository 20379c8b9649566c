"""Interviews: start, ask, stream the answer, read, list, export; permissions; bad input and failures leave
nothing half-saved."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from medipersona.interviews.models import Interview, InterviewMessage
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


async def start(client, persona_id: str) -> str:
    r = await client.post(f"/api/personas/{persona_id}/interviews")
    assert r.status_code == 201, r.text
    assert set(r.json()) >= {"id", "url", "events_url"}
    return r.json()["id"]


async def ask(client, interview_id: str, text: str) -> list[tuple[str, dict]]:
    r = await client.post(f"/api/interviews/{interview_id}/messages", json={"text": text})
    assert r.status_code == 202, r.text
    return await events(client, r.json()["events_url"])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_a_conversation_is_answered_streamed_saved_and_listed(app, admin_client):
    persona = await insert_persona(app, await user_id(app, "admin"))
    interview_id = await start(admin_client, persona.id)
    stream = await ask(admin_client, interview_id, "簡単に自己紹介をお願いします。")
    types = [t for t, _ in stream]
    assert "delta" in types and types[-1] == "done"
    streamed = "".join(d["text"] for t, d in stream if t == "delta" and d["section"] == "answer")
    answer = stream[-1][1]["message"]
    assert answer["role"] == "persona" and answer["is_offline"] is True
    assert streamed == answer["text"] and "山田 花子" in answer["text"]
    await ask(admin_client, interview_id, "口コミではどんな点を見ますか？")
    data = (await admin_client.get(f"/api/interviews/{interview_id}")).json()
    assert data["persona_id"] == persona.id and data["status"] == "idle"
    assert [m["role"] for m in data["messages"]] == ["user", "persona", "user", "persona"]
    assert data["messages"][0]["text"] == "簡単に自己紹介をお願いします。"
    assert all(m["created_at"] for m in data["messages"])
    assert "待ち時間" in data["messages"][3]["text"]  # spoken from the persona's own 口コミ section
    assert data["title"] == "簡単に自己紹介をお願いします。"
    assert len(data["suggestions"]) >= 5 and any("インフルエンザ" in q for q in data["suggestions"])
    listed = (await admin_client.get(f"/api/personas/{persona.id}/interviews")).json()["items"]
    assert [(i["id"], i["message_count"]) for i in listed] == [(interview_id, 4)]
    page = await admin_client.get(f"/personas/{persona.id}")
    assert f'href="/interviews/{interview_id}"' in page.text
    # A late stream gets the last answer from the stored state.
    late = await events(admin_client, f"/api/interviews/{interview_id}/events")
    assert late[-1][0] == "done" and late[-1][1]["message"]["text"] == data["messages"][3]["text"]


async def test_the_prompt_carries_the_persona_the_history_and_the_question(app, admin_client):
    RecordingProvider.requests.clear()
    app.state.settings.text_provider = "test_recording"
    persona = await insert_persona(app, await user_id(app, "admin"))
    interview_id = await start(admin_client, persona.id)
    await ask(admin_client, interview_id, "最初の質問です。")
    await ask(admin_client, interview_id, "受診をためらうとしたら、どんな理由ですか？")
    request = RecordingProvider.requests[-1]
    assert request.task == "interview_answer"
    for text in ("山田 花子", "45歳", "女性", "夫、長女（8歳）と3人暮らし", "会社員（事務職）", "利便性重視型",
                 "インフルエンザ", "インフルエンザ 検査 いつ", "最初の質問です。",
                 "受診をためらうとしたら、どんな理由ですか？", "架空", "医学的な助言"):
        assert text in request.prompt, text
    for section in ("夜間や土曜の診療", "口コミでは待ち時間の長さ"):
        assert section in request.prompt
    assert request.context["question"] == "受診をためらうとしたら、どんな理由ですか？"
    assert [m["role"] for m in request.context["history"]] == ["user", "persona"]


@pytest.mark.parametrize(("text", "needle"), [
    ("", "質問を入力してください"),
    ("   \n ", "質問を入力してください"),
    ("あ" * 501, "500文字以内"),
    (12, "文字列"),
])
async def test_empty_or_oversized_questions_are_refused(app, admin_client, text, needle):
    persona = await insert_persona(app, await user_id(app, "admin"))
    interview_id = await start(admin_client, persona.id)
    r = await admin_client.post(f"/api/interviews/{interview_id}/messages", json={"text": text})
    assert r.status_code == 422
    assert needle in field_messages(r)["text"]
    assert await count(app, InterviewMessage) == 0


async def test_personas_of_others_unfinished_personas_and_sections(app, admin_client, member_client):
    from medipersona.accounts.service import create_user

    admin_persona = await insert_persona(app, await user_id(app, "admin"))
    member_persona = await insert_persona(app, await user_id(app, "member1"), status="running", sections={})
    r = await member_client.post(f"/api/personas/{admin_persona.id}/interviews")
    assert r.status_code == 404
    r = await member_client.post(f"/api/personas/{member_persona.id}/interviews")
    assert r.status_code == 409 and error_of(r)["code"] == "persona_not_ready"
    assert "完了していない" in error_of(r)["message"]
    interview_id = await start(admin_client, admin_persona.id)
    for method, url in (("get", f"/api/interviews/{interview_id}"), ("get", f"/api/interviews/{interview_id}/events"),
                        ("get", f"/api/interviews/{interview_id}/export.md"),
                        ("delete", f"/api/interviews/{interview_id}")):
        assert (await getattr(member_client, method)(url)).status_code == 404, url
    r = await member_client.post(f"/api/interviews/{interview_id}/messages", json={"text": "こんにちは"})
    assert r.status_code == 404
    # The admin may open a member's persona (as for personas).
    member_done = await insert_persona(app, await user_id(app, "member1"))
    assert (await admin_client.post(f"/api/personas/{member_done.id}/interviews")).status_code == 201
    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="dentist", password="dentist-password-1", role="member",
                          sections=["dental"])
    dentist_persona = await insert_persona(app, await user_id(app, "dentist"))
    await member_client.use_token("dentist", "dentist-password-1")
    r = await member_client.post(f"/api/personas/{dentist_persona.id}/interviews")
    assert r.status_code == 403 and error_of(r)["code"] == "section_forbidden"
    assert await count(app, InterviewMessage) == 0


async def test_one_answer_at_a_time(app, admin_client):
    persona = await insert_persona(app, await user_id(app, "admin"))
    interview_id = await start(admin_client, persona.id)
    async with app.state.db.sessionmaker() as session:
        await session.execute(update(Interview).where(Interview.id == interview_id).values(status="answering"))
        await session.commit()
    r = await admin_client.post(f"/api/interviews/{interview_id}/messages", json={"text": "次の質問"})
    assert r.status_code == 409 and error_of(r)["code"] == "answering"
    assert await count(app, InterviewMessage) == 0


async def test_a_failed_answer_removes_the_question_and_keeps_it_for_the_form(app, admin_client):
    app.state.settings.text_provider = FailingProvider.name
    persona = await insert_persona(app, await user_id(app, "admin"))
    interview_id = await start(admin_client, persona.id)
    stream = await ask(admin_client, interview_id, "待ち時間はどのくらいまで許せますか？")
    assert stream[-1][0] == "error"
    assert "回答を作成できませんでした" in stream[-1][1]["message"]
    data = (await admin_client.get(f"/api/interviews/{interview_id}")).json()
    assert data["messages"] == [] and data["status"] == "idle"
    assert data["last_error"]["question"] == "待ち時間はどのくらいまで許せますか？"
    page = await admin_client.get(f"/interviews/{interview_id}")
    assert "前回の質問には回答できませんでした" in page.text and "待ち時間はどのくらいまで許せますか？" in page.text
    app.state.settings.text_provider = "offline"
    stream = await ask(admin_client, interview_id, "待ち時間はどのくらいまで許せますか？")
    assert stream[-1][0] == "done"
    data = (await admin_client.get(f"/api/interviews/{interview_id}")).json()
    assert len(data["messages"]) == 2 and data["last_error"] is None


async def test_quota_counts_questions(app, client):
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="limited", password="limited-password-1", daily_quota=3)
    await client.use_token("limited", "limited-password-1")
    persona = await insert_persona(app, await user_id(app, "limited"))  # created today: one of the three
    interview_id = await start(client, persona.id)
    await ask(client, interview_id, "一つ目")
    await ask(client, interview_id, "二つ目")
    r = await client.post(f"/api/interviews/{interview_id}/messages", json={"text": "三つ目"})
    assert r.status_code == 429 and error_of(r)["code"] == "quota_exceeded"
    assert int(r.headers["retry-after"]) > 0


async def test_exports_markdown_and_pdf(app, admin_client, tmp_path):
    persona = await insert_persona(app, await user_id(app, "admin"))
    interview_id = await start(admin_client, persona.id)
    await ask(admin_client, interview_id, "クリニックを選ぶときの決め手は何ですか？")
    md = await admin_client.get(f"/api/interviews/{interview_id}/export.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert "attachment;" in md.headers["content-disposition"]
    assert md.text.startswith("# 山田 花子へのインタビュー")
    assert "**インタビュアー**" in md.text and "> クリニックを選ぶときの決め手は何ですか？" in md.text
    assert "架空の人物" in md.text and "オフライン生成" in md.text
    pdf = await admin_client.get(f"/api/interviews/{interview_id}/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text, _pages = await pdf_text(pdf.content, tmp_path / "interview.pdf")
    assert "インタビュー" in text and "決め手" in text and "架空の人物" in text


async def test_pages_without_javascript(app, client):
    await client.login()
    persona = await insert_persona(app, await user_id(app, "admin"))
    started = await client.post(f"/personas/{persona.id}/interviews", data={"csrf_token": client.csrf_token})
    assert started.status_code == 303
    url = started.headers["location"]
    page = await client.get(url)
    assert "山田 花子へのインタビュー" in page.text and "質問の例" in page.text
    refused = await client.post(url + "/messages", data={"csrf_token": client.csrf_token, "text": "  "})
    assert refused.status_code == 422 and "質問を入力してください" in refused.text
    asked = await client.post(url + "/messages", data={"csrf_token": client.csrf_token, "text": "あなたは実在しますか？"})
    assert asked.status_code == 303
    interview_id = url.rsplit("/", 1)[1]
    await events(client, f"/api/interviews/{interview_id}/events")
    page = await client.get(url)
    assert "あなたは実在しますか？" in page.text and "架空の患者ペルソナ" in page.text
    deleted = await client.post(url + "/delete", data={"csrf_token": client.csrf_token})
    assert deleted.status_code == 303 and deleted.headers["location"].startswith(f"/personas/{persona.id}")
    assert await count(app, Interview) == 0 and await count(app, InterviewMessage) == 0
