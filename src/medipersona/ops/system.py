"""What the box gives us: CPUs, the memory limit and use, process memory, read from cgroups and /proc.

No third-party imports (the gunicorn config and the worker advisor use this before anything else is loaded).
Every reader returns ``None`` when the file is missing, so the callers can fall back in order:
cgroup v2 -> cgroup v1 -> /proc.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_STAT = Path("/proc/stat")
UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a huge number (9223372036854771712)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None


def _cgroup_v2_dir(root: Path = CGROUP_ROOT) -> Path | None:
    """The process's own cgroup v2 directory (the namespace root inside a container)."""
    if not (root / "cgroup.controllers").exists():
        return None
    rel = ""
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        if line.startswith("0::"):
            rel = line[3:].lstrip("/")
    candidate = root / rel if rel else root
    return candidate if (candidate / "memory.max").exists() or (candidate / "cpu.max").exists() else root


# --- CPUs ---------------------------------------------------------------------------------------------------


def cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs granted by a cgroup CPU quota (e.g. 0.5, 1.0, 2.0), or None when there is no quota."""
    v2 = _cgroup_v2_dir(root)
    if v2 is not None:
        raw = _read(v2 / "cpu.max")
        if raw:
            quota, _, period = raw.partition(" ")
            if quota != "max" and period:
                return int(quota) / int(period)
    quota_raw, period_raw = _read(root / "cpu" / "cpu.cfs_quota_us"), _read(root / "cpu" / "cpu.cfs_period_us")
    if quota_raw and period_raw and int(quota_raw) > 0 and int(period_raw) > 0:
        return int(quota_raw) / int(period_raw)
    return None


def detect_cpus() -> tuple[float, str]:
    """CPUs this process may use: Render's RENDER_CPU_COUNT (its plans share bigger hosts), else the smaller of
    the affinity mask and the cgroup quota."""
    raw = os.environ.get("RENDER_CPU_COUNT", "").strip()
    try:
        if raw and float(raw) > 0:
            return float(raw), "RENDER_CPU_COUNT"
    except ValueError:
        pass
    try:
        affinity = len(os.sched_getaffinity(0))
        source = "sched_getaffinity"
    except (AttributeError, OSError):
        affinity = os.cpu_count() or 1
        source = "os.cpu_count"
    quota = cpu_quota()
    if quota is not None and quota < affinity:
        return quota, "cgroup CPU quota"
    return float(affinity), source


# --- memory -------------------------------------------------------------------------------------------------


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out: dict[str, int] = {}
    for line in (_read(Path("/proc/meminfo")) or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def cgroup_memory_limit(root: Path = CGROUP_ROOT) -> int | None:
    """The cgroup memory limit in bytes, or None when unlimited / not in a cgroup."""
    v2 = _cgroup_v2_dir(root)
    if v2 is not None:
        raw = _read(v2 / "memory.max")
        if raw and raw != "max":
            return int(raw)
        if raw == "max":
            return None
    raw = _read(root / "memory" / "memory.limit_in_bytes")
    if raw and raw.isdigit() and int(raw) < UNLIMITED:
        return int(raw)
    return None


def cgroup_memory_working_set(root: Path = CGROUP_ROOT) -> int | None:
    """Memory charged to the cgroup minus reclaimable file cache (what the OOM killer and PaaS dashboards see)."""
    v2 = _cgroup_v2_dir(root)
    if v2 is not None and (current := _read(v2 / "memory.current")):
        stat = _parse_kv(_read(v2 / "memory.stat"))
        return max(0, int(current) - stat.get("inactive_file", 0))
    usage = _read(root / "memory" / "memory.usage_in_bytes")
    if usage and usage.isdigit():
        stat = _parse_kv(_read(root / "memory" / "memory.stat"))
        return max(0, int(usage) - stat.get("total_inactive_file", stat.get("inactive_file", 0)))
    return None


def _parse_kv(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


@dataclass(frozen=True)
class MemoryInfo:
    limit_bytes: int
    limit_source: str
    used_bytes: int
    used_source: str

    @property
    def percent(self) -> float:
        return 100.0 * self.used_bytes / self.limit_bytes if self.limit_bytes else 0.0


def detect_memory_limit(configured_mb: int = 0) -> tuple[int, str]:
    """The memory the app may use, in bytes: configured > cgroup limit > MemTotal."""
    if configured_mb:
        return configured_mb * 1024 * 1024, "MEDIPERSONA_MEMORY_LIMIT_MB"
    total = meminfo().get("MemTotal", 0)
    limit = cgroup_memory_limit()
    if limit is not None and (not total or limit < total):
        return limit, "cgroup memory limit"
    return total, "/proc/meminfo MemTotal"


def memory_info(configured_mb: int = 0) -> MemoryInfo:
    limit, limit_source = detect_memory_limit(configured_mb)
    used = cgroup_memory_working_set()
    if used is not None and limit_source != "/proc/meminfo MemTotal":
        return MemoryInfo(limit, limit_source, used, "cgroup working set")
    info = meminfo()
    used = info.get("MemTotal", 0) - info.get("MemAvailable", info.get("MemFree", 0))
    return MemoryInfo(limit, limit_source, max(0, used), "MemTotal - MemAvailable")


# --- processes ----------------------------------------------------------------------------------------------


def process_rss_bytes(pid: int | str = "self") -> int | None:
    """Resident set size of a process from /proc/<pid>/status (VmRSS)."""
    return _status_field(pid, "VmRSS")


def process_peak_rss_bytes(pid: int | str = "self") -> int | None:
    """The high-water mark of the resident set (VmHWM)."""
    return _status_field(pid, "VmHWM")


def _status_field(pid: int | str, field: str) -> int | None:
    for line in (_read(Path(f"/proc/{pid}/status")) or "").splitlines():
        if line.startswith(field + ":"):
            parts = line.split()
            return int(parts[1]) * 1024
    return None


def process_pss_bytes(pid: int | str = "self") -> int | None:
    """Proportional set size (shared pages divided among sharers) from /proc/<pid>/smaps_rollup."""
    for line in (_read(Path(f"/proc/{pid}/smaps_rollup")) or "").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return None


class CpuSampler:
    """CPU % of this process and of the box (cgroup usage against its quota, else ``/proc/stat``) between two
    calls."""

    def __init__(self, proc_stat: Path = PROC_STAT) -> None:
        self._last: tuple[float, float, float | None] | None = None
        self._proc_stat = proc_stat
        self._last_box: tuple[int, int] | None = None  # /proc/stat's (busy, total) jiffies

    @staticmethod
    def _cgroup_usage_seconds(root: Path = CGROUP_ROOT) -> float | None:
        v2 = _cgroup_v2_dir(root)
        if v2 is not None:
            stat = _parse_kv(_read(v2 / "cpu.stat"))
            if "usage_usec" in stat:
                return stat["usage_usec"] / 1e6
        raw = _read(root / "cpuacct" / "cpuacct.usage")
        if raw and raw.isdigit():
            return int(raw) / 1e9
        return None

    MIN_INTERVAL = 2.0  # shorter intervals give noise (a single request's CPU burst reads as 100 %)

    def sample(self) -> tuple[float | None, float | None]:
        """(process CPU %, box CPU %) since the previous sample; None on the first call or too soon after."""
        now = time.monotonic()
        if self._last is not None and now - self._last[0] < self.MIN_INTERVAL:
            return None, None
        proc = time.process_time()
        group = self._cgroup_usage_seconds()
        last, self._last = self._last, (now, proc, group)
        if last is None:
            self._box_from_proc_stat()
            return None, None
        elapsed = now - last[0]
        process_pct = 100.0 * (proc - last[1]) / elapsed
        box_pct: float | None = None
        quota = cpu_quota()
        if group is not None and last[2] is not None and quota is not None:
            box_pct = 100.0 * (group - last[2]) / elapsed / quota
        else:
            box_pct = self._box_from_proc_stat()
        return round(process_pct, 1), (round(min(box_pct, 100.0), 1) if box_pct is not None else None)

    def _box_from_proc_stat(self) -> float | None:
        """Busy share of all CPUs since the previous call, from the ``cpu`` line of ``/proc/stat`` (what
        ``psutil.cpu_percent`` computes: not loading psutil keeps ~1 MB out of every worker)."""
        fields = (_read(self._proc_stat) or "").partition("\n")[0].split()
        if len(fields) < 5 or fields[0] != "cpu" or not all(f.isdigit() for f in fields[1:]):
            return None
        ticks = [int(f) for f in fields[1:9]]  # user nice system idle iowait irq softirq steal (guest: in user)
        total = sum(ticks)
        busy = total - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)
        last, self._last_box = self._last_box, (busy, total)
        if last is None or total <= last[1]:
            return None
        return 100.0 * (busy - last[0]) / (total - last[1])
