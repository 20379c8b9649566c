"""Geography API: ``GET /api/geo/postal/{code}`` → the address of a postal code, from data installed with the
app (no outside call). 422 for a malformed code, 404 for a code Japan Post does not know."""

from __future__ import annotations

from fastapi import APIRouter

from medipersona.deps import CurrentUser
from medipersona.errors import InvalidInput, NotFound
from medipersona.geo import service

router = APIRouter(prefix="/api/geo", tags=["geo"])


@router.get("/postal/{code}")
async def postal_code(code: str, _user: CurrentUser) -> dict:
    """{"postal_code", "prefecture", "city", "town", "municipality_code", "other_towns", "position"}."""
    normalized = service.normalize_postal(code[:20])
    if normalized is None:
        message = "郵便番号は7桁の数字で入力してください（例: 100-0005）。"
        raise InvalidInput(message, fields=[{"field": "code", "in": "path", "message": message}])
    found = await service.lookup_postal(normalized)
    if found is None:
        raise NotFound(f"郵便番号「{normalized}」は見つかりませんでした。番号を確認してください。",
                       code="postal_code_not_found")
    return found
