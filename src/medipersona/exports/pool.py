"""The export process pool (exports work fills this in)."""

from __future__ import annotations


def shutdown_export_pool() -> None:
    pass
