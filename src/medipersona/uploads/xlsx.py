"""A streaming XLSX reader: the first sheet's first rows, with every part parsed as a stream.

openpyxl reads a workbook's whole shared-strings part even in read-only mode (12 million ``<si>`` in a 0.5 MB
file took three minutes and a gigabyte). Here every XML part is decompressed through a ``CountingReader`` and fed
to expat in 64 KB chunks:

1. ``xl/workbook.xml`` + its relationships → the first sheet's part (and the shared-strings part);
2. the sheet → its first ``max_rows`` rows (cells past ``max_cols`` ignored); shared-string cells keep their
   index;
3. the shared strings → only the indices those rows use, stopping after the highest one.

Limits: expanded bytes per part and in total, characters per cell, number of shared strings read. A DOCTYPE or
entity declaration is refused (no entity expansion). Passing a limit raises ``UploadLimitExceeded`` at once
(413); a file that is not a readable workbook raises ``XlsxUnreadable`` (422).
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass
from typing import BinaryIO
from xml.parsers import expat

from medipersona.uploads.limits import CHUNK, ZIP_READ_ERRORS, ByteBudget, CountingReader, UploadLimitExceeded

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SHARED_STRINGS_TYPE = REL_NS + "/sharedStrings"


@dataclass(frozen=True)
class XlsxLimits:
    max_rows: int = 1000
    max_cols: int = 64
    max_cell_chars: int = 32_767  # Excel's own limit
    max_shared_strings: int = 1_000_000
    max_part_bytes: int = 32 * 1024 * 1024
    max_total_bytes: int = 64 * 1024 * 1024
    max_members: int = 2000


class XlsxUnreadable(Exception):
    """Not a workbook we can read (broken zip, truncated or malformed XML, no sheet). ``message``: Japanese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


TOO_LARGE = "Excelファイルの中身が大きすぎます（展開後のデータが上限を超えました）。"
CELL_TOO_LARGE = "Excelファイルのセルの文字数が多すぎます（1セル{limit}文字まで）。"
TOO_MANY_STRINGS = "Excelファイルの文字列が多すぎます（上限{limit}件）。"
BROKEN = "Excelファイル（.xlsx）を読み込めませんでした。ファイルが壊れていないか確認してください。"
NO_SHEET = "Excelファイルにシートがありません。"
DTD_REFUSED = "Excelファイルに使えない定義（DOCTYPE）が含まれています。"


class _Stop(Exception):
    """Enough has been read from a part."""


def _local(name: str) -> str:
    return name.rsplit(" ", 1)[-1]


def _parser() -> expat.XMLParserType:
    parser = expat.ParserCreate(namespace_separator=" ")

    def refuse(*_args: object) -> int:
        raise XlsxUnreadable(DTD_REFUSED)

    for handler in ("StartDoctypeDeclHandler", "EntityDeclHandler", "ExternalEntityRefHandler"):
        setattr(parser, handler, refuse)
    parser.buffer_text = True
    return parser


class _Reader:
    def __init__(self, archive: zipfile.ZipFile, limits: XlsxLimits) -> None:
        self.archive = archive
        self.limits = limits
        self.budget = ByteBudget(limits.max_total_bytes, TOO_LARGE)
        self.names = {info.filename: info for info in archive.infolist()}

    def feed(self, name: str, parser: expat.XMLParserType) -> None:
        """Stream one part into ``parser`` (stops quietly when a handler raises _Stop)."""
        info = self.names.get(name)
        if info is None:
            raise KeyError(name)
        try:
            with self.archive.open(info) as member:
                reader = CountingReader(member, self.limits.max_part_bytes, TOO_LARGE, self.budget)
                for chunk in reader.chunks(CHUNK):
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
        except _Stop:
            return
        except expat.ExpatError:
            raise XlsxUnreadable(BROKEN) from None
        except ZIP_READ_ERRORS:
            raise XlsxUnreadable(BROKEN) from None

    def relationships(self, part: str) -> dict[str, tuple[str, str]]:
        """id → (type, target part name) of a part's ``_rels``."""
        folder, base = posixpath.split(part)
        rels_name = posixpath.join(folder, "_rels", base + ".rels")
        found: dict[str, tuple[str, str]] = {}
        if rels_name not in self.names:
            return found
        parser = _parser()

        def start(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "Relationship" and "Id" in attrs and len(found) < self.limits.max_members:
                target = attrs.get("Target", "")
                path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(folder, target))
                found[attrs["Id"]] = (attrs.get("Type", ""), path)

        parser.StartElementHandler = start
        self.feed(rels_name, parser)
        return found

    def first_sheet(self) -> tuple[str, str | None]:
        """(first sheet's part name, shared strings part name or None)."""
        sheet_ids: list[str] = []
        parser = _parser()

        def start(name: str, attrs: dict[str, str]) -> None:
            if _local(name) == "sheet":
                rid = attrs.get(f"{REL_NS} id")
                if rid:
                    sheet_ids.append(rid)
                    raise _Stop

        parser.StartElementHandler = start
        try:
            self.feed("xl/workbook.xml", parser)
        except KeyError:
            raise XlsxUnreadable(BROKEN) from None
        rels = self.relationships("xl/workbook.xml")
        shared = next((target for kind, target in rels.values() if kind == SHARED_STRINGS_TYPE), None)
        if shared is None and "xl/sharedStrings.xml" in self.names:
            shared = "xl/sharedStrings.xml"
        if not sheet_ids:
            raise XlsxUnreadable(NO_SHEET)
        target = rels.get(sheet_ids[0], ("", ""))[1]
        if target not in self.names:
            target = "xl/worksheets/sheet1.xml"
            if target not in self.names:
                raise XlsxUnreadable(NO_SHEET)
        return target, shared

    def sheet_rows(self, part: str) -> list[list[object]]:
        """The first ``max_rows`` rows; a cell is a str, or an int (a shared-string index) until resolved."""
        limits = self.limits
        rows: list[list[object]] = []
        state: dict = {"row": None, "col": 0, "type": "", "text": None, "size": 0, "in_is": 0, "in_rph": 0,
                       "collect": False}
        cell_message = CELL_TOO_LARGE.format(limit=limits.max_cell_chars)

        def start(name: str, attrs: dict[str, str]) -> None:
            tag = _local(name)
            if tag == "row":
                index = attrs.get("r", "")
                target = int(index) - 1 if index.isdigit() else len(rows)
                if target >= limits.max_rows or len(rows) >= limits.max_rows:
                    raise _Stop
                while len(rows) < target:
                    rows.append([])
                state["row"] = []
                state["col"] = 0
            elif tag == "c" and state["row"] is not None:
                ref = attrs.get("r", "")
                match = re.match(r"([A-Z]{1,3})", ref)
                if match:
                    col = 0
                    for ch in match.group(1):
                        col = col * 26 + (ord(ch) - 64)
                    state["col"] = col - 1
                state["type"] = attrs.get("t", "n")
                state["text"] = None
                state["size"] = 0
            elif tag in ("v", "t") and state["row"] is not None and not state["in_rph"]:
                if tag == "v" or state["in_is"]:
                    state["text"] = state["text"] or []
                    state["collect"] = True
            elif tag == "is":
                state["in_is"] += 1
            elif tag == "rPh":
                state["in_rph"] += 1

        def chars(data: str) -> None:
            if state.get("collect"):
                state["text"].append(data)
                state["size"] += len(data)
                if state["size"] > limits.max_cell_chars:
                    raise UploadLimitExceeded(cell_message)

        def end(name: str) -> None:
            tag = _local(name)
            if tag in ("v", "t"):
                state["collect"] = False
            elif tag == "is":
                state["in_is"] -= 1
            elif tag == "rPh":
                state["in_rph"] -= 1
            elif tag == "c" and state["row"] is not None:
                col = state["col"]
                state["col"] = col + 1
                if col >= limits.max_cols or state["text"] is None:
                    return
                text = "".join(state["text"])
                value: object = text
                kind = state["type"]
                if kind == "s":
                    if not text.strip().isdigit():
                        raise XlsxUnreadable(BROKEN)
                    value = int(text)
                    if value >= limits.max_shared_strings:
                        raise UploadLimitExceeded(TOO_MANY_STRINGS.format(limit=limits.max_shared_strings))
                elif kind == "b":
                    value = "TRUE" if text.strip() == "1" else "FALSE"
                row = state["row"]
                while len(row) < col:
                    row.append("")
                row.append(value)
            elif tag == "row" and state["row"] is not None:
                rows.append(state["row"])
                state["row"] = None

        parser = _parser()
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars
        self.feed(part, parser)
        return rows

    def shared_strings(self, part: str, wanted: set[int]) -> dict[int, str]:
        """The shared strings at ``wanted`` indices; reading stops after the highest one."""
        limits = self.limits
        found: dict[int, str] = {}
        if not wanted:
            return found
        last = max(wanted)
        state: dict = {"index": -1, "parts": None, "size": 0, "in_rph": 0, "collect": False}
        cell_message = CELL_TOO_LARGE.format(limit=limits.max_cell_chars)

        def start(name: str, attrs: dict[str, str]) -> None:
            tag = _local(name)
            if tag == "si":
                state["index"] += 1
                if state["index"] > last:
                    raise _Stop
                state["parts"] = [] if state["index"] in wanted else None
                state["size"] = 0
            elif tag == "rPh":
                state["in_rph"] += 1
            elif tag == "t" and not state["in_rph"]:
                state["collect"] = True

        def chars(data: str) -> None:
            if state["collect"]:
                state["size"] += len(data)
                if state["size"] > limits.max_cell_chars:
                    raise UploadLimitExceeded(cell_message)
                if state["parts"] is not None:
                    state["parts"].append(data)

        def end(name: str) -> None:
            tag = _local(name)
            if tag == "t":
                state["collect"] = False
            elif tag == "rPh":
                state["in_rph"] -= 1
            elif tag == "si" and state["parts"] is not None:
                found[state["index"]] = "".join(state["parts"])
                state["parts"] = None

        parser = _parser()
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars
        try:
            self.feed(part, parser)
        except KeyError:
            raise XlsxUnreadable(BROKEN) from None
        return found


def read_xlsx_rows(data: bytes | BinaryIO, limits: XlsxLimits | None = None) -> list[list[str]]:
    """The first sheet's first ``limits.max_rows`` rows as strings (blocking: call in a worker thread).

    Raises ``UploadLimitExceeded`` when a limit is passed, ``XlsxUnreadable`` for anything else that is wrong."""
    limits = limits or XlsxLimits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
    except ZIP_READ_ERRORS:
        raise XlsxUnreadable(BROKEN) from None
    with archive:
        if len(archive.infolist()) > limits.max_members:
            raise XlsxUnreadable(BROKEN)
        reader = _Reader(archive, limits)
        sheet, shared_part = reader.first_sheet()
        try:
            raw_rows = reader.sheet_rows(sheet)
        except KeyError:
            raise XlsxUnreadable(NO_SHEET) from None
        wanted = {v for row in raw_rows for v in row if isinstance(v, int)}
        strings: dict[int, str] = {}
        if wanted:
            if shared_part is None:
                raise XlsxUnreadable(BROKEN)
            strings = reader.shared_strings(shared_part, wanted)
    return [[strings.get(v, "") if isinstance(v, int) else str(v) for v in row] for row in raw_rows]
