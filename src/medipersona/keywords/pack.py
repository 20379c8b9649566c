"""A dataset's rows in one compact value: how keyword data is stored and read.

Every lookup reads one dataset whole (a timeline needs every row, a prompt list ranks every row), so a dataset
is stored as ONE binary value (``keyword_packs.data``) instead of ~1,000 table rows: an import writes one value
per file, a lookup reads one value by primary key and decodes it at C speed (``array.frombytes``, one
``str.split``), with no per-row, per-column conversion by the database driver.

Layout (format 1, little-endian): ``MAGIC``, format (uint16), row count n (uint32), then the numeric columns
one after the other (``NUMERIC`` order; rank, volume and overlap as int64, the others as float64: the exact values parsed, so lookups match what
the rows said); the byte lengths of the two texts (uint32 each); keywords and categories as UTF-8, each a list
joined by NUL (a keyword never contains one: NULs are dropped when packing). Not compressed: zlib would
make it a third of the size (~110 bytes per row here, as the row table took) but costs ~0.5 ms per 1,000 rows
on every cold lookup; PostgreSQL compresses the value on its own (TOAST).
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass

MAGIC = b"MPKW"
FORMAT = 1
_HEADER = struct.Struct("<4sHI")
_LENGTHS = struct.Struct("<II")
_SEP = "\x00"

# Age-band columns of a row, in the order of catalog.labels.AGE_BANDS.
AGE_COLUMNS: tuple[str, ...] = ("age_10s", "age_20s", "age_30s", "age_40s", "age_50s", "age_60s", "age_70plus")
# Column order of a parsed row (the importer's tuples).
ROW_FIELDS: tuple[str, ...] = (
    "rank", "keyword", "volume", "overlap", "lift", "days", "male", "female", *AGE_COLUMNS, "category",
)
_INT_COLUMNS = ("rank", "volume", "overlap")
NUMERIC: tuple[str, ...] = (*_INT_COLUMNS, "lift", "days", "male", "female", *AGE_COLUMNS)
_ROW_INDEX = {name: i for i, name in enumerate(ROW_FIELDS)}
_SWAP = sys.byteorder != "little"


class PackError(ValueError):
    """The value is not a pack this code can read."""


@dataclass(frozen=True, slots=True)
class Pack:
    """One dataset's rows as columns (index i of every column is row i, in the file's order)."""

    rank: array
    keyword: list[str]
    volume: array
    overlap: array
    lift: array
    days: array
    male: array
    female: array
    ages: tuple[array, ...]  # AGE_COLUMNS order
    category: list[str]

    def __len__(self) -> int:
        return len(self.keyword)

    def rows(self) -> list[tuple]:
        """Back to row tuples in ``ROW_FIELDS`` order (merges, tools and tests)."""
        return list(zip(self.rank, self.keyword, self.volume, self.overlap, self.lift, self.days, self.male,
                        self.female, *self.ages, self.category, strict=True))


def _typecode(name: str) -> str:
    return "q" if name in _INT_COLUMNS else "d"


def encode(rows: list[tuple] | tuple[tuple, ...]) -> bytes:
    """Pack row tuples (``ROW_FIELDS`` order)."""
    n = len(rows)
    parts: list[bytes] = []
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in ROW_FIELDS]
    for name in NUMERIC:
        values = array(_typecode(name), columns[_ROW_INDEX[name]])
        if _SWAP:
            values.byteswap()
        parts.append(values.tobytes())
    keywords = _SEP.join(columns[_ROW_INDEX["keyword"]])
    if keywords.count(_SEP) != max(0, n - 1):
        keywords = _SEP.join(k.replace(_SEP, "") for k in columns[_ROW_INDEX["keyword"]])
    text = keywords.encode("utf-8")
    categories = _SEP.join(columns[_ROW_INDEX["category"]]).encode("utf-8")
    parts.append(_LENGTHS.pack(len(text), len(categories)))
    parts.append(text)
    parts.append(categories)
    return _HEADER.pack(MAGIC, FORMAT, n) + b"".join(parts)


def decode(data: bytes) -> Pack:
    """Unpack a value written by ``encode``. Raises PackError for anything else."""
    try:
        magic, version, n = _HEADER.unpack_from(data, 0)
    except struct.error:
        raise PackError("not a keyword pack") from None
    if magic != MAGIC or version != FORMAT:
        raise PackError(f"unknown keyword pack (magic {magic!r}, format {version})")
    view = memoryview(data)
    offset = _HEADER.size
    columns: dict[str, array] = {}
    for name in NUMERIC:
        values = array(_typecode(name))
        size = values.itemsize * n
        try:
            values.frombytes(view[offset:offset + size])
        except ValueError:
            raise PackError("truncated keyword pack") from None
        if len(values) != n:
            raise PackError("truncated keyword pack")
        if _SWAP:
            values.byteswap()
        columns[name] = values
        offset += size
    try:
        text_size, categories_size = _LENGTHS.unpack_from(data, offset)
    except struct.error:
        raise PackError("truncated keyword pack") from None
    offset += _LENGTHS.size
    try:
        keywords = str(view[offset:offset + text_size], "utf-8").split(_SEP) if n else []
        offset += text_size
        categories = str(view[offset:offset + categories_size], "utf-8").split(_SEP) if n else []
    except UnicodeDecodeError:
        raise PackError("damaged keyword pack") from None
    if offset + categories_size != len(data) or len(keywords) != n or len(categories) != n:
        raise PackError("inconsistent keyword pack")
    return Pack(
        rank=columns["rank"], keyword=keywords, volume=columns["volume"], overlap=columns["overlap"],
        lift=columns["lift"], days=columns["days"], male=columns["male"], female=columns["female"],
        ages=tuple(columns[c] for c in AGE_COLUMNS), category=categories,
    )
