"""Import of keyword exports: a single CSV, a folder tree, or a zip of such a tree.

Layout of a tree (the real export): ``{診療科}/{診療科}_全体.csv`` (department level) and
``{診療科}/主訴/{主訴}_全体.csv`` (one per chief complaint). Each file becomes one dataset, matched to the catalog by
name (``normalize_name``); names that match nothing are reported, never guessed.

Here: the pipeline (read, parse, write in batches) and its report. Matching a file to the catalog is
``keywords.matching``, where files come from ``keywords.sources``, parsing one file ``keywords.parsing`` (pure CPU
work: a worker thread, or worker processes for a big import), writing ``keywords.writing`` (a batch per
transaction that also deletes the datasets it replaces, so readers see the old or the new dataset, never half). A
broken file is rejected whole, with its file name, line and reason; the rest imports.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import anyio
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from medipersona.catalog.service import Catalog, ChiefComplaint, Department
from medipersona.db import Database
from medipersona.keywords.matching import new_entries, parse_source, resolve_target
from medipersona.keywords.models import scope_key
from medipersona.keywords.parsing import RejectFile, parse_blobs
from medipersona.keywords.sources import ImportPathError, Source, sources_from_path, sources_from_upload
from medipersona.keywords.writing import ParsedFile, write_datasets

log = logging.getLogger("medipersona.keywords")

PARSE_CHUNK = 16  # files parsed per worker-thread call
BATCH_FILES = 50  # files written per transaction
BATCH_ROWS = 20_000


@dataclass
class FileResult:
    file: str
    status: str  # imported | rejected
    department: str | None = None
    chief_complaint: str | None = None
    department_id: str | None = None
    chief_complaint_id: str | None = None
    dataset_id: int | None = None
    row_count: int = 0
    replaced: bool = False
    line: int | None = None
    reason: str | None = None
    # Catalog entries this file added (新規追加): NewEntry.as_dict() of each; in a dry run, what it would add.
    added: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for the CLI and logs: file, line and reason for a rejection."""
        if self.status in ("imported", "checked"):
            target = self.department or ""
            if self.chief_complaint:
                target += f" / {self.chief_complaint}"
            line = f"{self.status:<8}  {self.file}: {target} ({self.row_count}行)"
            for entry in self.added:
                what = "診療科" if entry["kind"] == "department" else "主訴"
                line += f"\nadded     {what}「{entry['name']}」" + (
                    f"（{entry['department']}）" if entry["kind"] != "department" else "")
            return line
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"rejected  {where}: {self.reason}"


@dataclass
class ImportReport:
    results: list[FileResult] = field(default_factory=list)

    @property
    def imported(self) -> list[FileResult]:
        """Imported files (or, in a dry run, files that would import)."""
        return [r for r in self.results if r.status in ("imported", "checked")]

    @property
    def rejected(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "rejected"]

    @property
    def added(self) -> list[dict[str, str]]:
        """新規追加: the departments and complaints this import added to the catalog (each once)."""
        return [entry for r in self.results for entry in r.added]

    @property
    def ok(self) -> bool:
        return bool(self.results) and not self.rejected

    @property
    def row_count(self) -> int:
        return sum(r.row_count for r in self.imported)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "imported": len(self.imported),
            "rejected": len(self.rejected),
            "added": len(self.added),
            "added_entries": self.added,
            "row_count": self.row_count,
            "files": [r.as_dict() for r in self.results],
        }


# --------------------------------------------------------------------------------------------------------------
# Parsing a chunk of files in a worker thread (each one: matching.parse_source)


def _parse_many(sources: list[Source], catalog: Catalog) -> list[ParsedFile | RejectFile]:
    out: list[ParsedFile | RejectFile] = []
    for source in sources:
        try:
            out.append(parse_source(source, catalog))
        except RejectFile as exc:
            # A fresh exception: the caught one's traceback would keep the file's bytes and rows alive.
            out.append(RejectFile(exc.reason, exc.line))
    return out


# --------------------------------------------------------------------------------------------------------------
# Big imports: parsing in worker processes (the CSV parsing is pure Python CPU work; threads share one core)

PROCESS_PARSE_MIN_FILES = 64  # fewer files: parse in a thread (a process pool costs ~1 s to start)
PARSE_PROCESSES = max(1, min(4, os.cpu_count() or 1))


def _read_many(sources: list[Source], catalog: Catalog) -> list[tuple[Department, ChiefComplaint | None, bytes]
                                                                 | RejectFile]:
    """In a thread: match each file to the catalog and read its bytes (the parsing happens elsewhere)."""
    out: list = []
    for source in sources:
        try:
            department, complaint = resolve_target(source, catalog)
            out.append((department, complaint, source.read()))
        except RejectFile as exc:
            out.append(exc)
    return out


def _start_parse_pool() -> ProcessPoolExecutor:
    # spawn: never fork a process that runs an event loop and threads.
    return ProcessPoolExecutor(max_workers=PARSE_PROCESSES, mp_context=multiprocessing.get_context("spawn"))


async def _parse_in_process(pool: ProcessPoolExecutor, sources: list[Source],
                            catalog: Catalog) -> list[ParsedFile | RejectFile]:
    read = await anyio.to_thread.run_sync(_read_many, sources, catalog)
    blobs = [item[2] for item in read if not isinstance(item, RejectFile)]
    parsed = iter(await asyncio.get_running_loop().run_in_executor(pool, parse_blobs, blobs))
    out: list[ParsedFile | RejectFile] = []
    for source, item in zip(sources, read):
        if isinstance(item, RejectFile):
            out.append(item)
            continue
        count, pack = next(parsed)
        if isinstance(count, str):
            out.append(RejectFile(count, pack if isinstance(pack, int) else None))
            continue
        assert isinstance(pack, bytes)
        department, complaint, _data = item
        out.append(ParsedFile(source.name, department, complaint, pack, count,
                              new_entries(department, complaint, catalog)))
    return out


async def import_sources(
    db: Database,
    sources: Iterable[Source],
    *,
    is_sample: bool = False,
    label_prefix: str = "",
    on_result: Callable[[FileResult], None] | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import every source; a broken file is rejected (with line and reason) and the rest still imports.
    ``dry_run``: parse and match only, nothing is written (results have status ``checked``).

    Files are parsed in a worker thread a chunk at a time and written in batches (one transaction per batch of
    up to BATCH_FILES files / BATCH_ROWS rows; every dataset swap is atomic for readers either way)."""
    from medipersona.catalog.editing import ensure_entries
    from medipersona.catalog.service import load_catalog

    catalog = await load_catalog(db, force=True)
    report = ImportReport()
    seen: dict[str, str] = {}
    announced: set[str] = set()  # ids of new entries already reported (dry run: would be added)

    def claim(entries: list) -> list[dict[str, str]]:
        out = []
        for entry in entries:
            if entry.id not in announced:
                announced.add(entry.id)
                out.append(entry.as_dict())
        return out

    sources = list(sources)
    pending: list[tuple[Source, ParsedFile]] = []
    pending_rows = 0

    def emit(result: FileResult) -> None:
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    async def flush() -> None:
        nonlocal pending, pending_rows
        if not pending:
            return
        batch, pending, pending_rows = pending, [], 0
        if dry_run:
            for source, parsed in batch:
                emit(FileResult(
                    file=source.name, status="checked", department=parsed.department.name,
                    chief_complaint=parsed.chief_complaint.name if parsed.chief_complaint else None,
                    department_id=parsed.department.id,
                    chief_complaint_id=parsed.chief_complaint.id if parsed.chief_complaint else None,
                    row_count=parsed.row_count, added=claim(list(parsed.new)),
                ))
            return
        files = [replace(p, name=label_prefix + s.name) for s, p in batch]
        try:
            # New departments/complaints first (their own transaction; stable ids: a retry adds nothing twice).
            added_ids = {e.id for e in await ensure_entries(db, [e for _s, p in batch for e in p.new])}
            try:
                written = await write_datasets(db, files, is_sample=is_sample) or []
            except (IntegrityError, OperationalError):
                # A concurrent import of the same dataset (unique scope) or a busy database: once more.
                await anyio.sleep(0.5)
                written = await write_datasets(db, files, is_sample=is_sample) or []
        except (SQLAlchemyError, OverflowError, ValueError) as exc:
            log.exception("keyword import: database write failed")
            for source, _parsed in batch:
                emit(FileResult(file=source.name, status="rejected",
                                reason=f"データベースへの書き込みに失敗しました（{exc.__class__.__name__}）。"))
            return
        for (source, parsed), (dataset_id, replaced) in zip(batch, written):
            emit(FileResult(
                file=source.name, status="imported", department=parsed.department.name,
                chief_complaint=parsed.chief_complaint.name if parsed.chief_complaint else None,
                department_id=parsed.department.id,
                chief_complaint_id=parsed.chief_complaint.id if parsed.chief_complaint else None,
                dataset_id=dataset_id, row_count=parsed.row_count, replaced=replaced,
                added=claim([e for e in parsed.new if e.id in added_ids]),
            ))

    async def _accept_chunk(chunk: list[Source], parsed_chunk: list[ParsedFile | RejectFile]) -> None:
        nonlocal pending_rows
        for source, parsed in zip(chunk, parsed_chunk):
            if isinstance(parsed, ParsedFile):
                key = scope_key(parsed.department.id, parsed.chief_complaint.id if parsed.chief_complaint else None)
                if key in seen:
                    parsed = RejectFile(f"同じ診療科・主訴のファイルがこの取り込みに既にあります（{seen[key]}）。")
                else:
                    seen[key] = source.name
            if isinstance(parsed, RejectFile):
                await flush()  # keep results in file order
                emit(FileResult(file=source.name, status="rejected", line=parsed.line, reason=parsed.reason))
                continue
            pending.append((source, parsed))
            pending_rows += parsed.row_count
            if len(pending) >= BATCH_FILES or pending_rows >= BATCH_ROWS:
                await flush()

    chunks = [sources[i:i + PARSE_CHUNK] for i in range(0, len(sources), PARSE_CHUNK)]
    pool = _start_parse_pool() if len(sources) >= PROCESS_PARSE_MIN_FILES and PARSE_PROCESSES > 1 else None
    depth = PARSE_PROCESSES + 1 if pool is not None else 1

    def parse_next(index: int) -> asyncio.Future | None:
        if index >= len(chunks):
            return None
        if pool is not None:
            return asyncio.ensure_future(_parse_in_process(pool, chunks[index], catalog))
        return asyncio.ensure_future(anyio.to_thread.run_sync(_parse_many, chunks[index], catalog))

    # Pipeline: the next chunks are parsed (in a thread, or in worker processes for a big import) while this
    # one is written; results are taken in file order.
    upcoming = [f for f in (parse_next(i) for i in range(depth)) if f is not None]
    try:
        for index, chunk in enumerate(chunks):
            parsed_chunk = await upcoming.pop(0)
            following = parse_next(index + depth)
            if following is not None:
                upcoming.append(following)
            await _accept_chunk(chunk, parsed_chunk)
    finally:
        for future in upcoming:
            if not future.done():
                future.cancel()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
    await flush()
    if report.imported:
        log.info("keyword import: %d files imported (%d rows), %d rejected",
                 len(report.imported), report.row_count, len(report.rejected))
    for r in report.rejected:
        log.warning("keyword import %s", r.describe())
    return report


async def import_path(db: Database, path: Path | str, *, is_sample: bool = False,
                      on_result: Callable[[FileResult], None] | None = None, dry_run: bool = False) -> ImportReport:
    """CLI entry: a CSV, a zip or a folder tree. Raises ImportPathError for a missing/unreadable path."""
    target = Path(path)
    try:
        sources = await anyio.to_thread.run_sync(sources_from_path, target)
    except RejectFile as exc:  # a broken zip
        report = ImportReport([FileResult(file=target.name, status="rejected", line=exc.line, reason=exc.reason)])
        if on_result:
            on_result(report.results[0])
        return report
    if not sources:
        raise ImportPathError(f"取り込めるCSVファイルがありません: {target}")
    return await import_sources(db, sources, is_sample=is_sample, on_result=on_result, dry_run=dry_run)


async def import_upload(db: Database, filename: str, fileobj: IO[bytes], *, dry_run: bool = False) -> ImportReport:
    try:
        sources = await anyio.to_thread.run_sync(sources_from_upload, filename, fileobj)
    except RejectFile as exc:
        return ImportReport([FileResult(file=Path(filename or "upload").name, status="rejected", line=exc.line,
                                        reason=exc.reason)])
    if not sources:
        return ImportReport([FileResult(file=Path(filename).name, status="rejected",
                                        reason="ZIPの中に取り込めるCSVファイルがありません。")])
    return await import_sources(db, sources, dry_run=dry_run)
