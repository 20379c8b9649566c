"""Keyword API and admin page: datasets, upload import, timeline (incl. bad input), chart SVG."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from tests.keywords.kw_helpers import csv_text, make_rows


async def test_datasets_lists_sample_with_japanese_names(admin_client):
    response = await admin_client.get("/api/keywords/datasets")
    assert response.status_code == 200
    datasets = response.json()["datasets"]
    assert len(datasets) == 531  # the sample: 30 departments + 501 complaints
    assert set(datasets[0]) >= {"id", "department", "chief_complaint", "row_count", "source_file", "imported_at",
                                "is_sample"}
    naika = [d for d in datasets if d["department"] == "内科"]
    assert any(d["chief_complaint"] is None for d in naika)
    assert any(d["chief_complaint"] == "風邪" for d in naika)
    assert all(d["is_sample"] for d in datasets)
    assert all("架空のサンプルデータ" in d["source_file"] for d in datasets)


async def test_datasets_requires_login(client):
    assert (await client.get("/api/keywords/datasets")).status_code == 401


def upload(name: str, data: bytes, mime: str = "text/csv"):
    return {"file": (name, data, mime)}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_import_api_csv_zip_and_rejections(admin_client):
    body = csv_text(make_rows(20, prefix="風邪")).encode("cp932")
    response = await admin_client.post("/api/keywords/import", files=upload("内科_風邪.csv", body))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["ok"] and data["imported"] == 1 and data["rejected"] == 0
    assert data["files"][0]["chief_complaint"] == "風邪" and data["files"][0]["replaced"] is True

    datasets = (await admin_client.get("/api/keywords/datasets")).json()["datasets"]
    cold = next(d for d in datasets if d["chief_complaint"] == "風邪" and d["department"] == "内科")
    assert cold["is_sample"] is False and cold["row_count"] == 20 and cold["source_file"] == "内科_風邪.csv"

    buf = io.BytesIO()
    broken = make_rows(5)
    broken[2][3] = ""
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("皮膚科/主訴/ニキビ_全体.csv", csv_text(make_rows(8)))
        zf.writestr("皮膚科/主訴/水虫_全体.csv", csv_text(broken))
        zf.writestr("皮膚科/主訴/ないもの_全体.csv", csv_text(make_rows(2)))
    response = await admin_client.post("/api/keywords/import", files=upload("d.zip", buf.getvalue(), "application/zip"))
    assert response.status_code == 422
    data = response.json()
    # The complaint the catalog lacks is added (新規追加), never rejected; the broken file is rejected whole.
    assert data["imported"] == 2 and data["rejected"] == 1 and data["added"] == 1
    assert data["error"]["code"] == "import_rejected"
    rejected = {f["file"].rsplit("/", 1)[-1]: f for f in data["files"] if f["status"] == "rejected"}
    assert set(rejected) == {"水虫_全体.csv"}
    assert rejected["水虫_全体.csv"]["line"] == 4 and "重複ボリューム" in rejected["水虫_全体.csv"]["reason"]
    assert [(e["kind"], e["name"], e["department"]) for e in data["added_entries"]] == [
        ("chief_complaint", "ないもの", "皮膚科")]


async def test_import_api_bad_requests(admin_client, member_client):
    response = await admin_client.post("/api/keywords/import", files=upload("x.pdf", b"%PDF-1.4"))
    assert response.status_code == 422 and "CSV" in response.json()["files"][0]["reason"]
    response = await admin_client.post("/api/keywords/import", data={"x": "1"})
    assert response.status_code == 422
    response = await admin_client.post("/api/keywords/import", files=upload("empty.csv", b""))
    assert response.status_code == 422
    response = await admin_client.post(
        "/api/keywords/import", content=b"x", headers={"content-type": "multipart/form-data; boundary=x",
                                                       "content-length": str(300 * 1024 * 1024)})
    assert response.status_code == 413 and "大きすぎます" in response.json()["error"]["message"]
    response = await member_client.post("/api/keywords/import", files=upload("内科.csv", b"a"))
    assert response.status_code == 403


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_timeline_api(admin_client):
    params = {"department": "internal_medicine", "chief_complaint": "internal_medicine.common_cold",
              "gender": "female", "age": 45}
    response = await admin_client.get("/api/keywords/timeline", params=params)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["department"] == {"id": "internal_medicine", "name": "内科"}
    assert data["chief_complaint"]["name"] == "風邪"
    assert data["dataset"]["is_sample"] is True and data["dataset"]["level"] == "chief_complaint"
    summary = data["summary"]
    assert summary["before_count"] + summary["after_count"] == summary["total"] == len(data["series"])
    assert summary["urgency"]["level"] in {"high", "medium", "low"}
    assert set(summary["categories_before"]) == set(summary["categories_after"])
    for p in data["series"]:
        assert p["phase"] == ("before" if p["days"] < 0 else "after")
    # Without filters there are at least as many keywords.
    unfiltered = (await admin_client.get("/api/keywords/timeline", params={"department": "internal_medicine",
                  "chief_complaint": "internal_medicine.common_cold"})).json()
    assert unfiltered["summary"]["total"] >= summary["total"]
    # Department level.
    dept = await admin_client.get("/api/keywords/timeline", params={"department": "dermatology"})
    assert dept.status_code == 200 and dept.json()["dataset"]["level"] == "department"


async def test_timeline_api_bad_input(admin_client):
    get = admin_client.get
    r = await get("/api/keywords/timeline", params={"department": "nope"})
    assert r.status_code == 404 and "診療科" in r.json()["error"]["message"]
    r = await get("/api/keywords/timeline", params={"department": "internal_medicine",
                                                    "chief_complaint": "dermatology.acne"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "chief_complaint_not_found"
    r = await get("/api/keywords/timeline", params={"department": "internal_medicine", "gender": "x"})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "gender"
    r = await get("/api/keywords/timeline", params={"department": "internal_medicine", "age": -1})
    assert r.status_code == 422
    r = await get("/api/keywords/timeline", params={"department": "internal_medicine", "age": "abc"})
    assert r.status_code == 422
    r = await get("/api/keywords/timeline")
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "department"


async def test_timeline_respects_sections(app, client):
    from medipersona.accounts.service import create_user

    async with app.state.db.sessionmaker() as session:
        await create_user(session, username="dentonly", password="dental-only-pass-1", role="member",
                          sections=["dental"])
    await client.use_token("dentonly", "dental-only-pass-1")
    r = await client.get("/api/keywords/timeline", params={"department": "internal_medicine"})
    assert r.status_code == 403
    r = await client.get("/api/keywords/timeline", params={"department": "general_dentistry"})
    assert r.status_code == 200


async def test_timeline_chart_svg(admin_client):
    r = await admin_client.get("/api/keywords/timeline/chart.svg",
                               params={"department": "internal_medicine", "chief_complaint": "internal_medicine.fever"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg") and "style=" not in r.text and "発熱" in r.text


async def test_admin_page_upload(client):
    await client.login()
    page = await client.get("/admin/keywords")
    assert page.status_code == 200 and "キーワードデータ" in page.text and "架空のサンプルデータ" in page.text
    # The upload form carries its CSRF token in its action URL (a multipart body is not read before the check).
    action = re.search(r'<form method="post" action="(/admin/keywords\?csrf_token=[^"]+)"', page.text).group(1)
    broken = make_rows(4)
    broken[1][7] = "x"
    r = await client.post(action, files=upload("内科_頭痛.csv", csv_text(broken).encode()))
    assert r.status_code == 422 and "3行目" in r.text and "女性割合" in r.text
    r = await client.post(action, files=upload("内科_頭痛.csv", csv_text(make_rows(4)).encode()))
    assert r.status_code == 200 and "1件のファイル" in r.text and "置き換え" in r.text


async def test_member_cannot_open_admin_page(member_client):
    assert (await member_client.get("/admin/keywords")).status_code == 403


async def test_oversized_upload_refused_before_parsing(client):
    await client.login()
    page = await client.get("/admin/keywords")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = await client.post("/admin/keywords", content=b"--x--", headers={
        "content-type": "multipart/form-data; boundary=x", "content-length": str(500 * 1024 * 1024),
        "X-CSRF-Token": token, "accept": "text/html"})
    assert r.status_code == 413 and "大きすぎます" in r.text


async def test_delete_dataset_falls_back_to_department(admin_client, member_client):
    datasets = (await admin_client.get("/api/keywords/datasets")).json()["datasets"]
    acne = next(d for d in datasets if d["chief_complaint"] == "ニキビ")
    params = {"department": "dermatology", "chief_complaint": "dermatology.acne"}
    before = (await admin_client.get("/api/keywords/timeline", params=params)).json()
    assert before["dataset"]["level"] == "chief_complaint"
    assert (await member_client.delete(f"/api/keywords/datasets/{acne['id']}")).status_code == 403
    assert (await admin_client.delete(f"/api/keywords/datasets/{acne['id']}")).status_code == 204
    assert (await admin_client.delete(f"/api/keywords/datasets/{acne['id']}")).status_code == 404
    after = (await admin_client.get("/api/keywords/timeline", params=params)).json()
    assert after["dataset"]["level"] == "department"


async def test_dry_run_upload(admin_client):
    body = csv_text(make_rows(5)).encode()
    r = await admin_client.post("/api/keywords/import?dry_run=true", files=upload("内科_めまい.csv", body))
    assert r.status_code == 200 and r.json()["files"][0]["status"] == "checked"
    datasets = (await admin_client.get("/api/keywords/datasets")).json()["datasets"]
    assert next(d for d in datasets if d["chief_complaint"] == "めまい")["is_sample"] is True  # unchanged

    r = await admin_client.post("/admin/keywords", data={"check_only": "1"}, files=upload("内科_めまい.csv", body))
    assert r.status_code == 200 and "確認のみ" in r.text and "取り込み可" in r.text
