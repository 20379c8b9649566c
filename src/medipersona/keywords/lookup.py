"""Keyword lookups used by other domains.

Contract (keep the signature):
    await top_keywords_for_prompt(session, department_id, chief_complaint_id, age, gender, limit=15)
        -> list[dict] with keys keyword, volume, overlap, days, category, estimated_volume, match

Filters rows by the persona's gender (share >= 40 %) and age band (share >= 15 %); falls back to the
department-level dataset when the complaint has none; [] when there is no keyword data at all. When the
filters leave fewer than ``store.MIN_KEYWORDS``, the age filter relaxes step by step (neighbouring bands, then
none, then no gender filter either); ``match`` names the step (``store.STEP_LABELS``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.keywords import store


async def top_keywords_for_prompt(
    session: AsyncSession,
    department_id: str,
    chief_complaint_id: str | None,
    age: int | None,
    gender: str | None,
    limit: int = 15,
) -> list[dict]:
    return await store.top_keywords(session, department_id, chief_complaint_id, age, gender, limit=limit)
