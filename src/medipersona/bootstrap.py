"""What a first run needs after migrations: the first admin account, the sample keyword data."""

from __future__ import annotations

import logging

from medipersona.db import Database
from medipersona.settings import Settings

log = logging.getLogger("medipersona.bootstrap")


async def first_run(settings: Settings) -> list[str]:
    """Idempotent. Returns lines to print to the operator (e.g. a generated admin password)."""
    from medipersona.accounts.service import ensure_first_admin

    messages: list[str] = []
    db = Database(settings)
    try:
        async with db.sessionmaker() as session:
            generated = await ensure_first_admin(session, settings)
            if generated:
                messages.append(
                    f"管理者アカウントを作成しました / created the first admin: "
                    f"username={settings.admin_username} password={generated}"
                )
                messages.append("このパスワードは今回だけ表示されます。ログイン後に変更してください。")
        from medipersona.catalog.bundled import sync_bundled

        await sync_bundled(db)  # catalog.json's attribute values, bundled entries a database lacks
        from medipersona.keywords.sample import load_sample_if_empty

        if loaded := await load_sample_if_empty(db):
            messages.append(loaded)
    finally:
        await db.dispose()
    return messages
