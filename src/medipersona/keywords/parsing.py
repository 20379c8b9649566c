"""Parsing one keyword export: decoding, finding and mapping the header, reading the rows.

``parse_text`` is pure CPU work (run it in a worker thread or process); any problem rejects the whole file with
its line and a reason in Japanese (``RejectFile``).
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections.abc import Iterator
from operator import itemgetter

from medipersona.keywords.categories import categorize
from medipersona.keywords.pack import AGE_COLUMNS, encode

MAX_ROWS_PER_FILE = 200_000
HEADER_SEARCH_ROWS = 5
MAX_COUNT = 2_000_000_000  # fits a 32-bit INTEGER (PostgreSQL)

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


def parse_blobs(blobs: list[bytes]) -> list[tuple[int, bytes] | tuple[str, int | None]]:
    """In a worker process (this module imports no database code: a spawned process starts quickly): decode, parse and pack each file's bytes, as (row count, pack); a rejection as
    (reason, line). Packs travel back to the main process as bytes (no row objects to unpickle there)."""
    out: list[tuple[int, bytes] | tuple[str, int | None]] = []
    for data in blobs:
        try:
            rows = parse_text(decode(data))
        except RejectFile as exc:
            out.append((exc.reason, exc.line))
        else:
            out.append((len(rows), encode(rows)))
    return out
