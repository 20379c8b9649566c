"""自動 grounded in data: the complaint's keyword shares decide gender and age band (the UI says so)."""

from __future__ import annotations

from medipersona.keywords.shares import demographic_shares
from tests.personas.helpers import CREATE_BODY

from .kw_helpers import clear_keyword_data


async def test_shares_of_a_complaint_with_data_and_none_without(app):
    async with app.state.db.sessionmaker() as session:
        shares = await demographic_shares(session, "internal_medicine", "internal_medicine.common_cold")
        assert shares is not None and shares.rows > 0
        assert abs(shares.male + shares.female - 100) < 1.0
        assert abs(sum(shares.ages.values()) - 100) < 2.0
        assert await demographic_shares(session, "internal_medicine", None) is None
        assert await demographic_shares(session, "internal_medicine", "internal_medicine.no_such_thing") is None


async def test_auto_persona_says_its_demographics_came_from_the_data(app, admin_client):
    body = {**CREATE_BODY, "chief_complaint": "internal_medicine.common_cold"}
    created = (await admin_client.post("/api/personas", json=body)).json()
    persona = (await admin_client.get(f"/api/personas/{created['id']}")).json()
    assert persona["demographics"]["source"] == "keywords"
    assert "キーワードデータ" in persona["demographics"]["label"]
    page = await admin_client.get(f"/personas/{created['id']}")
    assert "キーワードデータの性別・年代の比率から選びました" in page.text
    # 詳細設定 (input) does not draw from the data; without data 自動 falls back to the rules
    manual = (await admin_client.post("/api/personas", json={**body, "setting_type": "input"})).json()
    assert (await admin_client.get(f"/api/personas/{manual['id']}")).json()["demographics"]["source"] == "rules"
    await clear_keyword_data(app.state.db)
    from medipersona.keywords import store_cache

    store_cache.invalidate_local(app.state.db.engine)
    later = (await admin_client.post("/api/personas", json={**body, "seed": 99})).json()
    assert (await admin_client.get(f"/api/personas/{later['id']}")).json()["demographics"]["source"] == "rules"
