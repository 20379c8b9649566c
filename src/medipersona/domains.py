"""What the domains register with the infrastructure at start: the composition root.

Infrastructure (``jobs``, ``providers``, ``db`` ...) knows no domain (the import contracts in ``pyproject.toml``,
checked by ``tests/test_architecture.py``). Instead each domain registers what the infrastructure runs for it when
its module is imported — job handlers (``@job_handler``), offline composers (``register_offline_composer``) — and
``create_app`` calls ``register_domains()`` once per process, before the job runner starts.
"""

from __future__ import annotations

import importlib

# Modules whose import registers job handlers (``jobs.registry.job_handler``).
JOB_HANDLER_MODULES: tuple[str, ...] = (
    "medipersona.personas.generation",
    "medipersona.personas.timeline",
    "medipersona.competitors.jobs",
    "medipersona.interviews.jobs",
    "medipersona.message_tests.jobs",
)

# Modules whose import registers the offline provider's composers (``providers.composers``).
OFFLINE_COMPOSER_MODULES: tuple[str, ...] = (
    "medipersona.personas.offline_text",
    "medipersona.keywords.offline_analysis",
    "medipersona.competitors.offline_swot",
    "medipersona.interviews.offline",
    "medipersona.message_tests.offline",
)

_registered = False


def register_domains() -> None:
    """Import every domain's handler and composer modules and install the accounts domain's login-session check
    for the row inserter (idempotent)."""
    global _registered
    if _registered:
        return
    for name in (*JOB_HANDLER_MODULES, *OFFLINE_COMPOSER_MODULES):
        importlib.import_module(name)
    from medipersona.accounts.service import live_session_ids, session_gone_error
    from medipersona.jobs.inserter import set_session_guard

    set_session_guard(live_session_ids, session_gone_error)
    _registered = True
