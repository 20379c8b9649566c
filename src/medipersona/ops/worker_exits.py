"""Why a gunicorn worker exited, from the arbiter's own log lines (used by ``gunicorn_conf.child_exit``).

gunicorn's ``child_exit(server, worker)`` hook does not receive the exit status, but the arbiter logs it just
before calling the hook: "Worker (pid:…) was sent SIGKILL! Perhaps out of memory?" or "Worker (pid:…) exited with
code N". A logging filter on ``gunicorn.error`` keeps what those lines say, per pid. No side effects on import.
"""

from __future__ import annotations

import logging
import re

_SIGNAL_RE = re.compile(r"Worker \(pid:(\d+)\) was sent (\w+)!")
_EXIT_RE = re.compile(r"Worker \(pid:(\d+)\) exited with code (\d+)")
_exit_info: dict[int, dict[str, str]] = {}


class _WorkerExitWatcher(logging.Filter):
    """Reads the arbiter's own "Worker (pid:…) was sent SIGKILL!" / "exited with code N" lines (they carry the exit
    status that ``child_exit`` does not receive) so that ``child_exit`` can count the exit by reason."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - never break logging
            return True
        if match := _SIGNAL_RE.search(message):
            _exit_info.setdefault(int(match.group(1)), {})["signal"] = match.group(2)
        elif match := _EXIT_RE.search(message):
            _exit_info.setdefault(int(match.group(1)), {})["code"] = match.group(2)
        return True


WATCHER = _WorkerExitWatcher()


def exit_reason(info: dict[str, str], aborted: bool) -> str:
    """recycled | sigkill | timeout | signal | error, from what the arbiter logged about the exit."""
    sig = info.get("signal")
    if aborted or sig == "SIGABRT":
        return "timeout"
    if sig == "SIGKILL":
        return "sigkill"
    if sig:
        return "signal"
    if info.get("code", "0") != "0":
        return "error"
    return "recycled"


def pop_exit_info(pid: int) -> dict[str, str]:
    return _exit_info.pop(pid, {})
