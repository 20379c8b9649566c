"""The shipped gunicorn config (the seed's settings) and metrics across two real gunicorn workers."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from medipersona.ops.worker_exits import exit_reason

GUNICORN = [sys.executable, "-m", "gunicorn"]
SEED_ARGS = ["--workers", "3", "--worker-class", "uvicorn_worker.UvicornWorker", "--timeout", "300",
             "--graceful-timeout", "120", "--max-requests", "1000", "--max-requests-jitter", "100"]
TOKEN = "scrape-token-gunicorn-test-0123456789"


def print_config(*args: str, env: dict | None = None) -> dict[str, str]:
    out = subprocess.run([*GUNICORN, "--print-config", *args, "medipersona.asgi:app"], capture_output=True, check=False,
                         text=True, timeout=120, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    values = {}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def test_print_config_shows_the_seed_settings():
    # Two workers: with one, max_requests recycling is off (tests/bounds/test_small_things.py).
    cfg = print_config("-c", "python:medipersona.ops.gunicorn_conf", env={"PORT": "10000", "WEB_CONCURRENCY": "2"})
    assert cfg["timeout"] == "300"
    assert cfg["graceful_timeout"] == "120"
    assert cfg["max_requests"] == "1000"
    assert cfg["max_requests_jitter"] == "100"
    assert cfg["worker_class"] == "medipersona.ops.worker.UvicornWorker"
    assert cfg["bind"] == "['0.0.0.0:10000']"
    assert int(cfg["workers"]) >= 1
    assert cfg["child_exit"] == "<child_exit()>"


def test_web_concurrency_overrides_the_formula():
    cfg = print_config("-c", "python:medipersona.ops.gunicorn_conf", env={"WEB_CONCURRENCY": "2"})
    assert cfg["workers"] == "2"
    cfg = print_config("-c", "python:medipersona.ops.gunicorn_conf",
                       env={"MEDIPERSONA_WORKER_RSS_MB": "600", "MEDIPERSONA_MEMORY_LIMIT_MB": "2048",
                            "MEDIPERSONA_PEAK_USERS": "50"})
    assert cfg["workers"] in {"1", "2", "3"}  # the seed's 2 GB box: memory bound 3 (CPU bound 4 × CPUs)


def test_the_seeds_own_command_line():
    cfg = print_config(*SEED_ARGS)
    assert (cfg["workers"], cfg["timeout"], cfg["graceful_timeout"]) == ("3", "300", "120")
    assert (cfg["max_requests"], cfg["max_requests_jitter"]) == ("1000", "100")
    assert cfg["worker_class"] == "uvicorn_worker.UvicornWorker"


@pytest.mark.parametrize(("worker_class", "loads_websockets"), [
    ("medipersona.ops.worker.UvicornWorker", False),
    ("uvicorn_worker.UvicornWorker", True),  # the seed's: works, with the websockets package loaded
])
def test_our_worker_class_leaves_websockets_unloaded(worker_class, loads_websockets):
    """No route speaks WebSocket: uvicorn's default loads the websockets package in every worker (~2 MB)."""
    module, name = worker_class.rsplit(".", 1)
    code = (f"import sys, uvicorn; from {module} import {name} as W; "
            "c = uvicorn.Config('medipersona.asgi:app', **W.CONFIG_KWARGS); c.load(); "
            "print('websockets' in sys.modules)")
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(loads_websockets)


@pytest.mark.parametrize(("info", "aborted", "reason"), [
    ({}, False, "recycled"),
    ({"code": "0"}, False, "recycled"),
    ({"code": "1"}, False, "error"),
    ({"signal": "SIGKILL"}, False, "sigkill"),
    ({"signal": "SIGKILL"}, True, "timeout"),
    ({"signal": "SIGABRT"}, False, "timeout"),
    ({"signal": "SIGTERM"}, False, "signal"),
])
def test_exit_reason(info, aborted, reason):
    assert exit_reason(info, aborted) == reason


def _requests_per_pid(metrics_dir: Path) -> dict[int, float]:
    from prometheus_client.mmap_dict import MmapedDict

    counts: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        if path.stem == "counter_archive":
            continue
        pid = int(path.stem.split("_")[-1])
        for key, value, _ts, _pos in MmapedDict.read_all_values_from_file(str(path)):
            _metric_name, name, labels, _help = json.loads(key)
            if name == "medipersona_http_requests_total" and labels.get("route") == "/healthz":
                counts[pid] = counts.get(pid, 0.0) + value
    return counts


def _scrape(base_url: str) -> str:
    response = httpx.get(base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.text


def _value(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_two_workers_one_scrape_and_sigkill_counted(tmp_path):
    from medipersona.ops.probe import ProbeServer

    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # wiped at start
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "MEDIPERSONA_METRICS_TOKEN": TOKEN}
    with ProbeServer(workers=2, env=env, data_dir=tmp_path / "data") as srv:
        pids = sorted(srv.worker_pids())
        assert len(pids) == 2
        assert not (metrics_dir / "counter_999999.db").exists()
        healthz = 'medipersona_http_requests_total{method="GET",route="/healthz",status="200"}'
        sent = _value(_scrape(srv.base_url), healthz)  # the start-up probes

        def hit(_: int) -> int:
            with httpx.Client(base_url=srv.base_url, timeout=10) as c:  # a new connection each time
                return c.get("/healthz").status_code

        deadline = time.monotonic() + 60
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            while time.monotonic() < deadline:
                assert all(code == 200 for code in pool.map(hit, range(40)))
                sent += 40
                per_pid = _requests_per_pid(metrics_dir)
                if all(per_pid.get(pid, 0) > 0 for pid in pids):
                    break
        per_pid = _requests_per_pid(metrics_dir)
        assert all(per_pid.get(pid, 0) > 0 for pid in pids), per_pid
        text = _scrape(srv.base_url)
        # one scrape holds both workers' counts: the sum equals every request sent
        assert _value(text, healthz) == sent
        for pid in pids:
            assert f'medipersona_worker_rss_bytes{{pid="{pid}"}}' in text

        # a worker killed like the OOM killer does: counted as a SIGKILL restart, its live gauges dropped
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = srv.worker_pids()
            if victim not in current and len(current) == 2:
                break
            time.sleep(0.2)
        time.sleep(1.0)
        text = _scrape(srv.base_url)
        assert _value(text, 'medipersona_worker_restarts_total{reason="sigkill"}') == 1
        assert _value(text, "medipersona_worker_last_sigkill_timestamp_seconds") > time.time() - 120
        assert f'medipersona_worker_rss_bytes{{pid="{victim}"}}' not in text
        # counters of the dead worker survive: the total still holds its requests
        assert _value(text, healthz) == sent
        assert "Perhaps out of memory?" in srv.log_tail(20000)
        # the dead worker's files were folded into the archive (the directory does not grow with restarts)
        assert not (metrics_dir / f"counter_{victim}.db").exists()
        assert (metrics_dir / "counter_archive.db").exists()


def test_compaction_sums_into_the_archive(tmp_path):
    """Two dead workers' counters end up in one archive file with the same totals."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.mmap_dict import MmapedDict, mmap_key
    from prometheus_client.multiprocess import MultiProcessCollector

    from medipersona.ops.compaction import compact_dead_worker

    key = mmap_key("medipersona_x_total", "medipersona_x_total", ["route"], ["/a"], "x")
    for pid, value in ((101, 3.0), (102, 4.0)):
        d = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        d.write_value(key, value, 0.0)
        d.close()

    def total() -> str:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(tmp_path))
        return generate_latest(registry).decode()

    assert 'medipersona_x_total{route="/a"} 7.0' in total()
    assert compact_dead_worker(101, str(tmp_path)) == 1
    assert compact_dead_worker(102, str(tmp_path)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_archive.db"]
    assert 'medipersona_x_total{route="/a"} 7.0' in total()
