"""The Japanese font of the exports (IPAexGothic from the ``matplotlib-fontja`` wheel) and its metrics.

The font file is located without importing ``matplotlib_fontja`` (that would pull in matplotlib). Metrics come
from the font file itself (Pillow ``ImageFont`` for advance widths, fontTools for the character map), are loaded
once per export process and shared by the PDF layout, the PPTX layout and the tests.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

FONT_FILE = "ipaexg.ttf"
FONT_FAMILY = "IPAexGothic"
PT_MM = 25.4 / 72  # one typographic point in millimetres


def _find_in_package(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for candidate in (Path(location) / "fonts" / FONT_FILE, Path(location) / FONT_FILE):
            if candidate.is_file():
                return candidate
        found = next(Path(location).rglob(FONT_FILE), None)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=1)
def font_path() -> Path:
    """Path of ipaexg.ttf. Prefers ``keywords.chart.font_path()`` (one font finder for charts and exports)."""
    from medipersona.keywords import chart  # light module: its heavy imports are lazy

    path = Path(chart.font_path())
    if path.is_file():
        return path
    found = _find_in_package("matplotlib_fontja")
    if found is None:
        raise RuntimeError("Japanese font ipaexg.ttf not found: install the matplotlib-fontja package")
    return found


class FontMetrics:
    """Advance widths (in em) and vertical metrics of one TTF, cached per character."""

    def __init__(self, path: Path | str) -> None:
        from fontTools.ttLib import TTFont
        from PIL import ImageFont

        self.path = str(path)
        self._font = ImageFont.truetype(self.path, size=1000)
        ascent, descent = self._font.getmetrics()
        self.ascent = ascent / 1000  # em
        self.descent = descent / 1000
        tt = TTFont(self.path, lazy=True)
        self.codepoints = frozenset(tt.getBestCmap().keys())
        tt.close()
        self._adv: dict[str, float] = {}

    def supports(self, ch: str) -> bool:
        return ord(ch) in self.codepoints

    def em(self, ch: str) -> float:
        adv = self._adv.get(ch)
        if adv is None:
            adv = self._font.getlength(ch) / 1000
            self._adv[ch] = adv
        return adv

    def width_em(self, text: str) -> float:
        return sum(self.em(ch) for ch in text)

    def width_mm(self, text: str, size_pt: float) -> float:
        return self.width_em(text) * size_pt * PT_MM

    def clean(self, text: str) -> str:
        """Text the font can draw: tabs to spaces, other control and unsupported characters dropped."""
        out = []
        for ch in str(text).replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "):
            if ch == "\n" or (ord(ch) >= 0x20 and self.supports(ch)):
                out.append(ch)
        return "".join(out)


@lru_cache(maxsize=1)
def metrics() -> FontMetrics:
    return FontMetrics(font_path())
