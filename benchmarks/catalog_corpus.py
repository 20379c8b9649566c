"""Catalog-growing corpus benchmark (issue 11): a clinic's whole export folder, new names included.

    .venv/bin/python benchmarks/catalog_corpus.py [--files 535] [--rows 506289] [--requests 600]

1. Builds, in a temp dir, ``--files`` exports (default 535 files, 506,289 rows, 30 departments) in the real
   layout ``{診療科}/{診療科}_全体.csv`` + ``{診療科}/主訴/{主訴}_全体.csv``, synthesised from the real exports'
   shapes (``../shared/data/keywords``: their rows' volumes, overlaps, lifts, days and gender/age shares are
   resampled; keywords get the file's complaint name; row counts follow the real files' distribution, mostly
   1,000). About half the complaints are names the bundled catalog lacks (ICL, レーシック, 自費メニュー ...),
   as in the clinic's folder that issue 11 reports.
2. A fresh database as ``medipersona migrate`` leaves it (admin, sample data), then the full import with the
   real importer (``import_path``: the code path of ``medipersona import-keywords``) — wall and CPU seconds;
   every file must import (exit code 0 of the CLI) and the new entries are added to the catalog.
3. With everything loaded: a real server (uvicorn, one worker) answers ``GET /api/keywords/timeline`` for random
   complaint/gender/age combinations (client-side latency over HTTP on 127.0.0.1: cold = a combination not
   asked before, steady = a working set of 25: what a worker's cache of 32 timelines holds), and ``store.top_keywords`` (the prompt-keyword lookup) is timed
   in-process, cold (cache dropped before each call) and steady.
Targets: import <= 10 s; timeline over HTTP p95 <= 10 ms; prompt-keyword lookup p95 <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from generation_burst import cpu_seconds  # noqa: E402  (benchmarks/: the same /proc reading)

from medipersona.catalog.service import bundled_catalog, load_catalog, normalize_name  # noqa: E402
from medipersona.db import Database  # noqa: E402
from medipersona.keywords import store, store_cache  # noqa: E402
from medipersona.keywords.importer import import_path  # noqa: E402
from medipersona.settings import Settings  # noqa: E402

REAL_DIR = ROOT.parent / "shared" / "data" / "keywords"
HEADER = ["順位", "出力キーワード", "検索ボリューム(人)", "重複ボリューム(人)", "特徴度", "検索時間差(日)",
          "男性割合(%)", "女性割合(%)", "10代（13歳〜）割合(%)", "20代割合(%)", "30代割合(%)", "40代割合(%)",
          "50代割合(%)", "60代割合(%)", "70代以上割合(%)"]
# Names a clinic's marketer researches that a fixed catalog does not know (the self-pay menus above all).
NEW_NAMES = ["ICL", "レーシック", "多焦点眼内レンズ", "アレルゲン検査", "リハビリ", "疼痛", "マウスピース矯正",
             "ボトックス", "ヒアルロン酸", "医療脱毛", "シミ取り", "ダーマペン", "ピーリング", "AGA", "ED治療",
             "ピル処方", "プラセンタ", "にんにく注射", "白玉点滴", "オンライン診療", "予防接種", "健康診断",
             "人間ドック", "睡眠時無呼吸", "禁煙外来", "漢方", "メディカルダイエット", "セカンドオピニオン"]


def _real_rows() -> tuple[list[list[str]], list[int]]:
    """Every data row of the real exports (numeric columns only) and the files' row counts."""
    rows, counts = [], []
    for path in sorted(REAL_DIR.rglob("*.csv")):
        data = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))[1:]
        counts.append(len(data))
        rows.extend(r for r in data if len(r) >= 15)
    if not rows:
        raise SystemExit(f"no real exports under {REAL_DIR}")
    return rows, counts


def build_corpus(root: Path, files: int, total_rows: int, seed: int = 11) -> dict:
    rng = random.Random(seed)
    real, real_counts = _real_rows()
    departments = list(bundled_catalog().departments)[:30]
    per_dep = [(files - len(departments)) // len(departments)] * len(departments)
    for i in range((files - len(departments)) % len(departments)):
        per_dep[i] += 1
    targets: list[tuple[Path, str]] = []
    new_complaints = 0
    for dep, n in zip(departments, per_dep):
        targets.append((root / dep.name / f"{dep.name}_全体.csv", dep.name))
        known = [c.name for c in dep.chief_complaints]
        n_known = min(len(known), n // 2)
        names = rng.sample(known, n_known)
        known_keys = {normalize_name(k) for k in known}
        fresh = [name for name in NEW_NAMES if normalize_name(name) not in known_keys]
        extra = rng.sample(fresh, min(len(fresh), n - n_known))
        while len(names) + len(extra) < n:
            extra.append(f"{dep.name}自費メニュー{len(extra) + 1}")
        new_complaints += len(extra)
        targets.extend((root / dep.name / "主訴" / f"{name}_全体.csv", name) for name in names + extra)
    # Row counts: the real files' distribution (mostly 1,000), scaled to the total.
    counts = [rng.choice(real_counts) or 1000 for _ in targets]
    scale = total_rows / sum(counts)
    counts = [max(20, min(1000, round(c * scale))) for c in counts]
    i = 0
    while sum(counts) != total_rows:  # settle the rounding on files below the 1,000 cap
        j = i % len(counts)
        step = 1 if sum(counts) < total_rows else -1
        if 20 < counts[j] + step <= 1000:
            counts[j] += step
        i += 1
    for (path, name), count in zip(targets, counts):
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HEADER)
        for rank in range(1, count + 1):
            r = rng.choice(real)
            tail = r[1].split(" ", 1)[-1] if " " in r[1] else r[1]
            writer.writerow([rank, f"{name} {tail} {rank}", *r[2:15]])
        path.write_bytes(buf.getvalue().encode("utf-8-sig"))
    return {"files": len(targets), "rows": sum(counts), "departments": len(departments),
            "new_complaint_files": new_complaints}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def stats(times: list[float]) -> dict:
    return {"n": len(times), "p50_ms": round(statistics.median(times), 2), "p95_ms": round(pct(times, 95), 2),
            "max_ms": round(max(times), 2)}


def _combos(catalog, rng: random.Random, n: int) -> list[tuple[str, str | None, str | None, int | None]]:
    scopes = [(d.id, c.id) for d in catalog.departments for c in d.chief_complaints if catalog.has_data(d.id, c.id)]
    return [(*rng.choice(scopes), rng.choice(["male", "female", None]), rng.choice([None, 15, 25, 34, 45, 58, 66, 78]))
            for _ in range(n)]


async def bench_prompt_lookups(db: Database, n: int) -> dict:
    catalog = await load_catalog(db, force=True)
    rng = random.Random(3)
    out = {}
    for mode in ("cold", "steady"):
        combos = _combos(catalog, rng, n if mode == "cold" else 40)
        times, steps = [], {}
        if mode == "steady":  # the working set cached first (not counted)
            for dep_id, cc_id, gender, age in combos:
                async with db.sessionmaker() as session:
                    await store.top_keywords(session, dep_id, cc_id, age, gender, 15)
        for k in range(n):
            dep_id, cc_id, gender, age = combos[k % len(combos)]
            if mode == "cold":
                store_cache.invalidate_local(db)
            async with db.sessionmaker() as session:
                t = time.perf_counter()
                got = await store.top_keywords(session, dep_id, cc_id, age, gender, 15)
                times.append((time.perf_counter() - t) * 1000)
            assert len(got) >= 5, (dep_id, cc_id, age, gender)
            steps[got[0]["match"]] = steps.get(got[0]["match"], 0) + 1
        out[mode] = {**stats(times), "steps": steps}
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_http_timelines(env: dict, catalog, n: int, app: str = "medipersona.asgi:app") -> dict:
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as client:
            token = client.post("/api/auth/token", json={"username": "admin", "password": env["MEDIPERSONA_ADMIN_PASSWORD"]})
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            rng = random.Random(5)
            out = {}
            for mode in ("cold", "steady"):
                combos = _combos(catalog, rng, n if mode == "cold" else 25)
                # Connection and code paths warm; in steady state the working set too (not counted).
                for warm in (combos if mode == "steady" else combos[:20]):
                    params = {"department": warm[0], "chief_complaint": warm[1]}
                    if warm[2]:
                        params["gender"] = warm[2]
                    if warm[3] is not None:
                        params["age"] = warm[3]
                    client.get("/api/keywords/timeline", params=params if mode == "steady" else
                               {"department": warm[0]})
                times, points = [], []
                cpu_before = cpu_seconds(proc.pid)
                for k in range(n):
                    dep_id, cc_id, gender, age = combos[k % len(combos)]
                    params = {"department": dep_id, "chief_complaint": cc_id}
                    if gender:
                        params["gender"] = gender
                    if age is not None:
                        params["age"] = age
                    t = time.perf_counter()
                    response = client.get("/api/keywords/timeline", params=params)
                    times.append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, response.text
                    points.append(len(response.json()["series"]))
                out[mode] = {**stats(times), "min_series_points": min(points),
                             # the server's CPU per request (user + system): what the box's load does not change
                             "server_cpu_ms_per_request": round((cpu_seconds(proc.pid) - cpu_before) * 1000 / n, 2)}
            return out
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def main(args) -> dict:
    from medipersona.bootstrap import first_run
    from medipersona.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t = time.perf_counter()
        corpus = build_corpus(tmp_path / "exports", args.files, args.rows)
        corpus["build_seconds"] = round(time.perf_counter() - t, 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
        env.update({"MEDIPERSONA_DATA_DIR": str(tmp_path / "var"), "MEDIPERSONA_SECRET_KEY": "bench",
                    "MEDIPERSONA_ADMIN_PASSWORD": "bench-password-123", "MEDIPERSONA_LOG_LEVEL": "WARNING"})
        settings = Settings(data_dir=tmp_path / "var", secret_key="bench", admin_password="bench-password-123")
        await asyncio.to_thread(upgrade, settings)
        await first_run(settings)  # the admin and the sample data, as `medipersona migrate` leaves a database
        db = Database(settings)
        try:
            out = {"database": "sqlite", "corpus": corpus, "cpus": os.cpu_count(),
                   "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            t, cpu = time.perf_counter(), time.process_time()
            report = await import_path(db, tmp_path / "exports")
            seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
            await asyncio.sleep(2)  # the parse processes exit and are reaped: their CPU time is counted
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            child_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
            assert report.ok, [r.describe() for r in report.rejected][:5]
            assert report.row_count == corpus["rows"]
            out["import"] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                             "parse_process_cpu_seconds": round(child_cpu, 2),
                             "rows_per_second": round(report.row_count / seconds), "files": len(report.imported),
                             "rejected": len(report.rejected), "added_to_catalog": len(report.added),
                             "load_average_after": [round(x, 2) for x in os.getloadavg()]}
            catalog = await load_catalog(db, force=True)
            out["catalog"] = {"departments": len(catalog.departments), "complaints": catalog.complaint_count,
                              "datasets": len(catalog.data)}
            out["prompt_keywords"] = await bench_prompt_lookups(db, args.requests)
        finally:
            await db.dispose()
        out["timeline_http"] = await asyncio.to_thread(bench_http_timelines, env, catalog, args.requests)
        out["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=535)
    parser.add_argument("--rows", type=int, default=506_289)
    parser.add_argument("--requests", type=int, default=600)
    print(json.dumps(asyncio.run(main(parser.parse_args())), ensure_ascii=False, indent=2))
