"""The Japanese font of the exports and charts (IPAexGothic, ``ipaexg.ttf``), its one finder, and its metrics.

The font comes from the Debian package ``fonts-ipaexfont-gothic`` (``scripts/install-system-deps.sh``, run by
``make run``/``make dev``/``make test``), found at its Debian path or through fontconfig. Where no Debian package
can be installed (Render's native Python runtime), the optional ``font`` extra (``pip install '.[font]'``,
the ``matplotlib-fontja`` wheel, which pulls in matplotlib and numpy) ships the same file: it is located without
importing it. Callers that draw text (keyword chart, competitor map PNGs) take the path from ``font_path()``.
Metrics come from the font file itself (Pillow ``ImageFont`` for advance widths, fontTools for the character map),
are loaded once per export process and shared by the PDF layout, the PPTX layout and the tests.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

FONT_FILE = "ipaexg.ttf"
FONT_FAMILY = "IPAexGothic"
PT_MM = 25.4 / 72  # one typographic point in millimetres
DEBIAN_PACKAGE = "fonts-ipaexfont-gothic"
DEBIAN_FONT_PATH = Path("/usr/share/fonts/opentype/ipaexfont-gothic") / FONT_FILE
FONT_EXTRA_PACKAGE = "matplotlib_fontja"  # the `font` extra's wheel (module name)


def _find_with_fontconfig() -> Path | None:
    """The file fontconfig serves for IPAexGothic (other distributions' paths), if it is that very file."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        out = subprocess.run([fc_match, "--format=%{file}", FONT_FAMILY], capture_output=True, text=True,
                             timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out) if out else None
    return path if path is not None and path.name == FONT_FILE and path.is_file() else None


def _find_in_package(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        found = next(Path(location).rglob(FONT_FILE), None)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=1)
def font_path() -> Path:
    """Path of ipaexg.ttf: the Debian package's, fontconfig's, or the ``font`` extra's; a clear error otherwise."""
    if DEBIAN_FONT_PATH.is_file():
        return DEBIAN_FONT_PATH
    found = _find_with_fontconfig() or _find_in_package(FONT_EXTRA_PACKAGE)
    if found is None:
        raise RuntimeError(
            f"Japanese font {FONT_FAMILY} ({FONT_FILE}) not found: install the Debian package {DEBIAN_PACKAGE} "
            f"(`bash scripts/install-system-deps.sh`, run by `make run`), or, where no Debian package can be "
            f"installed, the font extra (`pip install 'medipersona[font]'`)")
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
