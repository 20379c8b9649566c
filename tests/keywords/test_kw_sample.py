"""The shipped sample (架空のサンプルデータ): covers the catalog, small, deterministic, loaded once, replaced."""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from medipersona.catalog.service import get_catalog
from medipersona.db import Database
from medipersona.keywords.models import KeywordDataset
from medipersona.keywords.sample import load_sample_if_empty, parsed_sample, sample_zip_bytes
from tests.keywords.kw_helpers import clear_keyword_data

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_sample", ROOT / "scripts" / "generate_sample_keywords.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_covers_every_department_and_complaint():
    gen = load_generator()
    files = gen.generate()
    catalog = get_catalog()
    expected = {f"架空のサンプルデータ/{d.name}/{d.name}_全体.csv" for d in catalog.departments}
    expected |= {f"架空のサンプルデータ/{d.name}/主訴/{c.name}_全体.csv" for d in catalog.departments
                 for c in d.chief_complaints}
    assert set(files) == expected
    assert len(files) == len(catalog.departments) + catalog.complaint_count


def test_shipped_zip_is_small_labelled_and_up_to_date(tmp_path):
    data = sample_zip_bytes()
    assert len(data) <= 5 * 1024 * 1024
    gen = load_generator()
    expected = gen.generate()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        readme = zf.read("架空のサンプルデータ/README.md").decode()
        shipped = {name: zf.read(name) for name in zf.namelist() if name.endswith(".csv")}
    # Compare contents, not zip bytes (deflate output may differ between zlib builds).
    assert shipped == expected, "the catalog changed: run scripts/generate_sample_keywords.py"
    assert "架空のサンプルデータ" in readme
    parsed = parsed_sample()
    assert len(parsed) == len(get_catalog().departments) + get_catalog().complaint_count
    assert {p.chief_complaint.id for p in parsed if p.chief_complaint} == {
        c.id for d in get_catalog().departments for c in d.chief_complaints}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_load_sample_if_empty_once(settings):
    db = Database(settings)
    await clear_keyword_data(db)
    try:
        message = await load_sample_if_empty(db)
        assert message and "架空のサンプル" in message
        assert await load_sample_if_empty(db) is None
        async with db.sessionmaker() as s:
            total = await s.scalar(select(func.count()).select_from(KeywordDataset))
            samples = await s.scalar(select(func.count()).select_from(KeywordDataset)
                                     .where(KeywordDataset.is_sample.is_(True)))
        assert total == samples == 531
    finally:
        await db.dispose()
