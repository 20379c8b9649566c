"""Import of keyword exports: a single CSV, a folder tree, or a zip of such a tree.

Layout of a tree (the real export): ``{診療科}/{診療科}_全体.csv`` (department level) and
``{診療科}/主訴/{主訴}_全体.csv`` (one per chief complaint). Each file becomes one dataset, matched to the catalog by
name (``normalize_name``); names that match nothing are reported, never guessed.

Parsing is pure CPU work (``parse_source``) and runs in a worker thread; every file is written in its own
transaction that also deletes the dataset it replaces (``write_dataset``), so readers see the old or the new
dataset, never half. A broken file is rejected whole, with its file name, line and reason; the rest imports.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import math
import multiprocessing
import os
import random
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from operator import itemgetter
from pathlib import Path, PurePosixPath
from typing import IO, Any

import anyio
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from medipersona.catalog.service import Catalog, ChiefComplaint, Department, get_catalog, normalize_name
from medipersona.db import Database, table_of, utcnow
from medipersona.keywords.categories import categorize
from medipersona.keywords.models import AGE_COLUMNS, KeywordDataset, KeywordRow, KeywordState, scope_key
from medipersona.uploads.limits import ZIP_READ_ERRORS, ByteBudget, UploadLimitExceeded, read_zip_member

log = logging.getLogger("medipersona.keywords")

MAX_FILES_PER_IMPORT = 5000
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_ROWS_PER_FILE = 200_000
HEADER_SEARCH_ROWS = 5
MAX_COUNT = 2_000_000_000  # fits a 32-bit INTEGER column (PostgreSQL)
PARSE_CHUNK = 16  # files parsed per worker-thread call
BATCH_FILES = 50  # files written per transaction
BATCH_ROWS = 20_000
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
COMPLAINT_DIR_NAMES = {"主訴", "chief_complaints", "chief_complaint", "complaints"}

# Column order of a parsed row (and of the cache in store.py).
ROW_FIELDS: tuple[str, ...] = (
    "rank", "keyword", "volume", "overlap", "lift", "days", "male", "female", *AGE_COLUMNS, "category",
)
INSERT_FIELDS: tuple[str, ...] = ("dataset_id", *ROW_FIELDS)

# How a column is named in the real export (for messages).
FIELD_LABELS: dict[str, str] = {
    "rank": "順位",
    "keyword": "出力キーワード",
    "volume": "検索ボリューム(人)",
    "overlap": "重複ボリューム(人)",
    "lift": "特徴度",
    "days": "検索時間差(日)",
    "male": "男性割合(%)",
    "female": "女性割合(%)",
    "age_10s": "10代（13歳〜）割合(%)",
    "age_20s": "20代割合(%)",
    "age_30s": "30代割合(%)",
    "age_40s": "40代割合(%)",
    "age_50s": "50代割合(%)",
    "age_60s": "60代割合(%)",
    "age_70plus": "70代以上割合(%)",
}
REQUIRED_FIELDS: tuple[str, ...] = ("keyword", "volume", "overlap", "days", "male", "female", *AGE_COLUMNS)
_DECADE_TO_FIELD = {10: "age_10s", 20: "age_20s", 30: "age_30s", 40: "age_40s", 50: "age_50s", 60: "age_60s",
                    70: "age_70plus"}


class RejectFile(Exception):
    """A file that cannot be imported: nothing of it is written."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class ImportPathError(Exception):
    """The path given to the importer does not exist or cannot be read (CLI exit code 2)."""


@dataclass
class Source:
    """One file to import. ``parts``: folder names around it (the tree, the zip name), for catalog matching."""

    name: str
    parts: tuple[str, ...]
    stem: str
    read: Callable[[], bytes]
    size: int = 0


@dataclass
class ParsedFile:
    name: str
    department: Department
    chief_complaint: ChiefComplaint | None
    rows: list[tuple]
    new: tuple = ()  # catalog.editing.NewEntry: the department/complaint this file adds to the catalog


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
# Sources: a file, a folder tree, a zip


def _is_hidden(part: str) -> bool:
    return part.startswith((".", "__MACOSX", "~$")) or part.lower().startswith("readme")


def _zip_member_name(info: zipfile.ZipInfo) -> str:
    """Zips made by Japanese Windows store cp932 names without the UTF-8 flag; Python reads them as cp437."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "cp932"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def sources_from_zip(data: bytes | io.IOBase | IO[bytes] | Path, zip_name: str) -> list[Source]:
    """The CSV members of a zip. Raises RejectFile for a broken zip or one too large once unpacked."""
    try:
        archive = zipfile.ZipFile(data if not isinstance(data, bytes) else io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise RejectFile(f"ZIPファイルを開けません（{exc.__class__.__name__}）。") from None
    members = [i for i in archive.infolist() if not i.is_dir()]
    total = sum(i.file_size for i in members)
    if len(members) > MAX_FILES_PER_IMPORT:
        raise RejectFile(f"ZIP内のファイルが多すぎます（{len(members)}件、上限{MAX_FILES_PER_IMPORT}件）。")
    if total > MAX_UNCOMPRESSED_BYTES:
        raise RejectFile(f"ZIPの展開後のサイズが大きすぎます（上限{MAX_UNCOMPRESSED_BYTES // (1024 * 1024)}MB）。")
    zip_stem = Path(zip_name).stem
    budget = ByteBudget(MAX_UNCOMPRESSED_BYTES,
                        f"ZIPの展開後のサイズが大きすぎます（上限{MAX_UNCOMPRESSED_BYTES // (1024 * 1024)}MB）。")
    sources: list[Source] = []
    for info in members:
        name = _zip_member_name(info)
        path = PurePosixPath(name.replace("\\", "/"))
        if any(_is_hidden(p) for p in path.parts) or path.suffix.lower() not in CSV_SUFFIXES:
            continue

        def read(info=info) -> bytes:
            # Counted while it decompresses: stops at the real limit whatever the header declares.
            try:
                return read_zip_member(archive, info, MAX_FILE_BYTES,
                                       f"ファイルが大きすぎます（上限{MAX_FILE_BYTES // (1024 * 1024)}MB）。", budget)
            except UploadLimitExceeded as exc:
                raise RejectFile(exc.message) from None
            except ZIP_READ_ERRORS as exc:
                raise RejectFile(f"ZIPから読み出せません（{exc.__class__.__name__}）。") from None

        sources.append(Source(name=f"{zip_name}/{path}", parts=(zip_stem, *path.parent.parts), stem=path.stem,
                              read=read, size=info.file_size))
    sources.sort(key=lambda s: s.name)
    return sources


def _file_source(path: Path, display: str, parts: tuple[str, ...]) -> Source:
    def read() -> bytes:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RejectFile(f"ファイルが大きすぎます（上限{MAX_FILE_BYTES // (1024 * 1024)}MB）。")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise RejectFile(f"ファイルを読み込めません（{exc.strerror or exc.__class__.__name__}）。") from None

    return Source(name=display, parts=parts, stem=path.stem, read=read)


def sources_from_path(path: Path) -> list[Source]:
    """A CSV file, a zip, or a folder tree. Raises ImportPathError when the path cannot be read."""
    path = Path(path)
    if not path.exists():
        raise ImportPathError(f"パスが見つかりません: {path}")
    if path.is_file():
        if path.suffix.lower() == ".zip" or (path.suffix.lower() not in CSV_SUFFIXES and zipfile.is_zipfile(path)):
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError as exc:
                raise ImportPathError(f"ファイルを読み込めません: {path} ({exc.strerror})") from None
            return sources_from_zip(data, path.name)
        if not _readable(path):
            raise ImportPathError(f"ファイルを読み込めません: {path}")
        parents = path.resolve().parent
        return [_file_source(path, path.name, (parents.parent.name, parents.name))]
    if path.is_dir():
        root = path.resolve()
        files = sorted(
            p for p in root.rglob("*")
            if p.is_file() and p.suffix.lower() in CSV_SUFFIXES
            and not any(_is_hidden(part) for part in p.relative_to(root).parts)
        )
        if len(files) > MAX_FILES_PER_IMPORT:
            raise ImportPathError(f"ファイルが多すぎます（{len(files)}件、上限{MAX_FILES_PER_IMPORT}件）。")
        return [
            _file_source(p, str(p.relative_to(root)), (root.name, *p.relative_to(root).parent.parts)) for p in files
        ]
    raise ImportPathError(f"通常のファイルまたはフォルダではありません: {path}")


def _readable(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------------------
# Matching a file to the catalog

_STEM_SUFFIXES = re.compile(r"(?:[_\-\s]*(?:全体|all|全て|すべて))?(?:\s*\(\d+\)|\s*-\s*コピー|_\d{8})*$",
                            re.IGNORECASE)


def clean_stem(stem: str) -> str:
    """``内科_全体`` → ``内科``; also drops ``(1)`` / ``- コピー`` that copying files adds."""
    text = unicodedata.normalize("NFKC", stem).strip()
    previous = None
    while previous != text:
        previous = text
        text = _STEM_SUFFIXES.sub("", text).strip(" _-")
    return text


def _new_department(name: str) -> Department:
    from medipersona.catalog.editing import infer_section, new_department_id

    return Department(id=new_department_id(name), name=name, section=infer_section(name), chief_complaints=())


def _complaint_in(department: Department, name: str, catalog: Catalog) -> ChiefComplaint:
    """The department's complaint of that name, or a new one (its id derived from the name: stable)."""
    from medipersona.catalog.editing import new_complaint_id

    found = catalog.chief_complaint_by_name(department.id, name)
    if found is not None:
        return found
    return ChiefComplaint(id=new_complaint_id(department.id, name), name=name, department_id=department.id,
                          kind="procedure")


def _department_named(name: str, catalog: Catalog) -> Department:
    return catalog.department_by_name(name) or _new_department(name)


def resolve_target(source: Source, catalog: Catalog) -> tuple[Department, ChiefComplaint | None]:
    """The department (and complaint) a file describes, from its folder names and file name.

    A name the catalog lacks is not an error when the layout says what it is: ``{診療科}/主訴/{主訴}.csv`` or
    ``{診療科}/{主訴}.csv`` (a known department folder) name a complaint of that department, ``{診療科}/{診療科}.csv``
    a department; such entries come back with the stable id they get when added (``new_entries``)."""
    stem = clean_stem(source.stem)
    if not stem:
        raise RejectFile("ファイル名から診療科・主訴を判別できません。")
    dirs = [clean_stem(p) for p in source.parts if p]
    keys = [normalize_name(p) for p in dirs]
    complaint_dir = max((i for i, k in enumerate(keys) if k in COMPLAINT_DIR_NAMES), default=None)
    if complaint_dir and dirs[complaint_dir - 1]:
        # {診療科}/主訴/{主訴}.csv: the folder above 主訴 is the department, known or new.
        department = _department_named(dirs[complaint_dir - 1], catalog)
        return department, _complaint_in(department, stem, catalog)
    folder_department: Department | None = None
    for part in reversed(dirs):
        found = catalog.department_by_name(part)
        if found is not None:
            folder_department = found
            break
    named_department = catalog.department_by_name(stem)
    if named_department is not None and folder_department in (None, named_department):
        return named_department, None
    if dirs and normalize_name(dirs[-1]) == normalize_name(stem):
        # {診療科}/{診療科}_全体.csv: a department-level file, known or new.
        return _department_named(stem, catalog), None
    # 内科_風邪 / 内科-風邪 / 内科 風邪
    for sep in ("_", "-", " ", "／", "・"):
        if sep in stem:
            head, tail = stem.split(sep, 1)
            dep = catalog.department_by_name(head)
            if dep is not None and (folder_department in (None, dep)) and clean_stem(tail):
                return dep, _complaint_in(dep, clean_stem(tail), catalog)
    if folder_department is not None:
        return folder_department, _complaint_in(folder_department, stem, catalog)
    key = normalize_name(stem)
    matches = [c for d in catalog.departments for c in d.chief_complaints if normalize_name(c.name) == key]
    if len(matches) == 1:
        found = catalog.department(matches[0].department_id)
        assert found is not None  # a complaint's department is in the catalog
        return found, matches[0]
    if len(matches) > 1:
        names = "、".join(d.name if (d := catalog.department(c.department_id)) else c.department_id for c in matches)
        raise RejectFile(
            f"主訴「{stem}」は複数の診療科（{names}）にあります。フォルダ名（例: 内科/主訴/{stem}.csv）か"
            f"ファイル名（例: 内科_{stem}.csv）で診療科を指定してください。"
        )
    raise RejectFile(
        f"「{stem}」の診療科を判別できません。診療科のフォルダに入れてください（例: 眼科/主訴/{stem}_全体.csv、"
        f"新しい診療科は 診療科名/診療科名_全体.csv）。"
    )


def new_entries(department: Department, complaint: ChiefComplaint | None, catalog: Catalog) -> tuple:
    """What the catalog lacks for this target (``catalog.editing.NewEntry``: added when the file is written)."""
    from medipersona.catalog.editing import NewEntry

    out = []
    if catalog.department(department.id) is None:
        out.append(NewEntry("department", department.id, department.name, department.id, department.name,
                            department.section))
    if complaint is not None and catalog.chief_complaint(complaint.id) is None:
        out.append(NewEntry("chief_complaint", complaint.id, complaint.name, department.id, department.name,
                            department.section))
    return tuple(out)


# --------------------------------------------------------------------------------------------------------------
# Parsing


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, or cp932 (Excel in Japan)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        return data.decode("cp932")
    except UnicodeDecodeError:
        line = data.count(b"\n", 0, utf8_error.start) + 1
        raise RejectFile("文字コードを判別できません（UTF-8 または Shift_JIS(cp932) で保存してください）。",
                         line) from None


def _header_key(cell: str) -> str:
    text = unicodedata.normalize("NFKC", cell).strip().lower()
    return re.sub(r"[\s\u3000]", "", text)


def header_field(cell: str) -> str | None:
    """The meaning of one header cell (None: a column we do not use)."""
    h = _header_key(cell)
    if not h:
        return None
    m = re.match(r"^(\d+)(?:代|歳代|歳|s|'s)", h)
    if m:
        return _DECADE_TO_FIELD.get(int(m.group(1)))
    if "重複" in h or "overlap" in h or "共起" in h:
        return "overlap"
    if "時間差" in h or "日差" in h or h.startswith(("日数", "days")) or "経過日" in h:
        return "days"
    if "特徴" in h or "lift" in h or "リフト" in h:
        return "lift"
    if "female" in h or "女" in h:
        return "female"
    if "male" in h or "男" in h:
        return "male"
    if "ボリューム" in h or "検索数" in h or "検索人数" in h or "volume" in h or "ボリューム" in h:
        return "volume"
    if "キーワード" in h or "keyword" in h or h in {"ワード", "検索語", "検索ワード", "クエリ", "query", "語句"}:
        return "keyword"
    if h in {"順位", "rank", "ランク", "no", "no.", "#", "番号", "順番"}:
        return "rank"
    return None


def map_header(header: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = header_field(cell)
        if name is None:
            continue
        if name in mapping:
            raise RejectFile(f"列「{FIELD_LABELS[name]}」に当たる列が2つあります（{header[mapping[name]]} と {cell}）。", 1)
        mapping[name] = index
    missing = [FIELD_LABELS[f] for f in REQUIRED_FIELDS if f not in mapping]
    if missing:
        raise RejectFile("必須の列がありません: " + "、".join(missing) + "。1行目がヘッダー行か確認してください。", 1)
    return mapping


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        text = unicodedata.normalize("NFKC", value).strip().replace(",", "").replace("%", "").replace("人", "")
        if text in {"", "-", "—"}:
            raise ValueError("empty") from None
        return float(text)


def _diagnose(row: list[str], mapping: dict[str, int], width: int, line: int) -> RejectFile:
    """A precise reason for a row the fast path could not read."""
    for index in mapping.values():
        if index >= len(row):
            return RejectFile(f"列が足りません（{len(row)}列。ヘッダーは{width}列）。", line)
    keyword = row[mapping["keyword"]].strip()
    if not keyword:
        return RejectFile("キーワードが空です。", line)
    if len(keyword) > 300:
        return RejectFile("キーワードが長すぎます（300文字まで）。", line)
    for name, index in mapping.items():
        if name == "keyword":
            continue
        raw = row[index]
        try:
            value = _number(raw)
        except ValueError:
            shown = raw if len(raw) <= 30 else raw[:30] + "…"
            return RejectFile(f"「{FIELD_LABELS[name]}」が数値ではありません: 「{shown}」", line)
        if not math.isfinite(value):
            return RejectFile(f"「{FIELD_LABELS[name]}」が数値ではありません: 「{raw}」", line)
        if name in ("volume", "overlap") and value < 0:
            return RejectFile(f"「{FIELD_LABELS[name]}」が負の値です: {raw}", line)
        if name in ("volume", "overlap", "rank") and abs(value) > MAX_COUNT:
            return RejectFile(f"「{FIELD_LABELS[name]}」が大きすぎます: {raw}", line)
        if (name in ("male", "female") or name.startswith("age_")) and not 0 <= value <= 100:
            return RejectFile(f"「{FIELD_LABELS[name]}」が0〜100の範囲外です: {raw}", line)
        if name == "days" and not -3660 <= value <= 3660:
            return RejectFile(f"「{FIELD_LABELS[name]}」が範囲外です: {raw}", line)
    return RejectFile("行を読み取れません。", line)


SHARED_FLOATS_FROM_CHARS = 2_000_000  # files this big (~20,000 rows) share equal floats; real exports are ~1,000 rows


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings, one at a time: csv reads them without the copy (about 4 bytes per
    character) that ``io.StringIO(text)`` makes of a whole file."""
    start, end = 0, len(text)
    find = text.find
    newline = "\r" if "\n" not in text and "\r" in text else "\n"  # old Mac files end lines with CR only
    while start < end:
        stop = find(newline, start)
        if stop < 0:
            yield text[start:]
            return
        yield text[start:stop + 1]
        start = stop + 1


def parse_text(text: str) -> list[tuple]:
    """Rows of one export as tuples in ROW_FIELDS order. Raises RejectFile (with the line) on any problem."""
    head = text[:4096]
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    reader = csv.reader(_lines(text), delimiter=delimiter)
    # The header is the first non-blank row; a few title/comment lines above it are skipped.
    header = None
    mapping: dict[str, int] | None = None
    first_problem: RejectFile | None = None
    try:
        for _ in range(HEADER_SEARCH_ROWS):
            header = next(reader, None)
            if header is None:
                break
            if not any(c.strip() for c in header):
                continue
            try:
                mapping = map_header(header)
                break
            except RejectFile as exc:
                exc.line = reader.line_num
                first_problem = first_problem or exc
                if sum(header_field(c) is not None for c in header) >= 3:
                    raise exc from None  # it is the header, with a problem
    except csv.Error as exc:
        raise RejectFile(f"CSVの形式が正しくありません（{exc}）。", reader.line_num) from None
    if mapping is None:
        if first_problem is not None:
            raise first_problem
        raise RejectFile("ファイルが空です。", 1)
    assert header is not None  # the mapping was read from it
    width = len(header)
    ik = mapping["keyword"]
    # volume, overlap, days, male, female, 7 age bands: read together at C speed.
    getter = itemgetter(mapping["volume"], mapping["overlap"], mapping["days"], mapping["male"], mapping["female"],
                        *[mapping[c] for c in AGE_COLUMNS])
    irank = mapping.get("rank")
    ilift = mapping.get("lift")
    rows: list[tuple] = []
    append = rows.append
    number = _number
    cat = categorize
    isfinite = math.isfinite
    floats: dict[float, float] = {}
    same = floats.setdefault if len(text) > SHARED_FLOATS_FROM_CHARS else None
    order = 0
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            order += 1
            try:
                keyword = row[ik].strip()
                raw = getter(row)
                try:
                    nums = list(map(float, raw))
                except ValueError:
                    nums = [number(v) for v in raw]
                rank = order
                if irank is not None:
                    try:
                        rank = int(row[irank])
                    except ValueError:
                        if row[irank].strip():
                            rank = int(number(row[irank]))
                lift = 0.0
                if ilift is not None:
                    try:
                        lift = float(row[ilift])
                    except ValueError:
                        if row[ilift].strip():
                            lift = number(row[ilift])
            except (IndexError, ValueError):
                if not any(c.strip() for c in row):
                    order -= 1
                    continue
                raise _diagnose(row, mapping, width, reader.line_num) from None
            total = sum(nums) + lift
            shares = nums[3:]
            if (
                not keyword or len(keyword) > 300 or not isfinite(total)
                or not 0 <= nums[0] <= MAX_COUNT or not 0 <= nums[1] <= MAX_COUNT or not -3660 <= nums[2] <= 3660
                or min(shares) < 0 or max(shares) > 100 or not -MAX_COUNT <= rank <= MAX_COUNT
            ):
                if not any(c.strip() for c in row):  # Excel's trailing ",,,,," rows
                    order -= 1
                    continue
                raise _diagnose(row, mapping, width, reader.line_num)
            if same is None:
                append((rank, keyword, int(nums[0]), int(nums[1]), lift, *nums[2:], cat(keyword)))
            else:  # a big file: shares repeat (50.0, 12.5 ...), one float object per value (~20 MB less per 80k rows)
                append((rank, keyword, int(nums[0]), int(nums[1]), same(lift, lift), *map(same, nums[2:], nums[2:]),
                        cat(keyword)))
            if order > MAX_ROWS_PER_FILE:
                raise RejectFile(f"行数が多すぎます（上限{MAX_ROWS_PER_FILE}行）。", reader.line_num)
    except csv.Error as exc:
        raise RejectFile(f"CSVの形式が正しくありません（{exc}）。", reader.line_num) from None
    if not rows:
        raise RejectFile("データ行がありません（ヘッダーのみ）。", 2)
    return rows


def parse_source(source: Source, catalog: Catalog | None = None) -> ParsedFile:
    """Match, read, decode and parse one file (CPU work: call it in a worker thread)."""
    catalog = catalog or get_catalog()
    department, complaint = resolve_target(source, catalog)
    rows = parse_text(decode(source.read()))
    return ParsedFile(source.name, department, complaint, rows, new_entries(department, complaint, catalog))


# --------------------------------------------------------------------------------------------------------------
# Writing


_SQLITE_INSERT = (
    f"INSERT INTO keyword_rows ({', '.join(INSERT_FIELDS)}) VALUES ({', '.join('?' for _ in INSERT_FIELDS)})"
)


async def bump_keyword_version(conn) -> None:
    state = table_of(KeywordState)
    await conn.execute(
        update(state).where(state.c.id == 1)
        .values(version=state.c.version + 1, token=f"{random.getrandbits(64):016x}")
    )


async def _replace_many(conn, items: list[tuple[ParsedFile, str]], *, is_sample: bool) -> list[tuple[int, bool]]:
    """Replace the datasets of ``items`` (parsed file, source label) inside the caller's transaction, with a
    fixed number of statements whatever the number of files. Returns (dataset id, replaced) per item."""
    if not items:
        return []
    ds = table_of(KeywordDataset)
    rows_table = table_of(KeywordRow)
    keys = [scope_key(p.department.id, p.chief_complaint.id if p.chief_complaint else None) for p, _ in items]
    old = {
        row.scope: (row.id, row.generation)
        for row in await conn.execute(select(ds.c.scope, ds.c.id, ds.c.generation).where(ds.c.scope.in_(keys)))
    }
    if old:
        old_ids = [v[0] for v in old.values()]
        await conn.execute(delete(rows_table).where(rows_table.c.dataset_id.in_(old_ids)))
        await conn.execute(delete(ds).where(ds.c.id.in_(old_ids)))
    now = utcnow()
    params = [
        {
            "scope": key,
            "department_id": p.department.id,
            "chief_complaint_id": p.chief_complaint.id if p.chief_complaint else None,
            "row_count": len(p.rows),
            "source_file": label[:500],
            "imported_at": now,
            "is_sample": is_sample,
            "generation": old.get(key, (0, 0))[1] + 1,
        }
        for key, (p, label) in zip(keys, items)
    ]
    result = await conn.execute(insert(ds).returning(ds.c.id, sort_by_parameter_order=True), params)
    ids = [row[0] for row in result]
    if conn.dialect.name == "sqlite":
        # The driver's executemany on plain tuples: several times faster than dict parameters.
        await conn.exec_driver_sql(_SQLITE_INSERT, [(i, *r) for i, (p, _) in zip(ids, items) for r in p.rows])
    elif conn.dialect.driver == "asyncpg":
        # PostgreSQL: binary COPY on the same connection, inside the same transaction.
        raw = await conn.get_raw_connection()
        await raw.driver_connection.copy_records_to_table(
            "keyword_rows", columns=list(INSERT_FIELDS),
            records=[(i, *r) for i, (p, _) in zip(ids, items) for r in p.rows],
        )
    else:
        fields = INSERT_FIELDS
        await conn.execute(insert(rows_table), [dict(zip(fields, (i, *r))) for i, (p, _) in zip(ids, items)
                                                for r in p.rows])
    return [(i, key in old) for i, key in zip(ids, keys)]


async def write_datasets(db: Database, parsed_files: list[ParsedFile], *, is_sample: bool = False,
                         label_prefix: str = "", only_if_empty: bool = False) -> list[tuple[int, bool]] | None:
    """Replace several datasets in ONE transaction (each swap is atomic for readers). ``only_if_empty``: do
    nothing (None) when any dataset exists, checked inside the transaction so two workers cannot both load."""
    async with db.engine.begin() as conn:
        # A write first: SQLite takes the write lock now (no snapshot-upgrade failure later).
        await bump_keyword_version(conn)
        if only_if_empty and (await conn.execute(select(table_of(KeywordDataset).c.id).limit(1))).first():
            return None
        written = await _replace_many(conn, [(p, label_prefix + p.name) for p in parsed_files],
                                      is_sample=is_sample)
    from medipersona.keywords.store import invalidate_local

    invalidate_local(db)
    return written


async def write_dataset(db: Database, parsed: ParsedFile, *, is_sample: bool = False,
                        source_label: str | None = None) -> tuple[int, bool]:
    """Replace the dataset of one file's department/complaint in one transaction. Returns (id, replaced)."""
    written = await write_datasets(db, [replace(parsed, name=source_label or parsed.name)], is_sample=is_sample)
    assert written is not None  # only ``only_if_empty`` writes nothing
    return written[0]


async def delete_dataset(db: Database, dataset_id: int) -> bool:
    """Delete one dataset and its rows in one transaction. False when it does not exist."""
    ds = table_of(KeywordDataset)
    async with db.engine.begin() as conn:
        await bump_keyword_version(conn)
        await conn.execute(delete(table_of(KeywordRow)).where(table_of(KeywordRow).c.dataset_id == dataset_id))
        deleted = (await conn.execute(delete(ds).where(ds.c.id == dataset_id))).rowcount
    from medipersona.keywords.store import invalidate_local

    invalidate_local(db)
    return bool(deleted)


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


def _parse_blobs(blobs: list[bytes]) -> list[list[tuple] | tuple[str, int | None]]:
    """In a worker process: decode and parse each file's bytes; a rejection as (reason, line)."""
    out: list[list[tuple] | tuple[str, int | None]] = []
    for data in blobs:
        try:
            out.append(parse_text(decode(data)))
        except RejectFile as exc:
            out.append((exc.reason, exc.line))
    return out


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
    parsed = iter(await asyncio.get_running_loop().run_in_executor(pool, _parse_blobs, blobs))
    out: list[ParsedFile | RejectFile] = []
    for source, item in zip(sources, read):
        if isinstance(item, RejectFile):
            out.append(item)
            continue
        rows = next(parsed)
        if isinstance(rows, tuple):
            out.append(RejectFile(rows[0], rows[1]))
            continue
        department, complaint, _data = item
        out.append(ParsedFile(source.name, department, complaint, rows, new_entries(department, complaint, catalog)))
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
                    row_count=len(parsed.rows), added=claim(list(parsed.new)),
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
                dataset_id=dataset_id, row_count=len(parsed.rows), replaced=replaced,
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
            pending_rows += len(parsed.rows)
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


def sources_from_upload(filename: str, fileobj: IO[bytes]) -> list[Source]:
    """An uploaded CSV or zip (blocking: call in a worker thread). A zip is read from the (spooled) file, not
    copied into memory."""
    name = Path(filename or "upload.csv").name
    head = fileobj.read(4)
    fileobj.seek(0)
    if name.lower().endswith(".zip") or head.startswith(b"PK\x03\x04"):
        return sources_from_zip(fileobj, name)
    if Path(name).suffix.lower() not in CSV_SUFFIXES:
        raise RejectFile("CSVファイル（.csv）かZIPファイル（.zip）を選んでください。")
    size = fileobj.seek(0, 2)
    fileobj.seek(0)
    if size > MAX_FILE_BYTES:
        raise RejectFile(f"ファイルが大きすぎます（1ファイルの上限{MAX_FILE_BYTES // (1024 * 1024)}MB）。"
                         "ZIPに圧縮して取り込んでください。")
    data = fileobj.read()
    return [Source(name=name, parts=(), stem=Path(name).stem, read=lambda: data, size=len(data))]


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
