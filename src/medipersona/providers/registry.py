"""Provider registry (generation-pipeline work fills this in)."""

from __future__ import annotations

from medipersona.settings import Settings


def check_configuration(settings: Settings) -> None:
    """Raise ConfigurationError for an unknown provider or a missing key (called at start-up)."""
