from medipersona.catalog.service import get_catalog


def test_catalog_counts():
    catalog = get_catalog()
    assert len(catalog.departments) == 30
    assert {s.id for s in catalog.sections} == {"medical", "dental", "others"}
    assert [len(catalog.departments_in([s])) for s in ("medical", "dental", "others")] == [22, 5, 3]
    assert catalog.complaint_count >= 450
    assert all(10 <= len(d.chief_complaints) <= 35 for d in catalog.departments)
    assert len(catalog.patient_types) == 12
    assert [p.name for p in catalog.purposes] == ["患者数を増やす", "来院頻度を増やす", "客単価を増やす"]
    assert len(catalog.prefectures) == 47


def test_catalog_matches_real_keyword_file_names():
    # The chief complaints of the real keyword exports must resolve to catalog entries by name.
    catalog = get_catalog()
    naika = catalog.department_by_name("内科")
    assert catalog.chief_complaint_by_name(naika.id, "高血圧") is not None
    dental = catalog.department_by_name("一般歯科")
    assert catalog.chief_complaint_by_name(dental.id, "オールオン4") is not None  # NFKC: ４ == 4


async def test_catalog_api_shape(admin_client):
    response = await admin_client.get("/api/catalog")
    assert response.status_code == 200
    data = response.json()
    assert len(data["departments"]) == 30
    assert sum(len(d["chief_complaints"]) for d in data["departments"]) >= 450
    dept = data["departments"][0]
    assert set(dept) >= {"id", "name", "section", "chief_complaints"}
    assert set(dept["chief_complaints"][0]) == {"id", "name"}
    assert len(data["patient_types"]) == 12
    assert set(data["patient_types"][0]) >= {"id", "name", "description", "example"}
    assert len(data["purposes"]) == 3
    assert set(data["purposes"][0]) >= {"id", "name", "description"}


async def test_catalog_limited_to_member_sections(app, client):
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="dentist", password="dentist-password-1", sections=["dental"])
    await client.use_token("dentist", "dentist-password-1")
    data = (await client.get("/api/catalog")).json()
    assert {d["section"] for d in data["departments"]} == {"dental"}
    assert len(data["departments"]) == 5


async def test_catalog_requires_login(client):
    response = await client.get("/api/catalog")
    assert response.status_code == 401
    assert response.json()["error"]["message"]


# ------------------------------------------------------------------------------------------------ in the database


async def test_database_catalog_is_the_bundled_seed(settings):
    """Migration 0011 seeds the tables from catalog.json with ids, names, order and attributes unchanged."""
    from medipersona.catalog.service import CatalogService, bundled_catalog
    from medipersona.db import Database

    db = Database(settings)
    try:
        async with db.engine.connect() as conn:
            stored = await CatalogService().snapshot(conn)
    finally:
        await db.dispose()
    bundled = bundled_catalog()
    assert [d.id for d in stored.departments] == [d.id for d in bundled.departments]
    for dep, ref in zip(stored.departments, bundled.departments):
        assert (dep.name, dep.section, dep.search_terms) == (ref.name, ref.section, ref.search_terms)
        assert dep.chief_complaints == ref.chief_complaints
    assert stored.has_data("internal_medicine", "internal_medicine.influenza")  # the sample data


async def test_migrate_follows_catalog_json_attribute_values(settings, monkeypatch):
    """Another release changes an attribute value in catalog.json: the next migrate applies it to the
    bundled complaint (the admin's renames and hidden flags stay)."""
    import copy

    from medipersona.catalog import bundled, editing, service
    from medipersona.catalog.service import CatalogService
    from medipersona.db import Database

    raw = copy.deepcopy(service.bundled_raw())
    complaint = raw["departments"][0]["chief_complaints"][0]
    complaint["age"] = [40, 90]
    complaint["sexes"] = ["female"]
    monkeypatch.setattr(bundled, "bundled_raw", lambda: raw)
    db = Database(settings)
    try:
        await editing.rename(db, "chief_complaint", complaint["id"], "管理者がつけた名前")
        assert await bundled.sync_bundled(db) == 1
        assert await bundled.sync_bundled(db) == 0  # idempotent
        async with db.engine.connect() as conn:
            stored = (await CatalogService().snapshot(conn)).chief_complaint(complaint["id"])
    finally:
        await db.dispose()
        service.reset_current()
    assert (stored.age_min, stored.age_max, stored.sexes) == (40, 90, ("female",))
    assert stored.name == "管理者がつけた名前"


def test_names_match_after_normalisation():
    from medipersona.catalog.editing import infer_section, new_complaint_id, new_department_id
    from medipersona.catalog.service import normalize_name

    assert normalize_name("ＩＣＬ ") == normalize_name("icl") == normalize_name("I C L")
    assert normalize_name("ｼﾐ取り") == normalize_name("シミ取り")
    assert normalize_name("オールオン４") == normalize_name("オールオン 4")
    assert new_department_id("美容　皮膚科") == new_department_id("美容皮膚科")
    assert new_complaint_id("ophthalmology", "ＩＣＬ") == new_complaint_id("ophthalmology", "ICL")
    assert infer_section("訪問歯科") == "dental" and infer_section("美容皮膚科") == "medical"
