"""Fold a dead worker's counter and histogram files into one archive file per type.

In prometheus_client's multiprocess mode every worker process writes its own ``counter_<pid>.db`` /
``histogram_<pid>.db``, and those files must outlive the worker (counters are cumulative). With
``max_requests`` recycling a busy server starts a few new workers per hour, so the directory would keep growing
and every scrape (and every monitoring sample) would read more files. The gunicorn arbiter therefore adds a dead
worker's values into ``counter_archive.db`` / ``histogram_archive.db`` (summing per series) and deletes its files.
The archive is written first, then the worker file removed; ``collect`` retries a scrape that raced with that.

Only the arbiter writes archive files (from ``child_exit``), so there is a single writer.
"""

from __future__ import annotations

import os

ARCHIVED_TYPES = ("counter", "histogram")


def compact_dead_worker(pid: int, path: str | None = None) -> int:
    """Move the dead worker's counter/histogram values into the archive files. Returns series moved."""
    from prometheus_client.mmap_dict import MmapedDict

    path = path or os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not path or not os.path.isdir(path):
        return 0
    moved = 0
    for kind in ARCHIVED_TYPES:
        source = os.path.join(path, f"{kind}_{pid}.db")
        if not os.path.exists(source):
            continue
        values = list(MmapedDict.read_all_values_from_file(source))
        archive = MmapedDict(os.path.join(path, f"{kind}_archive.db"))
        try:
            for key, value, timestamp, _pos in values:
                current, _ = archive.read_value(key)
                archive.write_value(key, current + value, timestamp)
                moved += 1
        finally:
            archive.close()
        os.remove(source)
    return moved
