"""CPU of an idle worker: what one gunicorn worker spends per second when nobody uses it.

    .venv/bin/python benchmarks/idle_cpu.py                 # 20 s after a 10 s settle, SQLite
    .venv/bin/python benchmarks/idle_cpu.py --seconds 60 --postgres postgresql+asyncpg://postgres@127.0.0.1/db

Starts the app as ``benchmarks/generation_burst.py`` does (one worker, the simulated provider, sample data),
waits ``--settle`` seconds, then reads the worker's CPU (utime + stime, /proc/<pid>/stat) over ``--seconds``.
An idle worker still polls: the job queue (``MEDIPERSONA_JOB_POLL_SECONDS``, 0.5 s), the catalog's version
(0.5 s), the metrics sampler. On a 1-CPU box with two workers this is CPU taken from nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generation_burst import cpu_seconds, start_server, worker_pids  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds after start before measuring")
    parser.add_argument("--postgres", default="", help="database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mp-idle-"))
    server, _base = start_server(tmp, text_seconds=3.0, image_seconds=5.0, postgres=args.postgres)
    try:
        time.sleep(args.settle)
        workers = worker_pids(server.pid)
        if len(workers) != 1:
            raise SystemExit(f"expected one worker, found {workers}")
        before = cpu_seconds(workers[0])
        time.sleep(args.seconds)
        spent = cpu_seconds(workers[0]) - before
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"seconds": args.seconds, "worker_cpu_ms_per_s": round(1000 * spent / args.seconds, 1),
              "database": "postgresql" if args.postgres else "sqlite", "loadavg": os.getloadavg()}
    print(json.dumps(result, indent=2))
    print(f"idle worker: {result['worker_cpu_ms_per_s']} ms of CPU per second "
          f"({result['worker_cpu_ms_per_s'] / 10:.1f} % of a core)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
