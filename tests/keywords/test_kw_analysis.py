"""Timeline analysis: the offline composer, the context, and the job end to end (202 → SSE → stored)."""

from __future__ import annotations

import json

from medipersona.keywords import store, store_cache
from medipersona.keywords.analysis import TimelineAnalysis, build_context, build_prompt
from medipersona.keywords.offline_analysis import compose_timeline_analysis
from medipersona.personas.models import Persona


async def make_persona(db, owner_id: int, status: str = "done") -> Persona:
    persona = Persona(
        owner_id=owner_id, status=status, department_id="internal_medicine",
        chief_complaint_id="internal_medicine.common_cold", purpose_id="increase_patients", setting_type="auto",
        seed=7, request={}, name="山田 花子",
        profile={"name": "山田 花子", "gender": "female", "age": 45, "occupation": "会社員（事務職）",
                 "family": "夫と長女の3人暮らし"},
        extras={}, extra_fields=[], sections={"reason": "のどの痛みと微熱が続くため。"}, keywords_used=[],
    )
    async with db.sessionmaker() as session:
        session.add(persona)
        await session.commit()
    return persona


async def context_for(db, persona):
    async with db.sessionmaker() as session:
        timeline = await store.timeline(session, persona.department_id, persona.chief_complaint_id,
                                        gender="female", age=45)
    return build_context(persona, timeline)


async def test_offline_composer_from_context(app):
    from sqlalchemy import select

    from medipersona.accounts.models import User

    db = app.state.db
    async with db.sessionmaker() as s:
        admin = (await s.execute(select(User))).scalars().first()
    persona = await make_persona(db, admin.id)
    context = await context_for(db, persona)
    assert len(context["keywords_before"]) <= 12 and len(context["keywords_after"]) <= 12
    assert len(json.dumps(context, ensure_ascii=False)) < 8000  # bounded
    out = compose_timeline_analysis(context, 1)
    model = TimelineAnalysis.model_validate(out)
    assert "風邪" in model.psychology and str(context["summary"]["total"]) in model.psychology
    assert model.hidden_needs and "ガイドライン" in model.marketing
    assert "架空のサンプルデータ" in model.marketing  # the sample is labelled
    assert compose_timeline_analysis(context, 1) == out
    prompt = build_prompt(context)
    assert "心理変化の分析" in prompt and "風邪" in prompt and "女性" in prompt


async def read_events(client, url: str) -> list[tuple[str, dict]]:
    events = []
    async with client.stream("GET", url, timeout=60) as response:
        assert response.status_code == 200
        event_type = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event_type = line[7:]
            elif line.startswith("data: ") and event_type:
                events.append((event_type, json.loads(line[6:])))
                if event_type in ("done", "error"):
                    break
    return events


async def test_job_end_to_end(admin_client, app):
    from sqlalchemy import select

    from medipersona.accounts.models import User

    db = app.state.db
    async with db.sessionmaker() as s:
        admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()
    persona = await make_persona(db, admin.id)

    before = await read_events(admin_client, f"/api/personas/{persona.id}/timeline-analysis/events")
    assert before == [("error", {"code": "no_analysis", "message": "タイムライン分析はまだ実行されていません。"})]

    r = await admin_client.post(f"/api/personas/{persona.id}/timeline-analysis")
    assert r.status_code == 202, r.text
    assert r.json()["events_url"].endswith("/timeline-analysis/events")
    events = await read_events(admin_client, r.json()["events_url"])
    types = [t for t, _ in events]
    assert types[-1] == "done", events
    assert "delta" in types
    analysis = events[-1][1]["analysis"]
    assert set(analysis) >= {"psychology", "hidden_needs", "marketing", "meta"}

    stored = (await admin_client.get(f"/api/personas/{persona.id}/timeline-analysis")).json()
    assert stored["status"] == "done" and stored["analysis"]["psychology"] == analysis["psychology"]
    svg = await admin_client.get(f"/api/personas/{persona.id}/timeline/chart.svg")
    assert svg.status_code == 200 and svg.text.startswith("<svg")


async def test_job_rules(admin_client, member_client, app):
    from sqlalchemy import select

    from medipersona.accounts.models import User

    db = app.state.db
    async with db.sessionmaker() as s:
        admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()
    unfinished = await make_persona(db, admin.id, status="running")
    r = await admin_client.post(f"/api/personas/{unfinished.id}/timeline-analysis")
    assert r.status_code == 409 and r.json()["error"]["code"] == "persona_not_ready"
    r = await admin_client.post("/api/personas/doesnotexist/timeline-analysis")
    assert r.status_code == 404
    mine = await make_persona(db, admin.id)
    r = await member_client.post(f"/api/personas/{mine.id}/timeline-analysis")
    assert r.status_code == 404  # other people's personas are invisible


async def test_job_fails_clearly_without_keyword_data(admin_client, app):
    from sqlalchemy import delete, select

    from medipersona.accounts.models import User
    from medipersona.keywords.models import KeywordDataset, KeywordPack

    db = app.state.db
    async with db.sessionmaker() as s:
        admin = (await s.execute(select(User).where(User.username == "admin"))).scalar_one()
        ids = select(KeywordDataset.id).where(KeywordDataset.department_id == "internal_medicine")
        await s.execute(delete(KeywordPack).where(KeywordPack.dataset_id.in_(ids)))
        await s.execute(delete(KeywordDataset).where(KeywordDataset.department_id == "internal_medicine"))
        await s.commit()
    store_cache.invalidate_local()
    persona = await make_persona(db, admin.id)
    r = await admin_client.post(f"/api/personas/{persona.id}/timeline-analysis")
    assert r.status_code == 202
    events = await read_events(admin_client, r.json()["events_url"])
    assert events[-1][0] == "error" and "キーワードデータ" in events[-1][1]["message"]
    stored = (await admin_client.get(f"/api/personas/{persona.id}/timeline-analysis")).json()
    assert stored["status"] == "failed" and stored["error"]["code"] == "no_keyword_data"
