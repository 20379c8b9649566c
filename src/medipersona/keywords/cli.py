"""``medipersona import-keywords PATH``: import a CSV, a zip or a folder tree of keyword exports.

Departments and complaints the catalog lacks are added to it (新規追加, listed as ``added``), never rejected.
Exit codes: 0 every file imported; 1 some files rejected (the others imported; each rejection printed with file,
line and reason); 2 usage error or unreadable path.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time


def register(sub) -> None:
    p = sub.add_parser(
        "import-keywords",
        help="import keyword exports (CSV, zip, or folder tree {診療科}/主訴/{主訴}_全体.csv)",
        description="キーワードデータ（CSV・ZIP・フォルダ）を取り込みます。同じ診療科・主訴のデータは置き換えられます。",
    )
    p.add_argument("path", help="a .csv file, a .zip file or a folder")
    p.add_argument("--quiet", "-q", action="store_true", help="print only rejections and the summary")
    p.add_argument("--check", action="store_true",
                   help="dry run: read, match and validate every file, write nothing (same exit codes)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from medipersona.db import Database
    from medipersona.keywords.importer import FileResult, import_path
    from medipersona.keywords.sources import ImportPathError
    from medipersona.settings import get_settings

    def show(result: FileResult) -> None:
        if result.status == "rejected":
            print(result.describe(), file=sys.stderr, flush=True)
        elif not args.quiet:
            print(result.describe(), flush=True)

    async def main() -> int:
        db = Database(get_settings())
        started = time.perf_counter()
        try:
            report = await import_path(db, args.path, on_result=show, dry_run=args.check)
        except ImportPathError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        finally:
            await db.dispose()
        elapsed = time.perf_counter() - started
        verb = "valid (dry run, nothing written)" if args.check else "imported"
        added = report.added
        if added and args.quiet:
            for entry in added:
                what = "診療科" if entry["kind"] == "department" else "主訴"
                where = "" if entry["kind"] == "department" else f"（{entry['department']}）"
                print(f"added     {what}「{entry['name']}」{where}", flush=True)
        verb_added = "to add to the catalog (新規追加)" if args.check else "added to the catalog (新規追加)"
        print(f"{len(report.imported)} files {verb} ({report.row_count} rows, {elapsed:.1f} s), "
              f"{len(report.rejected)} rejected, {len(added)} {verb_added}", flush=True)
        return 0 if report.ok else 1

    return asyncio.run(main())
