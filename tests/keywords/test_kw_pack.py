"""The packed form of a dataset's rows (keywords.pack): exact round trip, damaged values refused."""

import pytest

from medipersona.keywords.pack import AGE_COLUMNS, ROW_FIELDS, PackError, decode, encode


def _row(i: int, keyword: str) -> tuple:
    return (i, keyword, 1000 * i, 2_000_000_000 - i, 0.1 * i, -3660.0 + i / 3, 33.3, 66.7,
            *[100 / 7 + i for _ in range(7)], "症状・原因")


def test_round_trip_is_exact():
    rows = [_row(i, f"キーワード {i} 😀") for i in range(1, 1200)]
    pack = decode(encode(rows))
    assert len(pack) == len(rows)
    assert pack.rows() == rows  # every float bit for bit, ints, order
    assert list(pack.ages[AGE_COLUMNS.index("age_30s")]) == [r[ROW_FIELDS.index("age_30s")] for r in rows]


def test_empty_and_nul_keywords():
    assert decode(encode([])).rows() == []
    rows = [_row(1, "a\x00b"), _row(2, "")]
    assert [r[1] for r in decode(encode(rows)).rows()] == ["ab", ""]


@pytest.mark.parametrize("damage", [
    lambda b: b[:-5],                       # truncated stream
    lambda b: b"XXXX" + b[4:],              # not a pack
    lambda b: b[:4] + b"\x09\x00" + b[6:],  # an unknown format
    lambda b: b[:6] + (5).to_bytes(4, "little") + b[10:],  # a row count that does not match
    lambda b: b"",
])
def test_damaged_values_are_refused(damage):
    data = encode([_row(i, f"k{i}") for i in range(3)])
    with pytest.raises(PackError):
        decode(damage(data))


def test_parse_processes_import_no_database_code():
    """A big import spawns parse processes that import keywords.parsing: it must stay free of SQLAlchemy and
    the app (each spawned process would pay that import again)."""
    import subprocess
    import sys

    code = ("import sys, medipersona.keywords.parsing as p; assert callable(p.parse_blobs); "
            "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'fastapi', 'medipersona.db'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
