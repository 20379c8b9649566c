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
