"""Where keyword exports come from: a file, a folder tree, a zip of such a tree, an upload.

A ``Source`` is one file to import with the folder names around it (used to match it to the catalog); its bytes
are read only when it is parsed. Zips are read member by member within the upload limits.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from medipersona.keywords.parsing import RejectFile
from medipersona.uploads.limits import ZIP_READ_ERRORS, ByteBudget, UploadLimitExceeded, read_zip_member

MAX_FILES_PER_IMPORT = 5000
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_FILE_BYTES = 64 * 1024 * 1024
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}


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
