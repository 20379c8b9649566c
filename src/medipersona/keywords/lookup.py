"""Keyword lookups used by other domains (keyword-data work replaces this stub with the real store).

Contract (keep the signature):
    await top_keywords_for_prompt(session, department_id, chief_complaint_id, age, gender, limit=15)
        -> list[dict] with keys keyword, volume, overlap, days, category, estimated_volume
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession


async def top_keywords_for_prompt(
    session: AsyncSession,
    department_id: str,
    chief_complaint_id: str | None,
    age: int | None,
    gender: str | None,
    limit: int = 15,
) -> list[dict]:
    return []
