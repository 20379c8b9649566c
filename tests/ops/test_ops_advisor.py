"""The seed's worker formula: min(CPU × 4-8, memory / worker memory, peak users / 10)."""

from __future__ import annotations

import json

import pytest

from medipersona.ops import advisor
from medipersona.ops.advisor import advise


def test_seed_example_gives_three():
    # The seed: CPU 1 × 4-8 = 4-8; 2048 MB / 600 MB = 3.4 -> 3; 50 users / 10 = 5; min(4-8, 3, 5) = 3.
    a = advise(cpus=1, memory_mb=2048, peak_users=50, worker_rss_mb=600)
    assert (a.cpu_bound, a.cpu_bound_high, a.memory_bound, a.user_bound) == (4, 8, 3, 5)
    assert round(a.memory_ratio, 1) == 3.4
    assert a.workers == 3
    assert a.limiting == "memory"
    assert a.steps()[-1] == "結果: min(4-8, 3, 5) = 3 workers"
    assert a.summary() == ("3 = min(CPU 1 x 4 = 4, memory 2048 MB / 600 MB per worker = 3, peak users 50 / 10 = 5), "
                           "limited by memory")


def test_seed_upgrade_plan_pro_box():
    # The seed's "Pro (2 CPU, 4 GB)" with 600 MB workers: min(8, 6, 5) = 5 at 50 users, 6 at 100 users.
    assert advise(2, 4096, 50, 600).workers == 5
    assert advise(2, 4096, 100, 600).workers == 6


@pytest.mark.parametrize(
    ("cpus", "memory_mb", "users", "rss", "expected", "limiting"),
    [
        (1, 2048, 50, 110, 4, "cpu"),       # measured worker: memory no longer binds, CPU × 4 does
        (1, 2048, 20, 110, 2, "users"),     # few users
        (1, 2048, 5, 110, 1, "users"),      # 5 / 10 = 0 -> at least one worker
        (0.5, 2048, 50, 110, 2, "cpu"),     # fractional quota: floor(0.5 × 4)
        (4, 1024, 500, 600, 1, "memory"),   # 1024 / 600 = 1.7 -> 1
        (1, 512, 50, 600, 1, "memory"),     # 0.85 -> still at least one worker
        (8, 65536, 1000, 150, 32, "cpu"),
    ],
)
def test_bounds(cpus, memory_mb, users, rss, expected, limiting):
    a = advise(cpus, memory_mb, users, rss)
    assert a.workers == expected
    assert a.limiting == limiting


def test_memory_bound_is_floored_not_rounded():
    assert advise(8, 2048, 1000, 512).memory_bound == 4        # exactly 4.0
    assert advise(8, 2047, 1000, 512).memory_bound == 3        # 3.998 -> 3


def test_invalid_inputs():
    with pytest.raises(ValueError):
        advise(0, 2048, 50, 600)
    with pytest.raises(ValueError):
        advise(1, 2048, 50, 0)


def test_worker_rss_input_order(tmp_path):
    # default: the seed's assumption
    assert advisor.worker_rss_input(tmp_path, env={})[0] == 600
    # the advisor's saved measurement
    advisor.save_measurement(tmp_path, 123.4)
    assert json.loads(advisor.measurement_path(tmp_path).read_text())["worker_rss_mb"] == 123.4
    value, source = advisor.worker_rss_input(tmp_path, env={})
    assert value == 123.4 and "measured" in source
    # the environment wins
    assert advisor.worker_rss_input(tmp_path, env={"MEDIPERSONA_WORKER_RSS_MB": "250"}) == (
        250.0, "MEDIPERSONA_WORKER_RSS_MB")


def test_workers_for_this_box_honours_web_concurrency(tmp_path):
    assert advisor.workers_for_this_box(tmp_path, env={"WEB_CONCURRENCY": "7"}) == (7, "WEB_CONCURRENCY")
    n, why = advisor.workers_for_this_box(tmp_path, env={"MEDIPERSONA_PEAK_USERS": "10"})
    assert n == 1 and "peak users 10 / 10 = 1" in why
    assert why.isascii()  # the start-up log line is in one language


def test_cli_prints_the_calculation_and_ends_with_workers(capsys):
    from medipersona.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["advise-workers", "--cpus", "1", "--memory-mb", "2048", "--peak-users", "50", "--worker-rss-mb", "600"])
    assert exc.value.code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "CPU基準: 1 × 4-8 = 4-8 workers（下限 4 を使用）" in out
    assert "メモリ基準: 2048MB / 600MB = 3.4 workers → 3 workers（切り捨て）" in out
    assert "ユーザー基準: 50人 / 10 = 5 workers" in out
    assert out[-1] == "workers: 3"


def test_render_cpu_count_is_honoured(monkeypatch):
    from medipersona.ops import system

    monkeypatch.setenv("RENDER_CPU_COUNT", "0.5")
    assert system.detect_cpus() == (0.5, "RENDER_CPU_COUNT")
    monkeypatch.delenv("RENDER_CPU_COUNT")
    cpus, source = system.detect_cpus()
    assert cpus >= 0.1 and source != "RENDER_CPU_COUNT"


def test_cli_measures_a_real_worker(tmp_path):
    """Without --worker-rss-mb: a worker is started, warmed (requests + generations) and measured."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env["MEDIPERSONA_DATA_DIR"] = str(tmp_path / "var")
    out = subprocess.run([sys.executable, "-m", "medipersona", "advise-workers", "--cpus", "1", "--memory-mb", "2048",
                          "--peak-users", "50", "--burst", "5"], capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-1].startswith("workers: ")
    assert any(line.startswith("起動直後: ") for line in lines), out.stdout
    assert any("ガイドは1 Workerあたり600 MB" in line for line in lines)
    measured = advisor.load_measurement(tmp_path / "var")
    assert measured is not None and 20 < measured < 600  # saved for the gunicorn config
    workers = int(lines[-1].split(": ")[1])
    assert workers == advise(1, 2048, 50, measured).workers


def test_box_cpu_share_is_read_from_proc_stat_between_two_samples(tmp_path, monkeypatch):
    """Without a cgroup quota the box's CPU comes from /proc/stat (psutil's method, without loading psutil)."""
    from medipersona.ops import system

    monkeypatch.setattr(system, "cpu_quota", lambda *a, **k: None)
    stat = tmp_path / "stat"
    sampler = system.CpuSampler(proc_stat=stat)
    sampler.MIN_INTERVAL = 0.0
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  100 0 50 800 50 0 0 0 7 0\ncpu0 1 2 3 4\n")
    assert sampler.sample() == (None, None)  # the first call only primes
    stat.write_text("cpu  160 0 70 900 70 0 0 0 9 0\ncpu0 1 2 3 4\n")
    _process, box = sampler.sample()
    assert box == 40.0  # busy 80 of 200 ticks: iowait counts as idle, guest is already in user
    stat.write_text("garbage\n")
    assert sampler.sample()[1] is None
    assert "psutil" not in system.__dict__
