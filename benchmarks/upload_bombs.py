"""Peak memory of one worker while it handles upload bombs (issue 17): the bar is 100 MB over the idle worker.

    .venv/bin/python benchmarks/upload_bombs.py
    .venv/bin/python benchmarks/upload_bombs.py --strings 12000000 --keyword-files 8

A real uvicorn process (one worker, SQLite in a temporary folder) is started; each bomb is sent as the admin;
the worker's RSS is sampled with psutil every 10 ms while it works. Reported per bomb: HTTP status, seconds,
compressed size, and peak RSS minus the RSS just before the request (after a warm-up upload of each kind).

Bombs (built here, see tests/bounds/bombs.py):
- ``xlsx-strings``: a competitor list whose sharedStrings.xml holds ``--strings`` extra ``<si><t>a</t></si>``
  (12 million: ~200 MB of XML in well under 1 MB);
- ``xlsx-last-string``: the same, with a cell that refers to the last shared string (must be refused: 413);
- ``zip-lie``: a keyword zip whose one member declares 1 KB and holds 300 MB of ``a``;
- ``keyword-rejects``: ``--keyword-files`` CSVs of 80,000 rows (12 MB each), each rejected at its last row;
- ``chunked-300mb``: 300 MB sent chunked (no Content-Length) to the competitor import (2 MB limit).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bounds.bombs import competitor_xlsx, lying_zip  # noqa: E402

MB = 1024 * 1024
PASSWORD = "bench-admin-password-1"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def keyword_zip(files: int, rows: int) -> bytes:
    import io
    import zipfile

    from tests.bounds.test_uploads import _keyword_csv

    deps = ["内科", "外科", "小児科", "整形外科", "皮膚科", "眼科", "循環器内科", "耳鼻咽喉科", "婦人科", "泌尿器科"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for d in deps[:files]:
            zf.writestr(f"{d}/{d}_全体.csv", _keyword_csv(rows, bad_last_row=True, pad=100))
    return buf.getvalue()


class Peak:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


async def chunked(base: str, token: str, total: int) -> int:
    host, port = base.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write((f"POST /api/competitors/import HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: multipart/form-data; boundary=xyz\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\n'
    writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
    chunk = b"x" * 65536
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    answer = asyncio.ensure_future(reader.read(4096))
    sent = 0
    try:
        while sent < total and not answer.done():
            writer.write(frame)
            sent += len(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    data = await asyncio.wait_for(answer, 120)
    writer.close()
    return int(data.split(b" ", 2)[1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=12_000_000)
    parser.add_argument("--keyword-files", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mp-bombs-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env.update({"MEDIPERSONA_DATA_DIR": str(tmp), "MEDIPERSONA_ADMIN_PASSWORD": PASSWORD,
                "MEDIPERSONA_SECRET_KEY": "bench", "MEDIPERSONA_COOKIE_SECURE": "never"})
    subprocess.run([sys.executable, "-m", "medipersona", "migrate"], env=env, check=True, capture_output=True)
    port = 18000 + os.getpid() % 1000
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "medipersona.asgi:app", "--port", str(port),
                             "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=300) as c:
            for _ in range(300):
                try:
                    if (await c.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            token = (await c.post("/api/auth/token", json={"username": "admin", "password": PASSWORD})
                     ).json()["access_token"]
            c.headers["Authorization"] = f"Bearer {token}"
            await c.post("/api/competitors/import", data={"kind": "competitors"},
                         files={"file": ("w.xlsx", competitor_xlsx(), XLSX)})
            await c.post("/api/keywords/import?dry_run=true",
                         files={"file": ("w.zip", keyword_zip(1, 100), "application/zip")})
            bombs = {
                "xlsx-strings": lambda: ("competitors", competitor_xlsx(filler=args.strings)),
                "xlsx-last-string": lambda: ("competitors", competitor_xlsx(filler=args.strings, use_last_index=True)),
                "zip-lie": lambda: ("keywords", lying_zip({"内科/内科_全体.csv": b"a" * (300 * MB)}, 1024)),
                "keyword-rejects": lambda: ("keywords", keyword_zip(args.keyword_files, 80_000)),
                "chunked-300mb": lambda: ("chunked", b""),
            }
            for name, build in bombs.items():
                kind, data = build()
                idle = psutil.Process(proc.pid).memory_info().rss
                started = time.monotonic()
                with Peak(proc.pid) as peak:
                    if kind == "competitors":
                        status = (await c.post("/api/competitors/import", data={"kind": "competitors"},
                                               files={"file": ("b.xlsx", data, XLSX)})).status_code
                    elif kind == "keywords":
                        status = (await c.post("/api/keywords/import?dry_run=true",
                                               files={"file": ("b.zip", data, "application/zip")})).status_code
                    else:
                        status = await chunked(base, token, 300 * MB)
                results.append({"bomb": name, "status": status, "seconds": round(time.monotonic() - started, 2),
                                "upload_kb": len(data) // 1024, "peak_over_idle_mb": round((peak.peak - idle) / MB, 1),
                                "rss_mb": round(peak.peak / MB, 1)})
                print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps({"load_average": os.getloadavg(), "bar_mb": 100,
                      "over_bar": [r["bomb"] for r in results if r["peak_over_idle_mb"] > 100]}))


if __name__ == "__main__":
    asyncio.run(main())
