"""``medipersona import-portraits [DIR]``: move an instance's old portrait files into the shared database.

Migration 0010 moves the files of the instance that ran it (``<data_dir>/images``). An instance whose disk it
could not see (several instances, each with its own data directory) runs this once with its own folder. Files of
personas that already have a stored portrait are skipped. Exit codes: 0 done; 2 the folder does not exist.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("import-portraits", help="move old portrait files (<data_dir>/images) into the database",
                       description="以前の似顔絵ファイルを共有ストレージ（データベース）へ移します。")
    p.add_argument("folder", nargs="?", default=None, help="the images folder (default <data_dir>/images)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from medipersona.db import Database
    from medipersona.jobs.dblock import write_lock
    from medipersona.media.legacy_files import files_by_persona, import_files
    from medipersona.settings import get_settings

    settings = get_settings()
    folder = Path(args.folder) if args.folder else settings.images_dir
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    names = files_by_persona(folder)

    async def main() -> tuple[int, int]:
        db = Database(settings)
        try:
            async with write_lock(db.engine), db.engine.begin() as conn:
                return await conn.run_sync(lambda sync: import_files(sync, folder, file_column=False, names=names))
        finally:
            await db.dispose()

    imported, missing = asyncio.run(main())
    print(f"{imported} portraits imported, {missing} unreadable, "
          f"{len(names) - imported - missing} skipped (already stored or no such persona)", flush=True)
    return 0
