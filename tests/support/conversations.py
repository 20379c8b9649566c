"""Shared helpers of the persona-set, interview and message-test tests: finished personas inserted straight into
the database (no dependence on the generation pipeline), SSE reading, row counts, test providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from sqlalchemy import func, select

from medipersona.personas.models import Persona, new_persona_id
from medipersona.providers.base import ProviderError, TextRequest
from medipersona.providers.offline import OfflineProvider
from medipersona.providers.registry import register_provider
from tests.personas.helpers import parse_sse

SECTIONS = {
    "personality": "几帳面で、物事は納得してから決めたいと考えている。家族との時間を大切にしている。",
    "reason": "インフルエンザの流行期に高熱が出たため、早めに検査を受けたいと考えている。仕事を長く休めない事情もある。",
    "behavior": "症状が出るとまずスマートフォンで近くのクリニックを調べる。駅から近く、Web予約ができる医院を選ぶことが多い。",
    "reviews": "口コミでは待ち時間の長さと、受付の対応についての書き込みを重視している。",
    "values": "医療機関選びでは、通いやすさや待ち時間の短さを何より重視している。",
    "demands": "夜間や土曜の診療と、検査結果をわかりやすく説明してもらえることを望んでいる。",
}
PROFILE = {"name": "山田 花子", "gender": "female", "age": 45, "prefecture": "東京都", "municipality": "世田谷区",
           "family": "夫、長女（8歳）と3人暮らし", "occupation": "会社員（事務職）", "income": "500-600",
           "hobby": "ヨガ、カフェ巡り", "life_events": "昨年管理職に昇進"}
EXTRAS = {"media": "Instagram、ニュースアプリ", "concerns": "仕事と子育ての両立"}
KEYWORDS = [
    {"keyword": "インフルエンザ 検査 いつ", "estimated_volume": 5400, "days": -2, "category": "治療・対策"},
    {"keyword": "発熱外来 予約", "estimated_volume": 3300, "days": 0, "category": "医療機関"},
]


def persona_object(**overrides: Any) -> Persona:
    """A finished persona, not stored (for prompts and offline composers)."""
    values: dict[str, Any] = {
        "id": "p1", "owner_id": 1, "status": "done", "department_id": "internal_medicine",
        "chief_complaint_id": "internal_medicine.influenza", "purpose_id": "increase_patients",
        "setting_type": "patient_type", "patient_type_id": "cost_conscious", "seed": 3, "name": PROFILE["name"],
        "profile": dict(PROFILE), "extras": dict(EXTRAS), "extra_fields": [], "sections": dict(SECTIONS),
        "keywords_used": [dict(k) for k in KEYWORDS]}
    values.update(overrides)
    return Persona(**values)


async def insert_persona(app, owner_id: int, **overrides: Any) -> Persona:
    """A finished persona (status done, six sections, keyword data) stored for ``owner_id``."""
    values: dict[str, Any] = {
        "id": new_persona_id(), "owner_id": owner_id, "status": "done", "department_id": "internal_medicine",
        "chief_complaint_id": "internal_medicine.influenza", "purpose_id": "increase_patients",
        "setting_type": "patient_type", "patient_type_id": "convenience_focused", "seed": 11, "request": {},
        "name": PROFILE["name"], "profile": dict(PROFILE), "extras": dict(EXTRAS), "extra_fields": [],
        "sections": dict(SECTIONS), "keywords_used": [dict(k) for k in KEYWORDS], "image_status": "failed",
        "timings": {},
    }
    values.update(overrides)
    if "name" in overrides:
        values["profile"] = {**values["profile"], "name": overrides["name"]}
    persona = Persona(**values)
    async with app.state.db.sessionmaker() as session:
        session.add(persona)
        await session.commit()
    return persona


async def user_id(app, username: str) -> int:
    from medipersona.accounts.models import User

    async with app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(User.id).where(User.username == username)))


async def count(app, model) -> int:
    async with app.state.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def events(client, url: str, timeout: float = 60.0) -> list[tuple[str, dict]]:
    async def run():
        response = await client.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.content)

    return await asyncio.wait_for(run(), timeout)


async def pdf_text(data: bytes, path) -> tuple[str, int]:
    """The text (pdftotext -layout) and page count of a PDF, read in a thread."""
    import re
    import subprocess

    def read() -> tuple[str, int]:
        path.write_bytes(data)
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return text, int(re.search(r"Pages:\s+(\d+)", info).group(1))

    return await asyncio.to_thread(read)


def error_of(response) -> dict:
    return response.json()["error"]


def field_messages(response) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"].get("fields") or []}


@register_provider
class RecordingProvider(OfflineProvider):
    """Offline answers that read images too, remembering every text request."""

    name: ClassVar[str] = "test_recording"
    accepts_images: ClassVar[bool] = True
    requests: ClassVar[list[TextRequest]] = []

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        type(self).requests.append(request)
        async for chunk in super().stream_text(request):
            yield chunk


@register_provider
class FailingProvider(OfflineProvider):
    """Every text call fails with a non-retryable error (the portrait works)."""

    name: ClassVar[str] = "test_failing"

    async def stream_text(self, request: TextRequest) -> AsyncIterator[str]:
        raise ProviderError("テスト用のAIサービス障害です。", code="provider_error")
        yield ""  # pragma: no cover
