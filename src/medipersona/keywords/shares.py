"""Read-only: the gender and age-band shares of a chief complaint's keyword data (for 自動 auto-fill).

    shares = await demographic_shares(session, department_id, chief_complaint_id)   # None: no data

The shares are the rows' 男性割合/女性割合 and 年代 shares averaged with the rows' search volume as weights: who
searches around the complaint. Only the complaint's own dataset counts (a department's data says nothing about
who has 妊娠糖尿病); auto-fill clips the draw to the complaint's attributes. Results are cached with the keyword
store's per-process cache (dropped whenever an import bumps the data version).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.catalog.labels import AGE_BANDS
from medipersona.keywords import store
from medipersona.keywords.models import AGE_COLUMNS, KeywordDataset, KeywordRow, scope_key


@dataclass(frozen=True)
class DemographicShares:
    male: float
    female: float
    ages: dict[str, float] = field(default_factory=dict)  # band code -> share in %
    level: str = "chief_complaint"
    rows: int = 0


async def demographic_shares(session: AsyncSession, department_id: str,
                             chief_complaint_id: str | None) -> DemographicShares | None:
    if not chief_complaint_id:
        return None
    cache = await store._fresh_cache(session)
    key = ("demographic_shares", department_id, chief_complaint_id)
    cached = cache.results.get_item(key)
    if cached is not store._MISSING:
        return cached
    kr = KeywordRow.__table__.c
    ds = KeywordDataset.__table__.c
    weight = func.coalesce(kr.volume, 0) + 1
    columns = [func.sum(kr.male * weight), func.sum(kr.female * weight)]
    columns += [func.sum(kr[col] * weight) for col in AGE_COLUMNS]
    stmt = (select(func.count(), func.sum(weight), *columns)
            .select_from(KeywordDataset.__table__.join(KeywordRow.__table__, kr.dataset_id == ds.id))
            .where(ds.scope == scope_key(department_id, chief_complaint_id)))
    connection = await session.connection()
    row = (await connection.execute(stmt)).first()
    result = None
    if row is not None and row[0] and row[1]:
        total = float(row[1])
        male, female = float(row[2] or 0) / total, float(row[3] or 0) / total
        ages = {code: float(value or 0) / total for (code, *_r), value in zip(AGE_BANDS, row[4:], strict=True)}
        if male + female > 0 and sum(ages.values()) > 0:
            result = DemographicShares(male=round(male, 2), female=round(female, 2),
                                       ages={k: round(v, 2) for k, v in ages.items()}, rows=int(row[0]))
    cache.results.put(key, result)
    return result
