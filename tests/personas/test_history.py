"""History search and filters: sex, age, patient type, tags and notes (API and page, SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from tests.personas.helpers import CREATE_BODY, wait_status

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def _input(name: str, gender: str, age: int) -> dict:
    return {**CREATE_BODY, "setting_type": "input", "profile": {"name": name, "gender": gender, "age": age}}


async def _make(client, body: dict) -> str:
    pid = (await client.post("/api/personas", json=body)).json()["id"]
    await wait_status(client, pid)
    return pid


async def _ids(client, **params) -> set[str]:
    response = await client.get("/api/personas", params=params)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_search_words_and_filters_find_sex_age_type_tags_and_notes(admin_client):
    woman45 = await _make(admin_client, _input("山田花子", "female", 45))
    woman23 = await _make(admin_client, _input("佐藤美咲", "female", 23))
    man47 = await _make(admin_client, _input("鈴木一郎", "male", 47))
    child = await _make(admin_client, _input("田中ゆい", "female", 6))
    typed = await _make(admin_client, {**CREATE_BODY, "setting_type": "patient_type",
                                       "patient_type": "convenience_focused"})

    # 「女性」 finds the women (the issue: it found nothing); words combine with AND. (The patient-type persona
    # got its sex and age from auto-fill, so it is checked against what it got.)
    typed_body = (await admin_client.get(f"/api/personas/{typed}")).json()
    women = await _ids(admin_client, q="女性")
    assert {woman45, woman23, child} <= women and man47 not in women
    assert (typed in women) == (typed_body["profile"]["gender"] == "female")
    assert man47 in await _ids(admin_client, q="男性") and woman45 not in await _ids(admin_client, q="男性")
    forties = await _ids(admin_client, q="女性 40代")
    assert woman45 in forties and not forties & {woman23, man47, child}
    assert await _ids(admin_client, q="女性\u300040代") == forties  # a full-width space separates words too
    assert man47 in await _ids(admin_client, q="47歳") and woman45 not in await _ids(admin_client, q="47歳")
    assert await _ids(admin_client, q="利便性重視型") == {typed}
    assert await _ids(admin_client, q="花子") == {woman45}

    # Filters: sex, age band (children have their own), patient type.
    assert woman45 in await _ids(admin_client, gender="female", age_band="40s")
    assert not await _ids(admin_client, gender="female", age_band="40s") & {woman23, man47, child}
    assert child in await _ids(admin_client, age_band="child")
    assert not await _ids(admin_client, age_band="child") & {woman45, woman23, man47}
    assert woman23 in await _ids(admin_client, age_band="20s", gender="female")
    assert await _ids(admin_client, patient_type="convenience_focused") == {typed}
    assert (await admin_client.get("/api/personas", params={"age_band": "90s"})).status_code == 422

    # Notes and tags: saved, listed, searched and filtered.
    saved = await admin_client.patch(f"/api/personas/{woman45}",
                                     json={"tags": [" 新患向け ", "チラシ用", "新患向け"], "note": "駅前の看板案"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["tags"] == ["新患向け", "チラシ用"] and saved.json()["note"] == "駅前の看板案"
    assert await _ids(admin_client, tag="新患向け") == {woman45}
    assert await _ids(admin_client, tag="新患") == set()  # a tag filter is the whole tag
    assert await _ids(admin_client, q="看板") == {woman45}
    assert await _ids(admin_client, q="チラシ用 女性") == {woman45}
    summary = next(i for i in (await admin_client.get("/api/personas", params={"tag": "チラシ用"})).json()["items"])
    assert summary["gender"] == "female" and summary["age"] == 45 and summary["tags"] == ["新患向け", "チラシ用"]

    # A profile edit moves the persona between filters.
    await admin_client.patch(f"/api/personas/{woman23}", json={"profile": {"age": 52}})
    assert woman23 in await _ids(admin_client, age_band="50s")
    assert woman23 not in await _ids(admin_client, age_band="20s")


async def test_bad_tags_are_refused_in_japanese_and_nothing_changes(admin_client):
    pid = await _make(admin_client, _input("高橋誠", "male", 60))
    for tags, words in ((["あ" * 21], "20文字以内"), (["a|b"], "「|」"), ([f"t{i}" for i in range(11)], "10個まで")):
        response = await admin_client.patch(f"/api/personas/{pid}", json={"tags": tags, "note": "変更されないメモ"})
        assert response.status_code == 422
        messages = " ".join(f["message"] for f in response.json()["error"]["fields"])
        assert words in messages
    body = (await admin_client.get(f"/api/personas/{pid}")).json()
    assert body["tags"] == [] and body["note"] == ""


async def test_history_page_cards_show_sex_age_type_and_search_finds_women(admin_client):
    await _make(admin_client, _input("山田花子", "female", 45))
    await _make(admin_client, _input("鈴木一郎", "male", 47))
    page = await admin_client.get("/personas", params={"q": "女性"})
    assert page.status_code == 200
    assert "山田花子" in page.text and "鈴木一郎" not in page.text
    assert "女性・45歳" in page.text
    filtered = await admin_client.get("/personas", params={"gender": "male", "age_band": "40s"})
    assert "鈴木一郎" in filtered.text and "山田花子" not in filtered.text
    assert 'option value="male" selected' in filtered.text


async def test_profile_change_marks_sections_out_of_date_until_rewritten(admin_client):
    pid = await _make(admin_client, _input("古川 文", "female", 38))
    assert (await admin_client.get(f"/api/personas/{pid}")).json()["stale_sections"] == []
    # Tags and notes do not touch what the sections say; the profile does.
    await admin_client.patch(f"/api/personas/{pid}", json={"note": "メモだけ"})
    assert (await admin_client.get(f"/api/personas/{pid}")).json()["stale_sections"] == []
    changed = (await admin_client.patch(f"/api/personas/{pid}", json={"profile": {"occupation": "薬剤師"}})).json()
    assert changed["stale_sections"] == ["personality", "reason", "behavior", "reviews", "values", "demands"]
    # Editing a section in place makes that one current.
    edited = (await admin_client.patch(f"/api/personas/{pid}", json={"sections": {"reason": "自分で書いた通院理由。"}})).json()
    assert "reason" not in edited["stale_sections"] and len(edited["stale_sections"]) == 5
    # 「すべて再生成」: a new generation from the current profile; afterwards nothing is out of date.
    started = await admin_client.post(f"/api/personas/{pid}/regenerate")
    assert started.status_code == 202 and started.json()["status"] == "queued"
    done = await wait_status(admin_client, pid)
    assert done["status"] == "done" and done["stale_sections"] == []
    assert all(done["sections"].get(k) for k in ("personality", "reason", "behavior", "reviews", "values", "demands"))
    assert done["profile"]["occupation"] == "薬剤師"
