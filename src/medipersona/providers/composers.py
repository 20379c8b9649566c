"""Offline composers registered by the domains that own them.

The offline (and simulated) provider answers a text task by composing the JSON itself from the request's
``context``. A domain registers the composer of each of its tasks at import time, next to its job handler::

    register_offline_composer("interview_answer", compose_interview_answer)

A composer is ``fn(context: dict, seed: int | None) -> dict`` (the answer object, valid for the task's schema).
The providers know no domain: every task's composer lives in its domain (``personas/offline_text.py``,
``keywords/offline_analysis.py``, ``competitors/offline_swot.py``, ``interviews/offline.py``,
``message_tests/offline.py``) and ``medipersona.domains.register_domains`` imports them all at start. A task
without a composer is answered with ``ProviderError(code="unsupported")``.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from typing import Any

Composer = Callable[[dict[str, Any], int | None], dict[str, Any]]

_COMPOSERS: dict[str, Composer] = {}


def register_offline_composer(task: str, composer: Composer) -> Composer:
    """Register (or replace) the offline composer of ``task``."""
    _COMPOSERS[task] = composer
    return composer


def offline_composer(task: str) -> Composer | None:
    return _COMPOSERS.get(task)


def seed_for(context: dict[str, Any], seed: int | None, salt: str = "") -> int:
    """A stable seed: the given one, else a hash of the context (the same inputs give the same persona)."""
    if seed is None:
        seed = zlib.crc32(json.dumps(context, ensure_ascii=False, sort_keys=True, default=str).encode())
    return zlib.crc32(f"{seed}:{salt}".encode())


def parse_age(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        m = re.search(r"\d+", value)
        if m:
            return int(m.group(0))
    return None
