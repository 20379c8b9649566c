"""Export fixtures: personas inserted straight into the database (no dependence on the generation pipeline)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helpers module export_checks.py beside this file

from export_checks import sample_sections, sample_series

from medipersona.catalog.labels import EXTRA_FIELDS

ANALYSIS = {
    "psychology": "発症直後は不安が強く、原因を調べる検索が中心。数日後には治療法や医療機関の比較へ関心が移る。" * 3,
    "hidden_needs": "忙しい中でも短時間で受診できること、説明のわかりやすさを求めている。" * 3,
    "marketing": "Web予約と待ち時間の見える化を前面に出し、症状別の解説ページから予約へ導線を作る。" * 3,
}


def persona_values(owner_id: int, **overrides) -> dict:
    values = {
        "owner_id": owner_id,
        "status": "done",
        "department_id": "internal_medicine",
        "chief_complaint_id": "internal_medicine.dizziness",
        "purpose_id": "marketing",
        "setting_type": "auto",
        "seed": 1,
        "name": "山田 花子",
        "profile": {"name": "山田 花子", "gender": "female", "age": 34, "prefecture": "東京都",
                    "municipality": "世田谷区", "family": "夫、長女（8歳）と3人暮らし", "occupation": "会社員（事務職）",
                    "income": "400-500", "hobby": "ヨガ、カフェ巡り", "life_events": "昨年第一子を出産"},
        "extras": {f.key: f"{f.label}の例" for f in EXTRA_FIELDS},
        "extra_fields": [{"name": "好きな食べ物", "value": "和食"}],
        "sections": sample_sections(),
        "timeline_status": "done",
        "timeline_analysis": dict(ANALYSIS),
    }
    values.update(overrides)
    return values


@pytest.fixture
def make_persona(app):
    async def _make(owner_id: int, **overrides):
        from medipersona.personas.models import Persona

        async with app.state.db.sessionmaker() as session:
            persona = Persona(**persona_values(owner_id, **overrides))
            session.add(persona)
            await session.commit()
            return persona

    return _make


def portrait_png() -> bytes:
    from io import BytesIO

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (512, 512), (225, 236, 245))
    draw = ImageDraw.Draw(img)
    draw.ellipse([156, 90, 356, 290], fill=(240, 205, 180))
    draw.rectangle([116, 300, 396, 512], fill=(70, 110, 160))
    out = BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def stored_portrait(app, settings) -> str:
    """A portrait in shared storage (as the pipeline stores it); returns its digest."""
    from medipersona.media.service import prepare_image, store_row

    image = await prepare_image(portrait_png(), "image/png")
    async with app.state.db.sessionmaker() as session:
        await store_row(settings, session, image)
        await session.commit()
    return image.digest


@pytest.fixture
def fake_timeline(monkeypatch):
    """The keyword store's timeline for the export, without importing keyword data."""
    from medipersona.exports import service

    async def _timeline(session, persona):
        return sample_series(), [("キーワード数", "80語"), ("主訴検索の前", "48語"), ("主訴検索の後", "32語"),
                                 ("ピーク", "-2日")]

    monkeypatch.setattr(service, "timeline_series", _timeline)
