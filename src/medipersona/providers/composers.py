"""Offline composers registered by the domains that own them.

The offline (and simulated) provider answers a text task by composing the JSON itself from the request's
``context``. A domain registers the composer of each of its tasks at import time, next to its job handler::

    register_offline_composer("interview_answer", compose_interview_answer)

A composer is ``fn(context: dict, seed: int | None) -> dict`` (the answer object, valid for the task's schema).
Tasks without a registered composer fall back to the built-in persona/analysis composers (``offline_compose``).
"""

from __future__ import annotations

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
