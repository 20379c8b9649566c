"""Clinic info and competitor lists from CSV/XLSX: encodings, header names by meaning, row-level errors.

CSV: UTF-8 (with or without BOM), UTF-16 with BOM or Shift_JIS/cp932 (``keywords.parsing.decode``), comma or
tab separated. XLSX: the first sheet, read as a stream with bounded work (``uploads.xlsx``). Parsing runs in a worker thread.
The header is the first of the first few rows that names the required columns; a row that cannot be used is
reported with its line number (1 = the header's file line counting from 1) and skipped.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_ROWS = 500
HEADER_SEARCH_ROWS = 5
TOO_LARGE_MESSAGE = f"ファイルが大きすぎます（上限{MAX_FILE_BYTES // (1024 * 1024)}MB）。"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")

FIELD_LABELS = {
    "name": "名称", "postal_code": "郵便番号", "address": "住所", "lat": "緯度", "lng": "経度",
    "departments": "診療科", "strengths": "強み・特徴", "target": "主なターゲット層", "rating": "評価",
    "reviews": "口コミ数", "hours": "診療時間", "website": "ウェブサイト", "phone": "電話",
}
KIND_FIELDS = {
    "clinic": ("name", "postal_code", "address", "lat", "lng", "departments", "strengths", "target"),
    "competitors": ("name", "address", "lat", "lng", "rating", "reviews", "hours", "website", "phone",
                    "departments"),
}
REQUIRED = {"clinic": ("name",), "competitors": ("name", "lat", "lng")}


@dataclass
class ImportResult:
    kind: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    fatal: str | None = None


class ImportRejected(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _key(cell: Any) -> str:
    text = unicodedata.normalize("NFKC", str(cell or "")).strip().lower()
    return re.sub(r"[\s\u3000_\-・/()（）【】\[\]]", "", text)


def header_field(cell: Any) -> str | None:
    """The meaning of one header cell (None: a column we do not use)."""
    h = _key(cell)
    if not h:
        return None
    if h in {"lat", "latitude", "緯度", "y"} or "緯度" in h:
        return "lat"
    if h in {"lng", "lon", "long", "longitude", "経度", "x"} or "経度" in h:
        return "lng"
    if "郵便" in h or h in {"〒", "postal", "postalcode", "zip", "zipcode", "postcode"}:
        return "postal_code"
    if "口コミ" in h or "クチコミ" in h or "レビュー" in h or "review" in h:
        return "reviews"
    if "評価" in h or h in {"rating", "星", "スコア", "score"}:
        return "rating"
    if "住所" in h or "所在地" in h or h in {"address", "addr"}:
        return "address"
    if "診療科" in h or "科目" in h or h in {"department", "departments", "診療科目"}:
        return "departments"
    if "診療時間" in h or "営業時間" in h or "受付時間" in h or h in {"hours", "openinghours"}:
        return "hours"
    if "ウェブ" in h or "ホームページ" in h or "サイト" in h or h in {"url", "website", "hp", "web", "homepage"}:
        return "website"
    if "電話" in h or h in {"tel", "phone", "telephone", "電話番号"}:
        return "phone"
    if "強み" in h or "特徴" in h or "strength" in h:
        return "strengths"
    if "ターゲット" in h or "target" in h or "対象" in h:
        return "target"
    if h in {"名称", "名前", "name", "医院名", "クリニック名", "病院名", "施設名", "医療機関名", "歯科医院名"} or \
            h.endswith(("医院名", "クリニック名", "病院名", "施設名", "機関名")):
        return "name"
    return None


def _map_header(row: list[str], kind: str) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for index, cell in enumerate(row):
        name = header_field(cell)
        if name is None or name not in KIND_FIELDS[kind] or name in mapping:
            continue
        mapping[name] = index
    return mapping


def _find_header(rows: list[list[str]], kind: str) -> tuple[int, dict[str, int]]:
    best: tuple[int, dict[str, int]] | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        mapping = _map_header(row, kind)
        if all(f in mapping for f in REQUIRED[kind]):
            return index, mapping
        if mapping and (best is None or len(mapping) > len(best[1])):
            best = (index, mapping)
    missing = [FIELD_LABELS[f] for f in REQUIRED[kind] if best is None or f not in best[1]]
    raise ImportRejected("必須の列が見つかりません: " + "、".join(missing)
                         + "。1行目が見出し行（例: 名称, 住所, 緯度, 経度）か確認してください。", 1)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def read_rows(filename: str, data: bytes) -> list[list[str]]:
    """The file's rows as lists of strings (blocking: call in a thread)."""
    name = filename.lower()
    if data[:4] == b"PK\x03\x04" or name.endswith(XLSX_SUFFIXES):
        return _xlsx_rows(data)
    if name.endswith(".xls"):
        raise ImportRejected("古いExcel形式（.xls）は読み込めません。.xlsx か CSV で保存し直してください。")
    if name and not name.endswith(CSV_SUFFIXES) and "." in name:
        raise ImportRejected("CSV（.csv）または Excel（.xlsx）ファイルを選んでください。")
    from medipersona.keywords.parsing import RejectFile, decode

    try:
        text = decode(data)
    except RejectFile as exc:
        raise ImportRejected(str(exc.args[0]) if exc.args else "文字コードを判別できません。", None) from None
    if "\x00" in text:
        raise ImportRejected("テキストのCSVファイルではありません。CSV または .xlsx を選んでください。")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    try:
        return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]
    except csv.Error:  # e.g. a field over the csv module's 128 KB limit
        raise ImportRejected("CSVの形式が正しくないか、項目が長すぎます。") from None


def _xlsx_rows(data: bytes) -> list[list[str]]:
    """The first sheet's first rows, read as a stream with bounded work (``uploads.xlsx``)."""
    from medipersona.uploads.xlsx import XlsxLimits, XlsxUnreadable, read_xlsx_rows

    try:
        return read_xlsx_rows(data, XlsxLimits(max_rows=MAX_ROWS + HEADER_SEARCH_ROWS + 2))
    except XlsxUnreadable as exc:
        raise ImportRejected(exc.message) from None


def _number(text: str) -> float | None:
    text = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace("件", "").replace("点", "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError from None
    if not math.isfinite(value):
        raise ValueError
    return value


def _departments(text: str) -> tuple[list[str], list[str]]:
    """(catalog ids, names that are not in the catalog) of a cell like 「内科、小児科」."""
    from medipersona.catalog.service import get_catalog

    catalog = get_catalog()
    ids, unknown = [], []
    for part in re.split(r"[、,，/／・\s]+", unicodedata.normalize("NFKC", text)):
        part = part.strip()
        if not part:
            continue
        dep = catalog.department(part) or catalog.department_by_name(part)
        if dep is None:
            unknown.append(part)
        elif dep.id not in ids:
            ids.append(dep.id)
    return ids, unknown


def _validation_message(exc) -> str:
    from medipersona.web.validation import validation_error_body

    fields = validation_error_body(exc.errors())["error"]["fields"]
    parts = []
    for f in fields[:3]:
        label = FIELD_LABELS.get(f["field"].split(".")[0], f["field"])
        parts.append(f"{label}: {f['message']}")
    return "、".join(parts)


def _row_values(row: list[str], mapping: dict[str, int]) -> dict[str, str]:
    return {name: (row[index].strip() if index < len(row) and row[index] is not None else "")
            for name, index in mapping.items()}


def _competitor(values: dict[str, str]) -> dict[str, Any]:
    from medipersona.competitors.schemas import CompetitorIn

    out: dict[str, Any] = {}
    problems = []
    for key in ("lat", "lng", "rating", "reviews"):
        if values.get(key):
            try:
                number = _number(values[key])
            except ValueError:
                problems.append(f"{FIELD_LABELS[key]}「{values[key][:20]}」は数値ではありません")
                continue
            if number is not None:
                out[key] = int(number) if key == "reviews" and number.is_integer() else number
    if problems:
        raise ValueError("、".join(problems))
    for key in ("name", "address", "hours", "website", "phone"):
        if values.get(key):
            out[key] = values[key]
    if values.get("departments"):
        out["departments"] = [p for p in re.split(r"[、,，/／・\s]+", values["departments"]) if p]
    if "lat" not in out or "lng" not in out:
        raise ValueError("緯度・経度がありません")
    from pydantic import ValidationError

    try:
        return CompetitorIn.model_validate(out).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise ValueError(_validation_message(exc)) from None


def _clinic(values: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The clinic fields of one row and warnings (values left out)."""
    from medipersona.competitors.schemas import NAME_MAX, TEXT_MAX, ClinicIn

    out: dict[str, Any] = {}
    warnings = []
    name = values.get("name", "")
    if not name:
        raise ValueError("名称がありません")
    out["name"] = name[:NAME_MAX]
    if values.get("address"):
        out["address"] = values["address"][:TEXT_MAX]
    for key in ("strengths", "target"):
        if values.get(key):
            out[key] = values[key][:1000]
    if values.get("postal_code"):
        try:
            out["postal_code"] = ClinicIn._postal(values["postal_code"])
        except ValueError as exc:
            warnings.append(str(exc))
    coords = {}
    for key, bound in (("lat", 90), ("lng", 180)):
        if values.get(key):
            try:
                number = _number(values[key])
            except ValueError:
                number = None
            if number is None or not -bound <= number <= bound:
                warnings.append(f"{FIELD_LABELS[key]}「{values[key][:20]}」は正しい値ではありません")
            else:
                coords[key] = number
    if len(coords) == 2:
        out.update(coords)
    elif coords:
        warnings.append("緯度と経度は両方が必要です")
    if values.get("departments"):
        ids, unknown = _departments(values["departments"])
        out["departments"] = ids
        if unknown:
            warnings.append("診療科が一覧にありません: " + "、".join(unknown[:5]))
    return out, warnings


def parse_rows(rows: list[list[str]], kind: str) -> ImportResult:
    result = ImportResult(kind=kind)
    rows = [r for r in rows]
    if not any(any(c.strip() for c in r) for r in rows):
        raise ImportRejected("ファイルにデータがありません。")
    header_index, mapping = _find_header(rows, kind)
    data_rows = [(header_index + 2 + i, r) for i, r in enumerate(rows[header_index + 1:])]
    data_rows = [(line, r) for line, r in data_rows if any((c or "").strip() for c in r)]
    if len(data_rows) > MAX_ROWS:
        raise ImportRejected(f"行数が多すぎます（上限{MAX_ROWS}行）。ファイルを分けて取り込んでください。")
    for line, row in data_rows:
        values = _row_values(row, mapping)
        if kind == "competitors":
            try:
                result.rows.append(_competitor(values))
            except ValueError as exc:
                result.errors.append({"line": line, "message": str(exc)})
        else:
            try:
                clinic, warnings = _clinic(values)
            except ValueError as exc:
                result.errors.append({"line": line, "message": str(exc)})
                continue
            result.rows.append(clinic)
            result.errors.extend({"line": line, "message": w} for w in warnings)
            break  # one clinic per file: the first usable row
    return result


def parse_bytes(filename: str, data: bytes, kind: str) -> ImportResult:
    """Blocking parse (call in a thread)."""
    if kind not in KIND_FIELDS:
        raise ValueError(kind)
    try:
        if len(data) > MAX_FILE_BYTES:
            raise ImportRejected(TOO_LARGE_MESSAGE)
        if not data.strip():
            raise ImportRejected("ファイルが空です。")
        return parse_rows(read_rows(filename, data), kind)
    except ImportRejected as exc:
        result = ImportResult(kind=kind, fatal=exc.message)
        result.errors.append({"line": exc.line, "message": exc.message})
        return result


async def parse_upload(filename: str, data: bytes, kind: str) -> ImportResult:
    return await anyio.to_thread.run_sync(parse_bytes, filename, data, kind)
