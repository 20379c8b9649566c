"""CSV/XLSX import of clinic info and competitor lists: encodings, header names by meaning, row errors."""

from __future__ import annotations

import io

import pytest

from medipersona.competitors.importer import MAX_ROWS, parse_bytes

COMPETITOR_CSV = (
    "医院名,所在地,緯度,経度,評価,口コミ数,診療時間,ホームページ,TEL,診療科\n"
    "山田内科,東京都千代田区1-1,35.6812,139.7671,4.2,15,9:00-18:00,https://yamada.example,03-1111-2222,内科\n"
    "壊れた医院,東京都,abc,139.7,,,,,,\n"
    ",東京都,35.6,139.7,,,,,,\n"
    "評価が変,東京都,35.6,139.7,9.5,,,,,\n"
    "\n"
    "鈴木クリニック,東京都千代田区2-2,35.6900,139.7000,,,,,,\n"
)


def test_competitors_cp932_csv_with_broken_rows():
    result = parse_bytes("競合.csv", COMPETITOR_CSV.encode("cp932"), "competitors")
    assert [r["name"] for r in result.rows] == ["山田内科", "鈴木クリニック"]
    first = result.rows[0]
    assert first == {"name": "山田内科", "address": "東京都千代田区1-1", "lat": 35.6812, "lng": 139.7671, "rating": 4.2,
                     "reviews": 15, "hours": "9:00-18:00", "website": "https://yamada.example",
                     "phone": "03-1111-2222", "departments": ["内科"]}
    lines = {e["line"]: e["message"] for e in result.errors}
    assert set(lines) == {3, 4, 5}
    assert "緯度「abc」は数値ではありません" in lines[3]
    assert "名称" in lines[4]
    assert "評価" in lines[5] and "以下" in lines[5]


def test_competitors_utf8_bom_and_tabs():
    text = "名称\t住所\tlat\tlng\nA医院\t東京\t35.1\t139.1\n"
    result = parse_bytes("list.tsv", ("\ufeff" + text).encode("utf-8"), "competitors")
    assert result.rows == [{"name": "A医院", "address": "東京", "lat": 35.1, "lng": 139.1}]


def test_clinic_csv_header_synonyms_and_departments():
    text = ("クリニック名,〒,所在地,緯度,経度,診療科,特徴,ターゲット\n"
            "さくら医院,1000005,東京都千代田区丸の内1-9-1,35.681236,139.767125,内科・小児科・宇宙科,土曜も診療,会社員\n")
    result = parse_bytes("clinic.csv", text.encode("cp932"), "clinic")
    assert result.rows == [{"name": "さくら医院", "address": "東京都千代田区丸の内1-9-1", "strengths": "土曜も診療",
                            "target": "会社員", "postal_code": "100-0005", "lat": 35.681236, "lng": 139.767125,
                            "departments": ["internal_medicine", "pediatrics"]}]
    assert result.errors == [{"line": 2, "message": "診療科が一覧にありません: 宇宙科"}]


def test_xlsx_file():
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["競合リスト"])  # a title row above the header
    ws.append(["名称", "住所", "緯度", "経度", "口コミ数", "ウェブサイト"])
    ws.append(["A歯科", "東京都", 35.5, 139.5, 12, "https://a.example"])
    ws.append(["B歯科", "東京都", None, 139.5, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    result = parse_bytes("list.xlsx", buf.getvalue(), "competitors")
    assert result.rows == [{"name": "A歯科", "address": "東京都", "lat": 35.5, "lng": 139.5, "reviews": 12,
                            "website": "https://a.example"}]
    assert result.errors == [{"line": 4, "message": "緯度・経度がありません"}]


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("a.csv", b"foo,bar\n1,2\n", "必須の列が見つかりません: 名称、緯度、経度"),
    ("a.xls", b"\xd0\xcf\x11\xe0 old excel", ".xls"),
    ("a.xlsx", b"PK\x03\x04 broken zip", "Excelファイル"),
    ("a.pdf", b"%PDF-1.4", "CSV（.csv）または Excel"),
    ("a.csv", b"\x82\xa0\xff\xfe\x00\x80\x81", "文字コード"),
    ("a.csv", b"   \n", "空"),
])
def test_unusable_files(name, data, needle):
    result = parse_bytes(name, data, "competitors")
    assert result.rows == []
    assert result.fatal and needle in result.fatal


def test_row_limit():
    text = "名称,緯度,経度\n" + "".join(f"医院{i},35.0,139.0\n" for i in range(MAX_ROWS + 1))
    result = parse_bytes("big.csv", text.encode(), "competitors")
    assert result.rows == [] and "上限500行" in result.fatal
