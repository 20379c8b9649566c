"""The vocabulary of laid-out pages: A4 landscape in millimetres, named boxes and font ranges, colours, and the
drawing operations (text, rectangle, image) both renderers (``pdf.py``, ``pptx.py``) draw.

Layout code passes a ``Box`` and a ``FontRange`` rather than six loose numbers, so a call says which number is
which. No library imports: this runs in the export process pool.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from medipersona.exports.fonts import PT_MM

PAGE_W = 297.0
PAGE_H = 210.0
MARGIN = 10.0
LINE_FACTOR = 1.4  # line height / font size

ACCENT = (31, 78, 121)
ACCENT_LIGHT = (234, 241, 248)
TEXT = (33, 33, 33)
MUTED = (96, 96, 96)
BORDER = (200, 208, 218)
PLACEHOLDER = (242, 242, 242)
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class Box:
    """A rectangle on the page: top-left corner (x, y), width and height, in mm."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class FontRange:
    """The sizes a text role may take, in pt: fitted as large as its box allows, never below ``min_pt``."""

    max_pt: float
    min_pt: float


@dataclass
class TextOp:
    x: float
    y: float
    w: float
    h: float
    text: str  # the text as given (paragraphs separated by \n)
    lines: list[str]  # the wrapped lines drawn in the PDF
    size: float  # pt
    color: tuple[int, int, int] = TEXT
    align: str = "left"  # left | center | right
    kind: str = "text"

    @property
    def line_h(self) -> float:
        return self.size * LINE_FACTOR * PT_MM


@dataclass
class RectOp:
    x: float
    y: float
    w: float
    h: float
    fill: tuple[int, int, int] | None = None
    border: tuple[int, int, int] | None = None
    kind: str = "rect"


@dataclass
class ImageOp:
    x: float
    y: float
    w: float
    h: float
    data: bytes
    fmt: str = "raster"  # raster (PNG/JPEG) | svg (PDF only)
    kind: str = "image"


@dataclass
class Page:
    ops: list = field(default_factory=list)


def rect(box: Box, fill: tuple[int, int, int] | None = None, border: tuple[int, int, int] | None = None) -> RectOp:
    return RectOp(box.x, box.y, box.w, box.h, fill=fill, border=border)


def image(box: Box, data: bytes, fmt: str = "raster") -> ImageOp:
    return ImageOp(box.x, box.y, box.w, box.h, data, fmt)


def contain(img_w: int, img_h: int, box: Box) -> Box:
    """The largest box of the image's aspect ratio inside ``box``, centred in it."""
    scale = min(box.w / img_w, box.h / img_h)
    dw, dh = img_w * scale, img_h * scale
    return Box(box.x + (box.w - dw) / 2, box.y + (box.h - dh) / 2, dw, dh)
