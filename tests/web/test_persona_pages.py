"""Persona pages without a browser: rendering, access control, escaping, history filters.

The browser behaviour (wizard steps, streaming, tabs) is covered by tests/e2e.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from medipersona.catalog.router import catalog_payload
from medipersona.catalog.service import get_catalog
from medipersona.db import utcnow
from tests.support.helpers import MEMBER_PASSWORD

XSS_NAME = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def add_persona(app, owner_username: str, **fields):
    from sqlalchemy import select

    from medipersona.accounts.models import User
    from medipersona.personas.models import Persona

    async with app.state.db.sessionmaker() as session:
        owner = await session.scalar(select(User).where(User.username == owner_username))
        values = {
            'owner_id': owner.id,
            'status': "done",
            'department_id': "internal_medicine",
            'chief_complaint_id': "internal_medicine.headache",
            'purpose_id': "increase_patients",
            'setting_type': "auto",
            'seed': 1,
            'request': {"department": "internal_medicine", "chief_complaint": "internal_medicine.headache",
                     "purpose": "increase_patients", "setting_type": "auto"},
            'name': "山田 花子",
            'profile': {"name": "山田 花子", "gender": "female", "age": 45, "prefecture": "東京都",
                     "income": "500-600", "occupation": "会社員"},
            'extras': {"motto": "一期一会"},
            'sections': {"personality": "穏やかな性格。", "reason": "頭痛が続くため。"},
            'text_provider': "offline",
            'image_status': "done",
        }
        values.update(fields)
        persona = Persona(**values)
        session.add(persona)
        await session.commit()
        return persona.id


@pytest.mark.parametrize("path", ["/personas", "/personas/new", "/personas/0123456789abcdef0123456789abcdef"])
async def test_pages_redirect_anonymous_users_to_login(client, path):
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_wizard_is_built_from_the_catalog(client):
    await client.login()
    response = await client.get("/personas/new")
    assert response.status_code == 200
    html = response.text
    data = catalog_payload(None)
    for dep in data["departments"]:
        assert f'value="{dep["id"]}"' in html
        for comp in dep["chief_complaints"]:
            assert f'value="{comp["id"]}"' in html
    for ptype in data["patient_types"]:
        assert ptype["name"] in html and ptype["example"] in html
    for purpose in data["purposes"]:
        assert purpose["name"] in html
    for pref in data["prefectures"]:
        assert f'<option value="{pref}"' in html
    for field in data["labels"]["extra_fields"]:
        assert field["label"] in html
    for label in data["labels"]["income_bands"].values():
        assert label in html
    for step in ("診療科", "主訴", "作成目的", "ペルソナの項目", "追加項目", "確認"):
        assert step in html
    # No inline script or style, no external URLs.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html
    assert not re.search(r'(src|href|action)="(https?:)?//', html)


async def test_wizard_shows_only_the_users_sections(client, app):
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="dentist", password=MEMBER_PASSWORD, role="member",
                          sections=["dental"])
    await client.login("dentist", MEMBER_PASSWORD)
    html = (await client.get("/personas/new")).text
    catalog = get_catalog()
    for dep in catalog.departments:
        shown = f'name="department" value="{dep.id}"' in html
        assert shown == (dep.section == "dental"), dep.id


async def test_wizard_section_filter(client):
    await client.login()
    html = (await client.get("/personas/new?section=others")).text
    for dep in get_catalog().departments:
        assert (f'name="department" value="{dep.id}"' in html) == (dep.section == "others")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_history_member_sees_only_own_admin_sees_all(client, app, member):
    mine = await add_persona(app, "member1", name="メンバーの人")
    theirs = await add_persona(app, "admin", name="管理者の人")
    await client.login("member1", MEMBER_PASSWORD)
    html = (await client.get("/personas")).text
    assert "メンバーの人" in html and "管理者の人" not in html
    assert (await client.get(f"/personas/{theirs}")).status_code == 404
    assert (await client.get(f"/personas/{mine}")).status_code == 200
    # Nor the wizard prefilled from someone else's persona.
    assert (await client.get(f"/personas/new?source={theirs}")).status_code == 404

    client.cookies.clear()
    await client.login()
    html = (await client.get("/personas")).text
    assert "メンバーの人" in html and "管理者の人" in html
    assert "member1" in html  # the owner column for admins
    only_member = (await client.get("/personas?owner=member1")).text
    assert "メンバーの人" in only_member and "管理者の人" not in only_member
    assert (await client.get(f"/personas/{mine}")).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_history_filters(client, app):
    await add_persona(app, "admin", name="頭痛の人")
    await add_persona(app, "admin", name="歯の人", department_id="general_dentistry",
                      chief_complaint_id=get_catalog().department("general_dentistry").chief_complaints[0].id)
    await add_persona(app, "admin", name="昔の人", created_at=utcnow() - timedelta(days=40))
    await client.login()

    async def names(query: str) -> set[str]:
        html = (await client.get("/personas" + query)).text
        return set(re.findall(r'<h2 class="history-item__name"><a href="[^"]+">([^<]+)</a>', html))

    assert await names("") == {"頭痛の人", "歯の人", "昔の人"}
    assert await names("?department=general_dentistry") == {"歯の人"}
    assert await names("?chief_complaint=internal_medicine.headache") == {"頭痛の人", "昔の人"}
    assert await names("?q=頭痛") == {"頭痛の人", "昔の人"}  # name and 主訴 name both match
    assert await names("?q=歯の") == {"歯の人"}
    recent = (utcnow() - timedelta(days=3)).date().isoformat()
    assert await names(f"?date_from={recent}") == {"頭痛の人", "歯の人"}
    old = (utcnow() - timedelta(days=30)).date().isoformat()
    assert await names(f"?date_to={old}") == {"昔の人"}
    assert await names("?q=%25") == set()  # LIKE wildcards are literal


async def test_result_page_escapes_user_and_model_text(client, app):
    pid = await add_persona(app, "admin", name=XSS_NAME, profile={"name": XSS_NAME, "gender": "female", "age": 30},
                            sections={"personality": XSS_NAME}, extra_fields=[{"name": XSS_NAME, "value": XSS_NAME}])
    await client.login()
    for path in (f"/personas/{pid}", "/personas", f"/personas/new?source={pid}", "/"):
        html = (await client.get(path)).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
    html = (await client.get(f"/personas/{pid}")).text
    assert "&lt;script&gt;alert(" in html


async def test_result_page_labels_offline_output(client, app):
    offline = await add_persona(app, "admin", text_provider="offline")
    online = await add_persona(app, "admin", text_provider="openai")
    await client.login()
    assert 'id="persona-offline">オフライン生成（AI未使用）' in (await client.get(f"/personas/{offline}")).text
    assert 'id="persona-offline" hidden>' in (await client.get(f"/personas/{online}")).text


async def test_result_page_shows_labels_not_codes(client, app):
    pid = await add_persona(app, "admin")
    await client.login()
    html = (await client.get(f"/personas/{pid}")).text
    assert "45歳" in html and "年収500〜600万円" in html and "女性" in html
    assert "内科" in html and "頭痛" in html and "患者数を増やす" in html
    assert "穏やかな性格。" in html


async def test_failed_persona_shows_message_and_retry(client, app):
    pid = await add_persona(app, "admin", status="failed", sections={},
                            error={"code": "provider_error", "message": "AIサービスに接続できませんでした。"})
    await client.login()
    html = (await client.get(f"/personas/{pid}")).text
    assert "ペルソナを生成できませんでした。" in html
    assert "AIサービスに接続できませんでした。" in html
    assert 'id="persona-retry"' in html


# ---------------------------------------------------------------------------------------------- no JavaScript


async def test_wizard_form_post_without_javascript_creates_a_persona(client, app):
    await client.login()
    form = {
        "csrf_token": client.csrf_token,
        "department": "internal_medicine",
        "chief_complaint": "internal_medicine.headache",
        "purpose": "increase_patients",
        "setting_type": "input",
        "profile.name": "  鈴木 一郎 ",
        "profile.gender": "male",
        "profile.age": "52",
        "profile.age_months": "0",
        "profile.prefecture": "",
        "profile.income": "600-700",
        "extras.motto": "初志貫徹",
        "extra_name": ["ペット", ""],
        "extra_value": ["金魚", ""],
    }
    response = await client.post("/personas/new", data=form)
    assert response.status_code == 303, response.text
    pid = response.headers["location"].rsplit("/", 1)[1]
    from medipersona.personas.models import Persona

    async with app.state.db.sessionmaker() as session:
        persona = await session.get(Persona, pid)
    assert persona.request["profile"] == {"name": "鈴木 一郎", "gender": "male", "age": 52, "income": "600-700"}
    assert persona.request["extras"] == {"motto": "初志貫徹"}
    assert persona.extra_fields == [{"name": "ペット", "value": "金魚"}]
    page = await client.get(f"/personas/{pid}")
    assert page.status_code == 200 and "鈴木 一郎" in page.text


async def test_wizard_form_post_shows_field_errors_and_keeps_input(client):
    await client.login()
    form = {
        "csrf_token": client.csrf_token,
        "department": "internal_medicine",
        "chief_complaint": "dermatology.acne",
        "purpose": "increase_patients",
        "setting_type": "input",
        "profile.name": "名" * 51,
        "profile.occupation": "<b>教師</b>",
    }
    response = await client.post("/personas/new", data=form)
    assert response.status_code == 422
    html = response.text
    assert re.search(r'data-error-for="profile.name"[^>]*>50文字以内で入力してください。', html)
    assert 'value="&lt;b&gt;教師&lt;/b&gt;"' in html  # kept, escaped
    assert 'id="profile-name"' in html and 'aria-invalid="true"' in html


async def test_wizard_form_post_requires_csrf(client):
    await client.login()
    response = await client.post("/personas/new", data={"department": "internal_medicine"})
    assert response.status_code == 403


async def test_history_duplicate_and_delete_without_javascript(client, app):
    pid = await add_persona(app, "admin", name="複製元")
    await client.login()
    response = await client.post(f"/personas/{pid}/duplicate", data={"csrf_token": client.csrf_token})
    assert response.status_code == 303
    copy_id = response.headers["location"].split("/")[2].split("?")[0]
    assert copy_id != pid
    assert (await client.get(f"/personas/{copy_id}")).status_code == 200
    # Without JavaScript (no confirm dialog, confirmed not set): a confirmation page, nothing deleted yet.
    response = await client.post(f"/personas/{pid}/delete",
                                 data={"csrf_token": client.csrf_token, "confirmed": ""})
    assert response.status_code == 200 and "ペルソナを削除しますか？" in response.text
    assert 'name="confirmed" value="1"' in response.text
    assert (await client.get(f"/personas/{pid}")).status_code == 200
    response = await client.post(f"/personas/{pid}/delete",
                                 data={"csrf_token": client.csrf_token, "confirmed": "1",
                                       "return_to": "/personas?department=internal_medicine"})
    assert response.status_code == 303
    assert response.headers["location"] == "/personas?department=internal_medicine&message=deleted"
    assert (await client.get(f"/personas/{pid}")).status_code == 404
    # An outside return address is refused.
    response = await client.post(f"/personas/{copy_id}/delete",
                                 data={"csrf_token": client.csrf_token, "confirmed": "1",
                                       "return_to": "https://evil.example/"})
    assert response.headers["location"] == "/personas?message=deleted"


async def test_member_cannot_delete_or_duplicate_others(client, app, member):
    pid = await add_persona(app, "admin", name="管理者の")
    await client.login("member1", MEMBER_PASSWORD)
    for action in ("delete", "duplicate"):
        response = await client.post(f"/personas/{pid}/{action}",
                                     data={"csrf_token": client.csrf_token, "confirmed": "1"})
        assert response.status_code == 404
    assert (await client.get("/personas")).status_code == 200


async def test_result_page_refreshes_itself_without_javascript_while_generating(client, app):
    running = await add_persona(app, "admin", status="running", sections={})
    done = await add_persona(app, "admin")
    await client.login()
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in (await client.get(f"/personas/{running}")).text
    assert 'http-equiv="refresh"' not in (await client.get(f"/personas/{done}")).text


async def test_result_page_shows_a_failed_timeline_analysis_with_the_previous_one(client, app):
    pid = await add_persona(app, "admin", timeline_status="failed", timeline_analysis={
        "psychology": "前回の心理変化の分析。", "hidden_needs": "前回のニーズ。", "marketing": "前回の提案。",
        "error": {"code": "provider_error", "message": "AIサービスに接続できませんでした。"}})
    await client.login()
    html = (await client.get(f"/personas/{pid}")).text
    assert "AIサービスに接続できませんでした。 もう一度お試しください。" in html
    assert "前回の心理変化の分析。" in html
