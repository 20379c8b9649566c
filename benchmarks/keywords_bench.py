"""Keyword data benchmark (issue 4): import throughput and lookup latency.

    .venv/bin/python benchmarks/keywords_bench.py [--files 500] [--rows 1000] [--lookups 2000]

1. Generates ``--files`` exports of ``--rows`` rows each (default 500 x 1000 = 500,000 rows; real export format,
   one per catalog department/complaint) in a temp folder tree and imports it into a fresh migrated SQLite
   database with the real importer (``import_path``, the code path of ``medipersona import-keywords``), twice:
   the first run creates the datasets, the second replaces every one of them.
2. Lookup latency of ``top_keywords`` (persona prompt) and ``timeline`` (series + summary) for random
   department/complaint/gender/age combinations: cold (cache dropped before every call: one SELECT of the
   dataset + filtering) and steady state (the bounded per-worker cache, with the once-per-second version check).
Targets: >= 50,000 rows/s; p95 <= 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from medipersona.catalog.service import get_catalog
from medipersona.db import Database
from medipersona.keywords import store, store_cache
from medipersona.keywords.importer import import_path
from medipersona.migrate import upgrade
from medipersona.settings import Settings

HEADER = ["順位", "出力キーワード", "検索ボリューム(人)", "重複ボリューム(人)", "特徴度", "検索時間差(日)",
          "男性割合(%)", "女性割合(%)", "10代（13歳〜）割合(%)", "20代割合(%)", "30代割合(%)", "40代割合(%)",
          "50代割合(%)", "60代割合(%)", "70代以上割合(%)"]
WORDS = ["症状", "原因", "治し方", "薬", "市販薬", "病院", "近く", "費用", "口コミ", "予防", "食事", "子供", "仕事",
         "何科", "検査", "治らない", "ブログ", "保険", "期間", "痛い", "熱", "違い", "とは", "初期症状"]


def scopes(limit: int) -> list[tuple[str, str | None, str, str | None]]:
    out = []
    for dep in get_catalog().departments:
        out.append((dep.id, None, dep.name, None))
        out.extend((dep.id, cc.id, dep.name, cc.name) for cc in dep.chief_complaints)
    return out[:limit]


def write_tree(root: Path, files: int, rows: int, seed: int = 1) -> int:
    rng = random.Random(seed)
    total = 0
    for _dep_id, _cc_id, dep_name, cc_name in scopes(files):
        name = cc_name or dep_name
        path = root / dep_name / (f"主訴/{cc_name}_全体.csv" if cc_name else f"{dep_name}_全体.csv")
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            shares = [rng.randint(1, 30) for _ in range(7)]
            scale = 100 / sum(shares)
            ages = [round(s * scale) for s in shares]
            male = rng.randint(10, 90)
            writer.writerow([i + 1, f"{name} {rng.choice(WORDS)} {rng.choice(WORDS)} {i}",
                             rng.randint(100, 500000), rng.randint(20, 9000), round(rng.uniform(1, 9), 3),
                             round(rng.uniform(-200, 200), 3), male, 100 - male, *ages])
        path.write_bytes(buf.getvalue().encode("utf-8-sig"))
        total += rows
    return total


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def bench_lookups(db: Database, files: int, n: int) -> dict:
    rng = random.Random(2)
    targets = scopes(files)
    results: dict[str, dict] = {}
    for mode in ("cold", "steady"):
        for kind in ("top_keywords", "timeline"):
            times = []
            # Steady state: a realistic working set (60 datasets) visited many times.
            pool = targets if mode == "cold" else rng.sample(targets, min(60, len(targets)))
            for _ in range(n if mode == "steady" else max(200, n // 5)):
                dep_id, cc_id, *_ = rng.choice(pool)
                gender = rng.choice(["male", "female", None])
                age = rng.choice([None, 16, 25, 34, 45, 58, 66, 80])
                if mode == "cold":
                    store_cache.invalidate_local(db)
                async with db.sessionmaker() as session:
                    t = time.perf_counter()
                    if kind == "top_keywords":
                        await store.top_keywords(session, dep_id, cc_id, age, gender, 15)
                    else:
                        await store.timeline(session, dep_id, cc_id, gender=gender, age=age)
                    times.append((time.perf_counter() - t) * 1000)
            results[f"{kind}_{mode}"] = {
                "n": len(times),
                "p50_ms": round(statistics.median(times), 3),
                "p95_ms": round(pct(times, 95), 3),
                "max_ms": round(max(times), 3),
            }
    return results


async def main(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        t = time.perf_counter()
        total = write_tree(tmp_path / "tree", args.files, args.rows)
        generated = time.perf_counter() - t
        settings = Settings(data_dir=tmp_path / "var", secret_key="bench", database_url=args.database_url)
        await asyncio.to_thread(upgrade, settings)
        db = Database(settings)
        try:
            out = {"database": "postgresql" if args.database_url else "sqlite", "files": args.files, "rows": total, "generate_seconds": round(generated, 2),
                   "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
            for label in ("import_new", "import_replace"):
                t = time.perf_counter()
                cpu = time.process_time()
                report = await import_path(db, tmp_path / "tree")
                seconds = time.perf_counter() - t
                cpu = time.process_time() - cpu
                assert report.ok and report.row_count == total, [r.describe() for r in report.rejected][:5]
                # CPU seconds of this process (all threads): what the import costs when the box is shared.
                out[label] = {"seconds": round(seconds, 2), "rows_per_second": round(total / seconds),
                              "cpu_seconds": round(cpu, 2), "rows_per_cpu_second": round(total / cpu)}
            out["lookups"] = await bench_lookups(db, args.files, args.lookups)
            return out
        finally:
            await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--database-url", default="",
                        help="an EMPTY database to use instead of a temp SQLite file, e.g. "
                             "postgresql+asyncpg://postgres@127.0.0.1/kwbench (its tables are created)")
    result = asyncio.run(main(parser.parse_args()))
    print(json.dumps(result, ensure_ascii=False, indent=2))
