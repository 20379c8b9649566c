"""Importer: the real exports, encodings, header and file-name variants, broken files, zips, re-imports."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medipersona.db import Database
from medipersona.keywords import store, store_cache
from medipersona.keywords.importer import import_path, import_upload
from medipersona.keywords.matching import clean_stem
from medipersona.keywords.models import KeywordDataset, KeywordPack, KeywordState
from medipersona.keywords.pack import decode, encode
from medipersona.keywords.parsing import RejectFile, header_field, parse_text
from medipersona.keywords.sources import ImportPathError
from tests.keywords.kw_helpers import REAL_HEADER, clear_keyword_data, csv_text, make_rows, write_csv
from tests.support.helpers import KEYWORDS_DIR


@pytest.fixture
async def kdb(settings):
    db = Database(settings)
    await clear_keyword_data(db)
    yield db
    await db.dispose()


async def counts(db: Database) -> tuple[int, int]:
    """(datasets, rows): the rows counted in the stored packs, each pack checked against its dataset's count."""
    async with db.sessionmaker() as s:
        stored = (await s.execute(select(KeywordDataset.row_count, KeywordPack.data)
                                  .join(KeywordPack, KeywordPack.dataset_id == KeywordDataset.id))).all()
        datasets = await s.scalar(select(func.count()).select_from(KeywordDataset))
    assert len(stored) == datasets  # every dataset has its pack
    assert all(len(decode(data)) == row_count for row_count, data in stored)
    return datasets, sum(len(decode(data)) for _count, data in stored)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_real_exports_import(kdb):
    assert KEYWORDS_DIR.is_dir(), KEYWORDS_DIR
    report = await import_path(kdb, KEYWORDS_DIR)
    assert report.ok, [r.describe() for r in report.rejected]
    assert len(report.imported) == 66
    assert report.row_count == 60328
    assert await counts(kdb) == (66, 60328)
    levels = [r for r in report.imported if r.chief_complaint is None]
    assert sorted(r.department for r in levels) == ["一般歯科", "内科", "皮膚科"]
    by_name = {(r.department, r.chief_complaint): r for r in report.imported}
    assert by_name[("内科", "風邪")].row_count == 1000
    assert by_name[("一般歯科", "オールオン４")].chief_complaint_id == "general_dentistry.all_on_4"
    assert by_name[("皮膚科", "自己免疫性疾患")].row_count == 518

    async with kdb.sessionmaker() as s:
        rows = await store.dataset_rows(s, "internal_medicine", None)
    assert len(rows) == 1000
    # (dataset id, is_sample, source file, rank, keyword, volume, overlap, lift, days, male, female, 7 age bands,
    # category)
    row = next(r for r in rows if r[4] == "内科 現在地周辺")
    assert row[3:11] == (1, "内科 現在地周辺", 53300, 6300, 3.931, 0.0, 32.0, 68.0)
    assert row[11:18] == (2, 9, 16, 27, 26, 12, 8)
    assert row[18] == "医療機関"
    assert not row[1] and row[2].endswith("内科_全体.csv")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_reimport_replaces_and_counts_generation(kdb, tmp_path):
    path = write_csv(tmp_path / "内科" / "主訴" / "風邪_全体.csv", make_rows(30))
    first = await import_path(kdb, path)
    assert first.ok and first.imported[0].chief_complaint == "風邪" and not first.imported[0].replaced
    write_csv(path, make_rows(12, prefix="new"))
    second = await import_path(kdb, path)
    assert second.ok and second.imported[0].replaced
    assert await counts(kdb) == (1, 12)
    async with kdb.sessionmaker() as s:
        ds = (await s.execute(select(KeywordDataset))).scalar_one()
    assert ds.generation == 2 and ds.row_count == 12 and not ds.is_sample


def variant_header() -> list[str]:
    # Other spellings, full-width brackets, a different column order, no 順位, an unknown extra column.
    return ["キーワード", "検索ボリューム（人）", "重複ボリューム（人）", "特徴度", "検索時間差（日）",
            "男性割合（％）", "女性割合（％）", "10代割合（％）", "20代割合（％）", "30代割合（％）", "40代割合（％）",
            "50代割合（％）", "60代割合（％）", "70代以上割合（％）", "備考"]


async def test_cp932_and_header_variants(kdb, tmp_path):
    rows = [[f"頭痛 薬 {i}", 5000 + i, 300, 2.1, -3.5, 40, 60, 5, 10, 20, 25, 20, 12, 8, "メモ"] for i in range(5)]
    write_csv(tmp_path / "data" / "内科" / "主訴" / "頭痛.csv", rows, header=variant_header(), encoding="cp932")
    # UTF-8 without BOM, tab separated, department file named without _全体.
    write_csv(tmp_path / "data" / "内科" / "内科.csv", make_rows(4), encoding="utf-8", sep="\t")
    report = await import_path(kdb, tmp_path / "data")
    assert report.ok, [r.describe() for r in report.rejected]
    got = {(r.department, r.chief_complaint): r.row_count for r in report.imported}
    assert got == {("内科", "頭痛"): 5, ("内科", None): 4}
    async with kdb.sessionmaker() as s:
        top = await store.top_keywords(s, "internal_medicine", "internal_medicine.headache", 45, "female", 3)
    assert top[0]["keyword"].startswith("頭痛 薬") and top[0]["category"] == "治療・対策"


@pytest.mark.parametrize("cell,field", [
    ("出力キーワード", "keyword"), ("キーワード", "keyword"), ("Keyword", "keyword"),
    ("検索ボリューム(人)", "volume"), ("重複ボリューム(人)", "overlap"), ("特徴度", "lift"),
    ("検索時間差(日)", "days"), ("男性割合(%)", "male"), ("女性割合（％）", "female"),
    ("10代（13歳〜）割合(%)", "age_10s"), ("７０代以上割合(%)", "age_70plus"), ("順位", "rank"), ("備考", None),
])
def test_header_field(cell, field):
    assert header_field(cell) == field


@pytest.mark.parametrize("stem,clean", [("内科_全体", "内科"), ("風邪", "風邪"), ("風邪_全体 (1)", "風邪"),
                                        ("内科_風邪_全体", "内科_風邪")])
def test_clean_stem(stem, clean):
    assert clean_stem(stem) == clean


def test_parse_errors_name_the_line():
    rows = make_rows(6)
    rows[3][2] = "たくさん"  # 検索ボリューム on data row 4 = line 5
    with pytest.raises(RejectFile) as exc:
        parse_text(csv_text(rows))
    assert exc.value.line == 5 and "検索ボリューム" in exc.value.reason and "たくさん" in exc.value.reason
    rows = make_rows(3)
    rows[1] = rows[1][:5]
    with pytest.raises(RejectFile) as exc:
        parse_text(csv_text(rows))
    assert exc.value.line == 3 and "列が足りません" in exc.value.reason
    with pytest.raises(RejectFile) as exc:
        parse_text(csv_text(make_rows(2), header=REAL_HEADER[:6]))
    assert exc.value.line == 1 and "男性割合" in exc.value.reason
    bad_share = make_rows(2)
    bad_share[1][6] = 140
    with pytest.raises(RejectFile) as exc:
        parse_text(csv_text(bad_share))
    assert exc.value.line == 3 and "0〜100" in exc.value.reason
    huge = make_rows(2)
    huge[0][2] = "1e15"
    with pytest.raises(RejectFile) as exc:
        parse_text(csv_text(huge))
    assert exc.value.line == 2 and "大きすぎます" in exc.value.reason
    with pytest.raises(RejectFile) as exc:
        parse_text(csv_text([]))
    assert "データ行がありません" in exc.value.reason


async def test_broken_file_rejected_whole_rest_imports(kdb, tmp_path):
    root = tmp_path / "batch"
    write_csv(root / "内科" / "内科_全体.csv", make_rows(10))
    broken = make_rows(50)
    broken[40][5] = "abc"  # line 42
    write_csv(root / "内科" / "主訴" / "風邪_全体.csv", broken)
    write_csv(root / "内科" / "主訴" / "存在しない主訴_全体.csv", make_rows(3))
    (root / "内科" / "主訴" / "bad_encoding_全体.csv").write_bytes(b"\x81\xff\xfe\x00\x80abc\n")
    report = await import_path(kdb, root)
    assert not report.ok
    # A complaint the catalog lacks is added to its department (新規追加), not rejected.
    assert {(r.department, r.chief_complaint) for r in report.imported} == {("内科", None), ("内科", "存在しない主訴")}
    assert [(e["kind"], e["name"]) for e in report.added] == [("chief_complaint", "存在しない主訴")]
    rejected = {Path(r.file).name: r for r in report.rejected}
    assert set(rejected) == {"風邪_全体.csv", "bad_encoding_全体.csv"}
    assert rejected["風邪_全体.csv"].line == 42 and "検索時間差" in rejected["風邪_全体.csv"].reason
    assert "風邪_全体.csv:42:" in rejected["風邪_全体.csv"].describe()
    assert await counts(kdb) == (2, 13)  # nothing of the broken files


async def test_single_files_named_by_department_and_ambiguous_complaints(kdb, tmp_path):
    ok = write_csv(tmp_path / "one" / "内科_めまい.csv", make_rows(3))
    report = await import_path(kdb, ok)
    assert report.ok and report.imported[0].chief_complaint == "めまい"
    # 発熱 exists in several departments: reported, not guessed.
    amb = write_csv(tmp_path / "two" / "発熱_全体.csv", make_rows(3))
    report = await import_path(kdb, amb)
    assert not report.ok and "複数の診療科" in report.rejected[0].reason
    # A complaint that exists in exactly one department is matched.
    unique = write_csv(tmp_path / "three" / "オールオン4.csv", make_rows(3))
    report = await import_path(kdb, unique)
    assert report.ok and report.imported[0].department == "一般歯科"


async def test_zip_with_cp932_member_names(kdb, tmp_path):
    names = ["皮膚科/皮膚科_全体.csv", "皮膚科/主訴/ニキビ_全体.csv"]
    placeholders = [f"P{i}".ljust(len(n.encode("cp932")), "x") for i, n in enumerate(names)]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for placeholder, rows in zip(placeholders, (make_rows(5), make_rows(7))):
            zf.writestr(placeholder, csv_text(rows).encode("cp932"))
        zf.writestr("__MACOSX/._x.csv", b"junk")
        zf.writestr("皮膚科/README.txt", b"not a csv")
    data = buf.getvalue()
    # Like Japanese Windows: cp932 names without the UTF-8 flag (same length as the placeholders).
    for placeholder, name in zip(placeholders, names):
        data = data.replace(placeholder.encode(), name.encode("cp932"))
    buf = io.BytesIO(data)
    path = tmp_path / "export.zip"
    path.write_bytes(buf.getvalue())
    report = await import_path(kdb, path)
    got = {(r.department, r.chief_complaint, r.row_count) for r in report.imported}
    assert ("皮膚科", None, 5) in got and ("皮膚科", "ニキビ", 7) in got
    assert report.ok  # README and __MACOSX are skipped

    report = await import_upload(kdb, "export.zip", io.BytesIO(buf.getvalue()))
    assert {r.department for r in report.imported} == {"皮膚科"}
    assert all(r.replaced for r in report.imported)

    report = await import_upload(kdb, "broken.zip", io.BytesIO(b"PK\x03\x04 not really a zip"))
    assert not report.ok and "ZIP" in report.rejected[0].reason


async def test_unreadable_path(kdb, tmp_path):
    with pytest.raises(ImportPathError):
        await import_path(kdb, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportPathError):
        await import_path(kdb, tmp_path / "empty")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_atomic_reimport_concurrent_reader(kdb, tmp_path):
    """A reader running while a dataset is re-imported sees the old or the new rows, never a mix or none."""
    path = tmp_path / "内科" / "主訴" / "風邪_全体.csv"
    sizes = {"a": 600, "b": 900}
    write_csv(path, make_rows(sizes["a"], prefix="a"))
    assert (await import_path(kdb, path)).ok
    stop = asyncio.Event()
    seen: list[tuple[int, set[str]]] = []

    async def reader() -> None:
        while not stop.is_set():
            async with kdb.sessionmaker() as s:
                rows = await store.dataset_rows(s, "internal_medicine", "internal_medicine.common_cold")
            prefixes = {r[4].split()[0] for r in rows}
            seen.append((len(rows), prefixes))
            await asyncio.sleep(0)

    async def writer() -> None:
        for i in range(8):
            name = "b" if i % 2 == 0 else "a"
            await asyncio.to_thread(write_csv, path, make_rows(sizes[name], prefix=name))
            assert (await import_path(kdb, path)).ok
        stop.set()

    await asyncio.gather(reader(), reader(), writer())
    assert len(seen) > 5
    for n, prefixes in seen:
        assert len(prefixes) == 1
        assert n == sizes[prefixes.pop()]


async def test_cache_follows_imports_of_other_workers(kdb, tmp_path, monkeypatch):
    """Another worker's import is noticed through keyword_state.version (checked at most every CHECK_INTERVAL)."""
    from sqlalchemy import update

    path = write_csv(tmp_path / "内科" / "主訴" / "頭痛_全体.csv", make_rows(5, prefix="old"))
    assert (await import_path(kdb, path)).ok
    async with kdb.sessionmaker() as s:
        first = await store.top_keywords(s, "internal_medicine", "internal_medicine.headache", None, None, 3)
    assert first[0]["keyword"].startswith("old")
    # Simulate another worker: change the data and bump the version without touching this process's cache.
    async with kdb.engine.begin() as conn:
        for dataset_id, data in (await conn.execute(select(KeywordPack.dataset_id, KeywordPack.data))).all():
            renamed = [(row[0], "new word", *row[2:]) for row in decode(data).rows()]
            await conn.execute(update(KeywordPack).where(KeywordPack.dataset_id == dataset_id)
                               .values(data=encode(renamed)))
        await conn.execute(update(KeywordState).where(KeywordState.id == 1).values(version=KeywordState.version + 1))
    monkeypatch.setattr(store_cache, "CHECK_INTERVAL", 3600.0)
    async with kdb.sessionmaker() as s:
        stale = await store.top_keywords(s, "internal_medicine", "internal_medicine.headache", None, None, 3)
    assert stale[0]["keyword"].startswith("old")  # cached (no check yet)
    monkeypatch.setattr(store_cache, "CHECK_INTERVAL", 0.0)
    async with kdb.sessionmaker() as s:
        fresh = await store.top_keywords(s, "internal_medicine", "internal_medicine.headache", None, None, 3)
    assert fresh[0]["keyword"] == "new word"


async def test_lookup_falls_back_to_department_and_filters(kdb, tmp_path):
    rows = make_rows(8)
    rows[0][6], rows[0][7] = 80, 20  # a male keyword
    rows[1][11] = 5  # 40代 only 5 %
    write_csv(tmp_path / "t" / "内科" / "内科_全体.csv", rows)
    assert (await import_path(kdb, tmp_path / "t")).ok
    async with kdb.sessionmaker() as s:
        got = await store.top_keywords(s, "internal_medicine", "internal_medicine.headache", 45, "female", 10)
        words = {g["keyword"] for g in got}
        assert "kw 0" not in words and "kw 1" not in words and len(words) == 6
        assert {g["match"] for g in got} == {"band"}  # enough rows: no relaxation
        assert got[0]["estimated_volume"] == round(got[0]["volume"] * 0.55 * 0.25)
        timeline = await store.timeline(s, "internal_medicine", "internal_medicine.headache", gender="female", age=45)
        assert timeline["dataset"]["level"] == "department" and timeline["summary"]["total"] == 6
        assert timeline["filters"]["step"] == "band"
        assert await store.timeline(s, "dermatology", None) is None
        assert await store.top_keywords(s, "dermatology", "dermatology.acne", 30, "male") == []


def test_title_lines_and_blank_excel_rows():
    text = "キーワード分析結果,,\n期間: 2025年,,\n" + csv_text(make_rows(3)) + ",,,,,,,,,,,,,,\n,,,\n"
    rows = parse_text(text)
    assert [r[1] for r in rows] == ["kw 0", "kw 1", "kw 2"]
    # A real header with a missing column is reported on its own line.
    bad = "タイトル\n" + csv_text(make_rows(2), header=REAL_HEADER[:7])
    with pytest.raises(RejectFile) as exc:
        parse_text(bad)
    assert exc.value.line == 2 and "女性割合" in exc.value.reason


async def test_dry_run_writes_nothing(kdb, tmp_path):
    path = write_csv(tmp_path / "内科" / "主訴" / "風邪_全体.csv", make_rows(7))
    report = await import_path(kdb, path, dry_run=True)
    assert report.ok and report.results[0].status == "checked" and report.row_count == 7
    assert await counts(kdb) == (0, 0)
