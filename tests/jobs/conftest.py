from __future__ import annotations

import importlib.util

import pytest

from medipersona.providers.base import ImageRequest, ImageResult, Provider, TextRequest
from medipersona.providers.registry import register_provider


class _StandInOffline(Provider):
    """Only used while providers/offline.py has not landed (shared checkout under construction)."""

    name = "offline"
    supports_image = True

    async def stream_text(self, request: TextRequest):
        yield "{}"

    async def generate_image(self, request: ImageRequest) -> ImageResult:
        return ImageResult(b"\x89PNG....", "image/png", "stand-in")


@pytest.fixture(autouse=True, scope="session")
def _offline_provider_present():
    if importlib.util.find_spec("medipersona.providers.offline") is None:
        register_provider(_StandInOffline)
    yield
