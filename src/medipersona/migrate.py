"""Run Alembic migrations programmatically (``medipersona migrate`` and the app's first start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from medipersona.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", settings.effective_database_url.replace("%", "%%"))
    cfg.attributes["settings"] = settings  # data migrations read files under settings.data_dir
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Blocking: call from the CLI or in a thread, never on the event loop."""
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)
