"""Read-only: the gender and age-band shares of a chief complaint's keyword data (for 自動 auto-fill).

    shares = await demographic_shares(session, department_id, chief_complaint_id)   # None: no data

The shares are the rows' 男性割合/女性割合 and 年代 shares averaged with the rows' search volume as weights: who
searches around the complaint. Only the complaint's own dataset counts (a department's data says nothing about
who has 妊娠糖尿病); auto-fill clips the draw to the complaint's attributes. Results are cached with the keyword
store's per-process cache (dropped whenever an import bumps the data version).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.catalog.labels import AGE_BANDS
from medipersona.keywords import store
from medipersona.keywords.store_cache import MISSING, fresh_cache


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
    cache = await fresh_cache(session)
    key = ("demographic_shares", department_id, chief_complaint_id)
    cached = cache.results.get_item(key)
    if cached is not MISSING:
        return cached
    dataset = await store.dataset_of(session, cache, department_id, chief_complaint_id)
    result = None
    if dataset is not None and len(dataset.pack):
        pack = dataset.pack
        weights = [volume + 1 for volume in pack.volume]
        total = float(sum(weights))
        male = sum(share * w for share, w in zip(pack.male, weights, strict=True)) / total
        female = sum(share * w for share, w in zip(pack.female, weights, strict=True)) / total
        ages = {code: sum(share * w for share, w in zip(column, weights, strict=True)) / total
                for (code, *_r), column in zip(AGE_BANDS, pack.ages, strict=True)}
        if male + female > 0 and sum(ages.values()) > 0:
            result = DemographicShares(male=round(male, 2), female=round(female, 2),
                                       ages={k: round(v, 2) for k, v in ages.items()}, rows=len(pack))
    cache.results.put(key, result)
    return result
