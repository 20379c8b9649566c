"""Admin catalog (カタログ): list with data status, add, rename, hide/show, merge, move; every change reaches
the other workers (their snapshot follows the version row) and hidden entries leave the wizard while the
personas that use them still render."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from medipersona.catalog import service as catalog_service
from medipersona.catalog.editing import bump, new_complaint_id, new_department_id
from medipersona.catalog.models import CatalogComplaint
from medipersona.db import Database
from medipersona.keywords.importer import import_path
from medipersona.keywords.models import KeywordDataset
from medipersona.personas.models import Persona
from tests.keywords.kw_helpers import make_rows, write_csv
from tests.personas.helpers import CREATE_BODY, wait_status

FLU = "internal_medicine.influenza"
COLD = "internal_medicine.common_cold"


async def _catalog(client, all_sections: bool = False) -> dict:
    response = await client.get("/api/catalog" + ("?all_sections=true" if all_sections else ""))
    assert response.status_code == 200
    return {d["id"]: d for d in response.json()["departments"]}


def _complaint_names(deps, dep_id) -> list[str]:
    return [c["name"] for c in deps[dep_id]["chief_complaints"]]


async def test_admin_api_lists_data_status_and_adds(admin_client, member_client):
    data = (await admin_client.get("/api/admin/catalog")).json()
    naika = next(d for d in data["departments"] if d["id"] == "internal_medicine")
    flu = next(c for c in naika["chief_complaints"] if c["id"] == FLU)
    assert flu["rows"] > 0 and flu["is_sample"] is True and flu["imported_at"]
    assert naika["with_data"] == len(naika["chief_complaints"])

    response = await admin_client.post("/api/admin/catalog/departments", json={"name": "美容外科クリニック", "section": "others"})
    assert response.status_code == 201
    dep_id = response.json()["id"]
    assert dep_id == new_department_id("美容外科クリニック")
    response = await admin_client.post(f"/api/admin/catalog/departments/{dep_id}/complaints", json={"name": "二重整形"})
    assert response.status_code == 201
    deps = await _catalog(admin_client, all_sections=True)
    assert deps[dep_id]["section"] == "others" and _complaint_names(deps, dep_id) == ["二重整形"]

    # Duplicates (after normalisation) and bad input: clear statuses and Japanese messages.
    dup = await admin_client.post(f"/api/admin/catalog/departments/{dep_id}/complaints", json={"name": "二重 整形"})
    assert dup.status_code == 409 and "既にあります" in dup.json()["error"]["message"]
    empty = await admin_client.post("/api/admin/catalog/departments", json={"name": "  ", "section": "medical"})
    assert empty.status_code == 422 and "入力" in empty.json()["error"]["message"]
    bad = await admin_client.post("/api/admin/catalog/departments", json={"name": "x", "section": "nope"})
    assert bad.status_code == 422
    missing = await admin_client.post("/api/admin/catalog/departments/none/complaints", json={"name": "x"})
    assert missing.status_code == 404
    assert (await member_client.get("/api/admin/catalog")).status_code == 403
    assert (await member_client.post("/api/admin/catalog/departments",
                                     json={"name": "x", "section": "medical"})).status_code == 403


async def test_rename_keeps_old_name_for_reimports(app, admin_client, tmp_path):
    ok = await admin_client.post(f"/api/admin/catalog/chief_complaint/{FLU}/rename", json={"name": "季節性インフルエンザ"})
    assert ok.status_code == 200
    deps = await _catalog(admin_client)
    assert "季節性インフルエンザ" in _complaint_names(deps, "internal_medicine")
    assert "インフルエンザ" not in _complaint_names(deps, "internal_medicine")
    # An export still named by the old name goes to the renamed entry (no new complaint).
    write_csv(tmp_path / "e" / "内科" / "主訴" / "インフルエンザ_全体.csv", make_rows(6))
    report = await import_path(app.state.db, tmp_path / "e")
    assert report.ok and report.added == [] and report.imported[0].chief_complaint_id == FLU
    clash = await admin_client.post(f"/api/admin/catalog/chief_complaint/{FLU}/rename", json={"name": "風邪"})
    assert clash.status_code == 409


@pytest.fixture
async def page_client(app):
    import httpx

    from tests.support.helpers import Client

    async with Client(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        await c.login()
        yield c


async def test_hidden_entries_leave_the_wizard_and_personas_still_render(app, admin_client, page_client):
    pid = (await admin_client.post("/api/personas", json={**CREATE_BODY, "chief_complaint": COLD})).json()["id"]
    assert (await wait_status(admin_client, pid))["status"] == "done"
    assert (await admin_client.post(f"/api/admin/catalog/chief_complaint/{COLD}/visibility",
                                    json={"hidden": True})).status_code == 200
    deps = await _catalog(admin_client)
    assert COLD not in {c["id"] for c in deps["internal_medicine"]["chief_complaints"]}
    wizard = await page_client.get("/personas/new")
    assert f'value="{COLD}"' not in wizard.text and f'value="{FLU}"' in wizard.text
    page = await page_client.get(f"/personas/{pid}")
    assert page.status_code == 200 and "風邪" in page.text
    # Nor can the API create a persona for it (a clear field error, nothing written).
    refused = await admin_client.post("/api/personas", json={**CREATE_BODY, "chief_complaint": COLD})
    assert refused.status_code == 422, refused.text
    assert "非表示" in refused.text and "chief_complaint" in refused.text
    # A hidden department leaves the wizard too; shown again, it is back.
    await admin_client.post("/api/admin/catalog/department/dermatology/visibility", json={"hidden": True})
    assert "dermatology" not in await _catalog(admin_client)
    derm = catalog_service.get_catalog().department("dermatology")
    assert derm is not None and derm.chief_complaints
    refused = await admin_client.post("/api/personas", json={
        **CREATE_BODY, "department": "dermatology", "chief_complaint": derm.chief_complaints[0].id})
    assert refused.status_code == 422 and "診療科は現在選べません" in refused.text
    await admin_client.post("/api/admin/catalog/department/dermatology/visibility", json={"hidden": False})
    await admin_client.post(f"/api/admin/catalog/chief_complaint/{COLD}/visibility", json={"hidden": False})
    deps = await _catalog(admin_client)
    assert "dermatology" in deps and COLD in {c["id"] for c in deps["internal_medicine"]["chief_complaints"]}


async def test_merge_moves_keyword_data_and_personas(app, admin_client, tmp_path):
    db = app.state.db
    # ICL (new, with data) merged into 近視 (sample data): rows follow, personas follow.
    write_csv(tmp_path / "e" / "眼科" / "主訴" / "ICL_全体.csv", make_rows(9, prefix="ICL"))
    assert (await import_path(db, tmp_path / "e")).ok
    icl = new_complaint_id("ophthalmology", "ICL")
    target = catalog_service.get_catalog().chief_complaint_by_name("ophthalmology", "近視")
    assert target is not None
    pid = (await admin_client.post("/api/personas", json={
        **CREATE_BODY, "department": "ophthalmology", "chief_complaint": icl})).json()["id"]
    assert (await wait_status(admin_client, pid))["status"] == "done"
    async with db.sessionmaker() as s:
        before = await s.scalar(select(KeywordDataset.row_count).where(KeywordDataset.chief_complaint_id == target.id))
    response = await admin_client.post(f"/api/admin/catalog/chief_complaint/{icl}/merge", json={"target_id": target.id})
    assert response.status_code == 200, response.text
    assert response.json() == {"personas": 1, "rows": 9}
    async with db.sessionmaker() as s:
        persona = await s.get(Persona, pid)
        assert persona.chief_complaint_id == target.id
        assert persona.request["chief_complaint"] == target.id  # what the edit wizard starts from
        datasets = (await s.execute(select(KeywordDataset.chief_complaint_id, KeywordDataset.row_count)
                                    .where(KeywordDataset.department_id == "ophthalmology"))).all()
    assert icl not in {d[0] for d in datasets}
    assert dict(datasets)[target.id] == before + 9
    got = (await admin_client.get("/api/keywords/timeline", params={
        "department": "ophthalmology", "chief_complaint": target.id})).json()
    assert any(p["keyword"].startswith("ICL") for p in got["series"])
    deps = await _catalog(admin_client)
    assert "ICL" not in _complaint_names(deps, "ophthalmology")
    # A re-import of ICL now goes to the merge target (its alias), adding nothing.
    report = await import_path(db, tmp_path / "e")
    assert report.added == [] and report.imported[0].chief_complaint_id == target.id
    # Merging across departments or into itself is refused.
    other = await admin_client.post(f"/api/admin/catalog/chief_complaint/{FLU}/merge", json={"target_id": target.id})
    assert other.status_code == 422 and "同じ診療科" in other.json()["error"]["message"]
    same = await admin_client.post(f"/api/admin/catalog/chief_complaint/{FLU}/merge", json={"target_id": FLU})
    assert same.status_code == 422


async def test_move_department_to_another_section(admin_client, member_client):
    response = await admin_client.post("/api/admin/catalog/departments/oral_surgery/move", json={"section": "medical"})
    if response.status_code == 404:  # the id of 口腔外科 in this catalog
        dep = catalog_service.get_catalog().department_by_name("口腔外科")
        response = await admin_client.post(f"/api/admin/catalog/departments/{dep.id}/move", json={"section": "medical"})
        dep_id = dep.id
    else:
        dep_id = "oral_surgery"
    assert response.status_code == 200
    assert (await _catalog(admin_client, all_sections=True))[dep_id]["section"] == "medical"
    # The member (medical section) now sees it.
    assert dep_id in await _catalog(member_client)


async def test_admin_page_forms_with_csrf(client):
    await client.login()
    page = await client.get("/admin/catalog")
    assert page.status_code == 200 and "内科" in page.text and "カタログ" in page.text
    detail = await client.get("/admin/catalog?department=ophthalmology")
    assert detail.status_code == 200 and "白内障" in detail.text
    no_csrf = await client.post("/admin/catalog", data={"action": "add_complaint", "department": "ophthalmology",
                                                        "name": "ICL"})
    assert no_csrf.status_code == 403
    added = await client.post("/admin/catalog", data={"action": "add_complaint", "department": "ophthalmology",
                                                      "name": "ICL", "csrf_token": client.csrf_token})
    assert added.status_code == 200 and "主訴「ICL」を追加しました" in added.text
    dup = await client.post("/admin/catalog", data={"action": "add_complaint", "department": "ophthalmology",
                                                    "name": "ＩＣＬ", "csrf_token": client.csrf_token})
    assert dup.status_code == 409 and "既にあります" in dup.text


async def test_a_change_reaches_another_worker(app, admin_client, settings, monkeypatch):
    """Two catalog services on one database file (two workers): a change made through one (or straight in
    the database by another process) reaches the other through the version row."""
    other_db = Database(settings)
    worker_b = catalog_service.CatalogService()
    try:
        async with other_db.engine.connect() as conn:
            before = await worker_b.snapshot(conn)
        assert before.chief_complaint(FLU).name == "インフルエンザ"
        await admin_client.post(f"/api/admin/catalog/chief_complaint/{FLU}/rename", json={"name": "流行性感冒"})
        async with other_db.engine.connect() as conn:
            cached = await worker_b.snapshot(conn)  # within CHECK_INTERVAL: the cached snapshot
        monkeypatch.setattr(catalog_service, "CHECK_INTERVAL", 0.0)
        async with other_db.engine.connect() as conn:
            after = await worker_b.snapshot(conn)
        assert after.chief_complaint(FLU).name == "流行性感冒"
        assert cached is before or cached.chief_complaint(FLU).name == "流行性感冒"

        # Another process changes the tables and bumps the version: this app's watcher follows within a second.
        async with other_db.engine.begin() as conn:
            await conn.execute(update(CatalogComplaint).where(CatalogComplaint.id == FLU).values(name="インフル"))
            await bump(conn)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        while loop.time() < deadline:
            if "インフル" in _complaint_names(await _catalog(admin_client), "internal_medicine"):
                break
            await asyncio.sleep(0.1)
        assert "インフル" in _complaint_names(await _catalog(admin_client), "internal_medicine")
        assert catalog_service.get_catalog().chief_complaint(FLU).name == "インフル"
    finally:
        await other_db.dispose()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_catalog_on_postgres(app, admin_client, tmp_path):
    write_csv(tmp_path / "e" / "新しい科" / "新しい科_全体.csv", make_rows(6))
    write_csv(tmp_path / "e" / "新しい科" / "主訴" / "新しい主訴_全体.csv", make_rows(6))
    report = await import_path(app.state.db, tmp_path / "e")
    assert report.ok and len(report.added) == 2
    deps = await _catalog(admin_client)
    dep_id = new_department_id("新しい科")
    assert _complaint_names(deps, dep_id) == ["新しい主訴"]
    cc = new_complaint_id(dep_id, "新しい主訴")
    assert (await admin_client.post(f"/api/admin/catalog/chief_complaint/{cc}/rename",
                                    json={"name": "別の名前"})).status_code == 200
    assert _complaint_names(await _catalog(admin_client), dep_id) == ["別の名前"]
