"""Helpers for keyword tests: write CSV variants into temp dirs."""

from __future__ import annotations

from pathlib import Path

REAL_HEADER = [
    "順位", "出力キーワード", "検索ボリューム(人)", "重複ボリューム(人)", "特徴度", "検索時間差(日)",
    "男性割合(%)", "女性割合(%)", "10代（13歳〜）割合(%)", "20代割合(%)", "30代割合(%)", "40代割合(%)",
    "50代割合(%)", "60代割合(%)", "70代以上割合(%)",
]


def make_rows(n: int, prefix: str = "kw", days_start: float = -10.0) -> list[list]:
    rows = []
    for i in range(n):
        rows.append([i + 1, f"{prefix} {i}", 1000 + i * 10, 100 + i, 2.5, round(days_start + i * 0.5, 3),
                     45, 55, 5, 10, 20, 25, 20, 12, 8])
    return rows


def csv_text(rows: list[list], header: list[str] | None = None, sep: str = ",") -> str:
    header = header or REAL_HEADER
    lines = [sep.join(header)] + [sep.join(str(v) for v in r) for r in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[list], *, header: list[str] | None = None, encoding: str = "utf-8-sig",
              sep: str = ",") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_text(rows, header, sep).encode(encoding))
    return path


async def clear_keyword_data(db) -> None:
    """Empty the keyword tables (test databases start from a template that holds the sample data)."""
    from sqlalchemy import delete

    from medipersona.keywords.models import KeywordDataset, KeywordPack

    async with db.sessionmaker() as session:
        await session.execute(delete(KeywordPack))
        await session.execute(delete(KeywordDataset))
        await session.commit()
