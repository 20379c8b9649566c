"""Interviews and message tests through the real ``openai`` provider (the official SDK) against a local
OpenAI-compatible HTTP server (``tests/providers/fakes.py``): what the prompts carry, schema validation with
re-asking after malformed or invalid output, images as content parts, failures reported in Japanese."""

from __future__ import annotations

import base64
import json

import pytest

from tests.providers.conftest import _fake_server, _fresh_providers, fake_api  # noqa: F401  (fixtures)
from tests.providers.fakes import TINY_PNG, Error, Text
from tests.support.conversations import events, insert_persona, user_id

AD = "駅から徒歩3分。土曜も診療。インフルエンザの検査は当日予約OKです。"
REACTION = {"score": 4, "comment": "駅から近くて土曜も開いているので、仕事を休まずに行けそうです。", "would_book": True,
            "concerns": ["費用の目安が書かれていない"]}
SUMMARY = {"overview": "1人が読み、前向きな評価でした。通いやすさが評価されています。",
           "concerns": "費用の目安がないことが懸念として挙がりました。",
           "booking_triggers": "費用の目安と予約方法を明記すると、予約につながりやすくなります。",
           "by_type": "利便性重視型はアクセスと土曜診療を高く評価しました。"}


@pytest.fixture
def settings_overrides():
    return {"text_provider": "openai", "image_provider": "offline", "provider_max_retries": 1}


@pytest.fixture(autouse=True)
def _standin(fake_api):  # noqa: F811 - the imported fixture
    """The stand-in's URL and key are in the environment before the app (and its provider check) starts."""
    return fake_api


def user_text(call) -> str:
    content = call.body["messages"][1]["content"]
    return content if isinstance(content, str) else "".join(p.get("text", "") for p in content if p["type"] == "text")


async def test_an_interview_answer_is_re_asked_after_malformed_json(app, admin_client, fake_api):  # noqa: F811
    fake_api.script("openai_chat", Text("はい、わかりました。これはJSONではありません。"),
                    Text(json.dumps({"answer": "駅に近くて、Web予約ができるところを選びます。"}, ensure_ascii=False),
                         chunks=6))
    persona = await insert_persona(app, await user_id(app, "admin"))
    interview = (await admin_client.post(f"/api/personas/{persona.id}/interviews")).json()
    r = await admin_client.post(f"/api/interviews/{interview['id']}/messages", json={"text": "決め手は何ですか？"})
    stream = await events(admin_client, r.json()["events_url"])
    assert stream[-1][0] == "done"
    assert stream[-1][1]["message"]["text"] == "駅に近くて、Web予約ができるところを選びます。"
    assert stream[-1][1]["message"]["is_offline"] is False
    first, second = fake_api.calls("openai_chat")
    prompt = user_text(first)
    for needle in ("山田 花子", "45歳", "会社員（事務職）", "利便性重視型", "夜間や土曜の診療", "インフルエンザ 検査 いつ",
                   "決め手は何ですか？", "架空の人物"):
        assert needle in prompt, needle
    assert "【再依頼】" not in prompt and "【再依頼】" in user_text(second)
    schema = first.body["response_format"]["json_schema"]
    assert schema["strict"] is True and schema["schema"]["required"] == ["answer"]
    data = (await admin_client.get(f"/api/interviews/{interview['id']}")).json()
    assert [m["text"] for m in data["messages"]][1] == "駅に近くて、Web予約ができるところを選びます。"


async def test_a_reaction_outside_the_schema_is_re_asked_and_the_image_is_sent(app, admin_client, fake_api):  # noqa: F811
    fake_api.script("openai_chat",
                    Text(json.dumps({**REACTION, "score": 9}, ensure_ascii=False)),  # score outside 1-5
                    Text(json.dumps(REACTION, ensure_ascii=False)),
                    Text(json.dumps(SUMMARY, ensure_ascii=False), chunks=8))
    persona = await insert_persona(app, await user_id(app, "admin"))
    image = {"data": base64.b64encode(TINY_PNG).decode(), "mime": "image/png"}
    r = await admin_client.post("/api/message-tests", json={"persona_ids": [persona.id], "message": AD,
                                                            "kind": "leaflet", "image": image})
    assert r.status_code == 202, r.text
    stream = await events(admin_client, r.json()["events_url"])
    assert stream[-1][0] == "done"
    data = (await admin_client.get(f"/api/message-tests/{r.json()['id']}")).json()
    assert data["results"][0] | REACTION == data["results"][0]
    assert data["summary"]["overview"] == SUMMARY["overview"] and data["summary"]["meta"]["provider"] == "openai"
    first, second, summary = fake_api.calls("openai_chat")
    assert "山田 花子" in user_text(first) and AD in user_text(first) and "チラシ" in user_text(first)
    assert "score" in user_text(second) and "【再依頼】" in user_text(second)
    parts = first.body["messages"][1]["content"]
    assert parts[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64," + image["data"]}}
    reaction_schema = first.body["response_format"]["json_schema"]["schema"]
    assert sorted(reaction_schema["required"]) == ["comment", "concerns", "score", "would_book"]
    assert "駅から近くて" in user_text(summary) and "平均スコア: 4.0" in user_text(summary)


async def test_a_failing_upstream_fails_the_test_with_a_japanese_message(app, admin_client, fake_api):  # noqa: F811
    fake_api.script("openai_chat", default=Error(500))
    persona = await insert_persona(app, await user_id(app, "admin"))
    r = await admin_client.post("/api/message-tests", json={"persona_ids": [persona.id], "message": AD})
    stream = await events(admin_client, r.json()["events_url"])
    assert stream[-1][0] == "error"
    message = stream[-1][1]["message"]
    assert "山田 花子さんの反応を得られませんでした" in message and "サーバーエラー" in message
    assert len(fake_api.calls("openai_chat")) == 2  # one retry (provider_max_retries=1), then the failure
    data = (await admin_client.get(f"/api/message-tests/{r.json()['id']}")).json()
    assert data["status"] == "failed" and data["results"] == [] and data["summary"] is None
