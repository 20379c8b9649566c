"""The seed's worker formula, as pure arithmetic, plus where its inputs come from.

    最適Worker数 = min(
        CPU × 4-8,                         # 非同期I/O boundの推奨範囲
        利用可能メモリ / Worker平均メモリ,     # メモリ制約
        ピーク同時ユーザー数 / 10            # 経験則
    )

The seed's own example: 1 CPU, 2048 MB, 600 MB per worker, 50 peak users -> min(4-8, 3, 5) = 3.

Rounding (the seed's): the memory bound is floored ("3.4 workers -> 3 workers (安全)"), the user bound is floored
(50 / 10 = 5), the CPU bound uses the low end of the range (CPU × 4; the range is printed), and the result is at
least 1. Fractional CPU quotas (0.5 CPU) give floor(0.5 × 4) = 2.

Inputs of the worker's memory, in order: an explicit value (``--worker-rss-mb`` / ``MEDIPERSONA_WORKER_RSS_MB``),
the advisor's last measurement (``<data_dir>/ops/worker_rss.json``), else ``DEFAULT_WORKER_RSS_MB`` = 600 MB: the
seed's own assumption (it observed 500–700 MB per worker in the predecessor). Without a measurement we therefore
never start more workers than the seed would on the same box; a measured medipersona worker is far smaller (see
``medipersona advise-workers``), so measuring can only raise the memory bound.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CPU_FACTOR_LOW = 4
CPU_FACTOR_HIGH = 8
USERS_PER_WORKER = 10
DEFAULT_PEAK_USERS = 50
DEFAULT_WORKER_RSS_MB = 600.0  # the seed's assumption; conservative for medipersona (measure to replace it)
SEED_WORKER_RSS_MB = 600.0
MEASUREMENT_FILE = Path("ops") / "worker_rss.json"


@dataclass(frozen=True)
class Advice:
    cpus: float
    memory_mb: float
    peak_users: int
    worker_rss_mb: float
    cpu_bound: int
    cpu_bound_high: int
    memory_bound: int
    memory_ratio: float
    user_bound: int
    workers: int

    @property
    def limiting(self) -> str:
        bounds = {"cpu": self.cpu_bound, "memory": self.memory_bound, "users": self.user_bound}
        return min(bounds, key=lambda k: bounds[k])

    def steps(self) -> list[str]:
        """The seed's calculation, step by step (its own wording)."""
        cpus = f"{self.cpus:g}"
        return [
            (f"CPU基準: {cpus} × {CPU_FACTOR_LOW}-{CPU_FACTOR_HIGH} = {self.cpu_bound}-{self.cpu_bound_high} workers"
             f"（下限 {self.cpu_bound} を使用）"),
            (f"メモリ基準: {self.memory_mb:.0f}MB / {self.worker_rss_mb:.0f}MB = {self.memory_ratio:.1f} workers"
             f" → {self.memory_bound} workers（切り捨て）"),
            f"ユーザー基準: {self.peak_users}人 / {USERS_PER_WORKER} = {self.user_bound} workers",
            (f"結果: min({self.cpu_bound}-{self.cpu_bound_high}, {self.memory_bound}, {self.user_bound})"
             f" = {self.workers} workers"),
        ]


    def summary(self) -> str:
        """The calculation on one line, for the server's start-up log (English, like the rest of the log)."""
        cpus = f"{self.cpus:g}"
        bounds = {
            "cpu": f"CPU {cpus} x {CPU_FACTOR_LOW} = {self.cpu_bound}",
            "memory": f"memory {self.memory_mb:.0f} MB / {self.worker_rss_mb:.0f} MB per worker = {self.memory_bound}",
            "users": f"peak users {self.peak_users} / {USERS_PER_WORKER} = {self.user_bound}",
        }
        limit = {"cpu": "the CPUs", "memory": "memory", "users": "peak users (MEDIPERSONA_PEAK_USERS)"}[self.limiting]
        return f"{self.workers} = min({', '.join(bounds.values())}), limited by {limit}"


def advise(cpus: float, memory_mb: float, peak_users: int, worker_rss_mb: float) -> Advice:
    """min(CPU × 4, floor(memory / worker RSS), floor(peak users / 10)), at least 1."""
    if cpus <= 0 or memory_mb <= 0 or worker_rss_mb <= 0 or peak_users < 0:
        raise ValueError("cpus, memory and worker memory must be positive; peak users non-negative")
    cpu_bound = max(1, math.floor(cpus * CPU_FACTOR_LOW + 1e-9))
    cpu_bound_high = max(1, math.floor(cpus * CPU_FACTOR_HIGH + 1e-9))
    ratio = memory_mb / worker_rss_mb
    memory_bound = max(1, math.floor(ratio + 1e-9))
    user_bound = max(1, peak_users // USERS_PER_WORKER)
    workers = max(1, min(cpu_bound, memory_bound, user_bound))
    return Advice(cpus, memory_mb, peak_users, worker_rss_mb, cpu_bound, cpu_bound_high, memory_bound, ratio,
                  user_bound, workers)


# --- the worker-RSS input ---------------------------------------------------------------------------------------


def measurement_path(data_dir: Path) -> Path:
    return Path(data_dir) / MEASUREMENT_FILE


def save_measurement(data_dir: Path, rss_mb: float, detail: dict | None = None) -> Path | None:
    path = measurement_path(data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"worker_rss_mb": round(rss_mb, 1), "measured_at": int(time.time()),
                                   **(detail or {})}, ensure_ascii=False))
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def load_measurement(data_dir: Path) -> float | None:
    try:
        value = float(json.loads(measurement_path(data_dir).read_text())["worker_rss_mb"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if value > 0 else None


def worker_rss_input(data_dir: Path | None, env: Mapping[str, str] | None = None) -> tuple[float, str]:
    """(worker RSS in MB, where it came from): env > last measurement > the seed's 600 MB."""
    env = os.environ if env is None else env
    raw = env.get("MEDIPERSONA_WORKER_RSS_MB", "").strip()
    if raw:
        try:
            if float(raw) > 0:
                return float(raw), "MEDIPERSONA_WORKER_RSS_MB"
        except ValueError:
            pass
    if data_dir is not None and (measured := load_measurement(data_dir)) is not None:
        return measured, f"measured by advise-workers ({measurement_path(data_dir)})"
    return DEFAULT_WORKER_RSS_MB, "default (the seed's 600 MB assumption; run advise-workers to measure)"


def peak_users_input(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        return max(0, int(env.get("MEDIPERSONA_PEAK_USERS", "") or DEFAULT_PEAK_USERS))
    except ValueError:
        return DEFAULT_PEAK_USERS


def workers_for_this_box(data_dir: Path | None, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Workers for gunicorn: WEB_CONCURRENCY if set, else the seed's formula on this box. Returns (n, why)."""
    env = os.environ if env is None else env
    override = env.get("WEB_CONCURRENCY", "").strip()
    if override:
        try:
            if int(override) >= 1:
                return int(override), "WEB_CONCURRENCY"
        except ValueError:
            pass
    from medipersona.ops import system

    cpus, _ = system.detect_cpus()
    memory_mb_configured = 0
    try:
        memory_mb_configured = int(env.get("MEDIPERSONA_MEMORY_LIMIT_MB", "0") or 0)
    except ValueError:
        pass
    limit_bytes, _ = system.detect_memory_limit(memory_mb_configured)
    rss_mb, rss_source = worker_rss_input(data_dir, env)
    advice = advise(cpus, limit_bytes / 1048576, peak_users_input(env), rss_mb)
    return advice.workers, f"the seed's formula: {advice.summary()}; worker memory: {rss_source}"


def postgres_connections_per_worker() -> int | None:
    """The most connections one worker's PostgreSQL pool may open (pool_size + max_overflow), read from the engine
    the app would build (nothing is connected)."""
    try:
        from medipersona.db import create_engine
        from medipersona.settings import Settings

        engine = create_engine(Settings(database_url="postgresql+asyncpg://probe@127.0.0.1/probe"))
        pool = engine.sync_engine.pool
        return int(pool.size() + getattr(pool, "_max_overflow", 0))  # type: ignore[attr-defined]  # QueuePool
    except Exception:  # noqa: BLE001 - informational only
        return None
