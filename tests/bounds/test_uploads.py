"""Bounded uploads (issue 17, rows "XLSX shared-strings bomb", "keyword zip memory" and the competitor-import 500s).

The bombs are built here; memory is the RSS of a real uvicorn process, sampled with psutil while it works."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile

import pytest

from tests.bounds.bombs import competitor_xlsx, lying_zip

MB = 1024 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _warm_up(server) -> None:
    """One small upload of each kind first, so that imports and caches are not counted as the bomb's memory."""
    async with server.client() as c:
        r = await c.post("/api/competitors/import", data={"kind": "competitors"},
                         files={"file": ("warm.xlsx", competitor_xlsx(), XLSX_TYPE)})
        assert r.status_code == 200, r.text
        r = await c.post("/api/keywords/import?dry_run=true",
                         files={"file": ("warm.zip", _keyword_zip({"内科/内科_全体.csv": 10}), "application/zip")})
        assert r.status_code in (200, 422), r.text


async def test_xlsx_shared_strings_bomb_reads_only_what_it_needs(live_server):
    """12 million shared strings (~200 MB of XML, well under 1 MB zipped): the two clinics come back, the
    worker grows by less than 100 MB (openpyxl: minutes and more than a gigabyte)."""
    bomb = competitor_xlsx(filler=12_000_000)
    assert len(bomb) < 2 * MB
    await _warm_up(live_server)
    idle = live_server.rss
    async with live_server.client(timeout=60) as c:
        with live_server.peak_rss() as mem:
            r = await c.post("/api/competitors/import", data={"kind": "competitors"},
                             files={"file": ("bomb.xlsx", bomb, XLSX_TYPE)})
    assert r.status_code == 200, r.text
    assert [row["name"] for row in r.json()["rows"]] == ["さくら内科", "ひまわり医院"]
    assert mem["peak"] - idle < 100 * MB, (mem["peak"] - idle) / MB


async def test_xlsx_bomb_that_needs_every_string_is_refused_early(live_server):
    """A cell that refers to the 12 millionth shared string: refused with 413 and a Japanese message before
    anything is read (past the shared-string count limit), not after reading everything."""
    bomb = competitor_xlsx(filler=12_000_000, use_last_index=True)
    await _warm_up(live_server)
    idle = live_server.rss
    async with live_server.client(timeout=60) as c:
        with live_server.peak_rss() as mem:
            r = await c.post("/api/competitors/import", data={"kind": "competitors"},
                             files={"file": ("bomb.xlsx", bomb, XLSX_TYPE)})
    assert r.status_code == 413, r.text
    assert "Excelファイル" in r.json()["error"]["message"]
    assert mem["peak"] - idle < 100 * MB, (mem["peak"] - idle) / MB


def _keyword_csv(rows: int, *, bad_last_row: bool = False, pad: int = 0) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["順位", "出力キーワード", "検索ボリューム(人)", "重複ボリューム(人)", "特徴度", "検索時間差(日)",
                "男性割合(%)", "女性割合(%)", "10代（13歳〜）割合(%)", "20代割合(%)", "30代割合(%)", "40代割合(%)",
                "50代割合(%)", "60代割合(%)", "70代以上割合(%)"])
    for i in range(rows):
        w.writerow([i + 1, f"頭痛{i}" + "x" * pad, 100, 10, 1.5, 3, 50, 50, 10, 20, 20, 20, 10, 10, 10])
    if bad_last_row:
        w.writerow([rows + 1, "壊れた行", "たくさん", 10, 1.5, 3, 50, 50, 10, 20, 20, 20, 10, 10, 10])
    return out.getvalue().encode()


def _keyword_zip(files: dict[str, int], **kwargs) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, rows in files.items():
            zf.writestr(name, _keyword_csv(rows, **kwargs))
    return buf.getvalue()


def test_lying_zip_member_is_read_in_bounded_memory():
    """A member that declares 1 KB and holds 300 MB: the counting reader decompresses in 64 KB steps and stops
    (the old ``archive.read`` decompressed all 300 MB before its CRC check failed)."""
    from medipersona.keywords.parsing import RejectFile
    from medipersona.keywords.sources import sources_from_zip

    data = lying_zip({"内科/内科_全体.csv": b"a" * (300 * MB)}, declared_size=1024)
    sources = sources_from_zip(data, "lie.zip")
    tracemalloc.start()
    try:
        with pytest.raises(RejectFile) as err:
            sources[0].read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "ZIP" in err.value.reason
    assert peak < 16 * MB, peak / MB


def test_zip_member_over_the_limit_stops_at_the_limit(monkeypatch):
    """Declared small, real size over the per-file limit: refused at the limit with a Japanese message."""
    from medipersona.keywords import sources as keyword_sources
    from medipersona.keywords.parsing import RejectFile

    monkeypatch.setattr(keyword_sources, "MAX_FILE_BYTES", 4 * MB)
    data = lying_zip({"内科/内科_全体.csv": b"a" * (40 * MB)}, declared_size=40 * MB)
    sources = keyword_sources.sources_from_zip(data, "big.zip")
    tracemalloc.start()
    try:
        with pytest.raises(RejectFile) as err:
            sources[0].read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "大きすぎます" in err.value.reason
    assert peak < 12 * MB, peak / MB


def test_rejected_files_do_not_keep_their_bytes():
    """A rejected file's exception must not pin its bytes and rows (its traceback did) until the chunk ends."""
    import gc

    from medipersona.catalog.service import get_catalog
    from medipersona.keywords.importer import _parse_many
    from medipersona.keywords.parsing import RejectFile
    from medipersona.keywords.sources import Source

    data = _keyword_csv(40_000, bad_last_row=True)
    assert len(data) > 2 * MB
    sources = [Source(name=f"内科/内科_全体{i}.csv", parts=("内科",), stem="内科_全体", read=lambda: bytes(data))
               for i in range(4)]
    _parse_many(sources[:1], get_catalog())  # warms the per-keyword caches
    gc.collect()
    tracemalloc.start()
    try:
        results = _parse_many(sources, get_catalog())
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert all(isinstance(r, RejectFile) for r in results)
    assert results[0].line == 40_002
    assert held < MB, held / MB


async def test_keyword_zip_of_rejected_files_stays_bounded(live_server):
    """Eight 12 MB CSVs that are each rejected at their last row: the worker grows as for one of them, by less
    than the issue's 100 MB (the parser reads lines from the decoded text without a StringIO copy and shares equal
    floats in big files), not eight times (the rejected files' exceptions kept every file's bytes and rows until
    the chunk ended: more than a gigabyte; one file alone took ~158 MB before the line reader)."""
    departments = ["内科", "外科", "小児科", "整形外科", "皮膚科", "眼科", "循環器内科", "耳鼻咽喉科"]
    await _warm_up(live_server)
    grown = {}
    async with live_server.client(timeout=120) as c:
        for count in (8,):
            bomb = _keyword_zip({f"{d}/{d}_全体.csv": 80_000 for d in departments[:count]}, bad_last_row=True,
                                pad=100)
            idle = live_server.rss
            with live_server.peak_rss() as mem:
                r = await c.post("/api/keywords/import?dry_run=true",
                                 files={"file": ("bomb.zip", bomb, "application/zip")})
            del bomb
            assert r.status_code == 422, r.text
            files = r.json()["files"]
            assert len(files) == count, files
            assert all(f["status"] == "rejected" and f["line"] == 80_002 for f in files), files
            grown[count] = (mem["peak"] - idle) / MB
    print(f"keyword zip growth (MB) by number of rejected files: {grown}")
    assert grown[8] < 100, grown


async def test_truncated_xlsx_sheet_is_a_422(client):
    await client.use_token()
    r = await client.post("/api/competitors/import", data={"kind": "competitors"},
                          files={"file": ("t.xlsx", competitor_xlsx(truncate_sheet=True), XLSX_TYPE)})
    assert r.status_code == 422, r.text
    assert "Excel" in r.json()["error"]["message"]


async def test_csv_field_over_128kb_is_a_422(client):
    await client.use_token()
    data = ("名称,緯度,経度\n" + '"' + "あ" * 200_000 + '",35.6,139.7\n').encode()
    r = await client.post("/api/competitors/import", data={"kind": "competitors"},
                          files={"file": ("big.csv", data, "text/csv")})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"]
