"""Small helpers every domain that stores user-owned rows needs: read one row the way the permissions require,
and write its times for the API.

Infrastructure: imports no domain (the import contracts in pyproject.toml). The reader is anything with an ``id``
and ``is_admin`` (``accounts.models.User``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from medipersona.errors import NotFound

T = TypeVar("T")
ID_MAX = 32  # the uuid hex ids of the rows; anything longer cannot exist


class Reader(Protocol):
    """Who reads a row: the fields of ``accounts.models.User`` the ownership check needs."""

    @property
    def id(self) -> Any: ...

    @property
    def is_admin(self) -> bool: ...


async def owned_or_404(session: AsyncSession, model: type[T], ident: str, user: Reader, *, message: str,
                       code: str) -> T:
    """The row if the user owns it (admins: any); 404 with ``message`` otherwise, also for rows of others (no
    existence leak)."""
    row: Any = await session.get(model, ident) if len(ident) <= ID_MAX else None
    if row is None or (row.owner_id != user.id and not user.is_admin):
        raise NotFound(message, code=code)
    return row


def iso(value: datetime | None) -> str | None:
    """An ISO 8601 time with its timezone (model times are aware UTC: ``db.UTCDateTime``)."""
    return None if value is None else value.isoformat()
