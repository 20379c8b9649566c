"""Offline portraits: a friendly flat illustrated bust drawn with Pillow, varied by age and gender.

The look is chosen from a small set of variants (age group x gender x hair style x skin tone x palette = 288)
derived from the seed, so rendered PNGs are cached (LRU) and 200 concurrent generations cost a handful of
renders. Rendering runs in one worker thread (see render_limiter); concurrent requests for the same variant
share one render.
"""

from __future__ import annotations

import asyncio
import io
import random
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from medipersona.providers.composers import parse_age

SIZE = 512
CACHE_SIZE = 320

SKIN_TONES = ((0xF8, 0xD9, 0xC0), (0xEE, 0xC3, 0x9A), (0xD9, 0xA6, 0x7E))
HAIR_COLOURS = ((0x2B, 0x22, 0x1E), (0x4A, 0x33, 0x28), (0x6B, 0x4A, 0x36))
GREY_HAIR = ((0xC9, 0xC9, 0xC9), (0xB0, 0xAE, 0xAA), (0xDD, 0xDA, 0xD5))
# (clothing, background, background accent)
PALETTES = (
    ((0x4F, 0x7C, 0xAC), (0xE4, 0xEF, 0xF7), (0xCF, 0xE2, 0xF0)),
    ((0xD9, 0x7B, 0x66), (0xFB, 0xEE, 0xE6), (0xF5, 0xDA, 0xCB)),
    ((0x6A, 0xA8, 0x7A), (0xEA, 0xF4, 0xEA), (0xD3, 0xE8, 0xD5)),
    ((0x8E, 0x7C, 0xC3), (0xF0, 0xEC, 0xF8), (0xDD, 0xD5, 0xF0)),
)
AGE_GROUPS = ("child", "young", "middle", "elderly")


@dataclass(frozen=True)
class Variant:
    age_group: str
    gender: str  # male | female
    hair: int  # 0..2
    skin: int  # 0..2
    palette: int  # 0..3


def age_group(age: int | None) -> str:
    if age is None:
        return "young"
    if age < 13:
        return "child"
    if age < 40:
        return "young"
    if age < 65:
        return "middle"
    return "elderly"


def _gender(value: Any, rng: random.Random) -> str:
    text = str(value or "").strip().lower()
    if text in ("male", "男性", "男", "m"):
        return "male"
    if text in ("female", "女性", "女", "f"):
        return "female"
    return rng.choice(("male", "female"))


def variant_for(context: dict[str, Any], seed: int | None = None) -> Variant:
    """The variant for a portrait request: age and gender from the context, the rest from the seed."""
    seed = context.get("seed", seed)
    rng = random.Random(zlib.crc32(f"portrait:{seed}".encode()))
    return Variant(
        age_group=age_group(parse_age(context.get("age"))),
        gender=_gender(context.get("gender"), rng),
        hair=rng.randrange(3),
        skin=rng.randrange(3),
        palette=rng.randrange(len(PALETTES)),
    )


def _darker(colour: tuple[int, int, int], factor: float = 0.8) -> tuple[int, int, int]:
    return tuple(int(c * factor) for c in colour)  # type: ignore[return-value]


class _PaletteDraw:
    """ImageDraw on a "P" image taking RGB tuples: each new colour gets the next palette index."""

    def __init__(self, draw: Any) -> None:
        self._draw = draw
        self._colours: dict[tuple[int, ...], int] = {}

    def index(self, colour: tuple[int, ...]) -> int:
        found = self._colours.get(colour)
        if found is None:
            found = self._colours[colour] = len(self._colours)
        return found

    def palette(self) -> list[int]:
        flat: list[int] = []
        for colour in self._colours:  # insertion order == index order
            flat.extend(colour[:3])
        return flat

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._draw, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            for key in ("fill", "outline"):
                if isinstance(kwargs.get(key), tuple):
                    kwargs[key] = self.index(kwargs[key])
            return method(*args, **kwargs)

        return call


def render_portrait(v: Variant) -> bytes:
    """Draw one variant as a 512x512 PNG (pure; runs in a thread)."""
    from PIL import Image, ImageDraw

    clothing, background, accent = PALETTES[v.palette]
    skin = SKIN_TONES[v.skin]
    hair = GREY_HAIR[v.hair] if v.age_group == "elderly" else HAIR_COLOURS[v.hair]
    # A palette image: every colour is flat, and PNG-encoding 8-bit indices costs a fraction of RGB.
    img = Image.new("P", (SIZE, SIZE), 0)
    d = _PaletteDraw(ImageDraw.Draw(img))
    d.index(background)
    d.ellipse((56, 40, 456, 440), fill=accent)

    cx = SIZE // 2
    # Face proportions by age: children have a large round head, the elderly a longer face.
    if v.age_group == "child":
        hw, hh, top, body_top, shoulder = 108, 112, 120, 370, 150
    elif v.age_group == "elderly":
        hw, hh, top, body_top, shoulder = 92, 118, 112, 360, 180
    else:
        hw, hh, top, body_top, shoulder = 94, 114, 108, 356, 188
    head = (cx - hw, top, cx + hw, top + 2 * hh)
    face_mid = top + hh

    # Long hair behind the head and shoulders.
    if v.gender == "female" and v.hair in (1, 2):
        length = 150 if v.hair == 2 else 70
        d.rounded_rectangle((cx - hw - 16, top + 20, cx + hw + 16, face_mid + length), radius=60, fill=hair)

    # Body and neck.
    d.rounded_rectangle((cx - shoulder, body_top, cx + shoulder, SIZE + 60), radius=90, fill=clothing)
    d.rectangle((cx - 30, face_mid + hh - 30, cx + 30, body_top + 18), fill=_darker(skin, 0.93))
    d.polygon(((cx - 42, body_top), (cx + 42, body_top), (cx, body_top + 62)), fill=_darker(skin, 0.93))
    if v.age_group == "elderly":  # cardigan edges
        d.line(((cx - 44, body_top + 4), (cx - 10, SIZE)), fill=_darker(clothing, 0.7), width=8)
        d.line(((cx + 44, body_top + 4), (cx + 10, SIZE)), fill=_darker(clothing, 0.7), width=8)
    elif v.gender == "male" and v.age_group == "middle":  # a tie
        d.polygon(((cx - 10, body_top + 40), (cx + 10, body_top + 40), (cx + 16, body_top + 120),
                   (cx, body_top + 140), (cx - 16, body_top + 120)), fill=_darker(clothing, 0.55))

    # Ears and head.
    d.ellipse((cx - hw - 16, face_mid - 18, cx - hw + 14, face_mid + 26), fill=_darker(skin, 0.95))
    d.ellipse((cx + hw - 14, face_mid - 18, cx + hw + 16, face_mid + 26), fill=_darker(skin, 0.95))
    d.ellipse(head, fill=skin)

    # Front hair.
    if v.gender == "male":
        if v.age_group in ("middle", "elderly") and v.hair == 0:  # receding
            d.chord((cx - hw - 4, top - 10, cx + hw + 4, top + 110), 180, 360, fill=hair)
            d.ellipse((cx - 50, top - 4, cx + 50, top + 40), fill=skin)
        else:
            d.chord((cx - hw - 6, top - 14, cx + hw + 6, top + 130 + 10 * v.hair), 180, 360, fill=hair)
            if v.hair == 2:  # side part
                d.polygon(((cx - hw, top + 60), (cx + 20, top + 8), (cx - hw + 10, top + 90)), fill=hair)
    else:
        d.chord((cx - hw - 8, top - 16, cx + hw + 8, top + 150), 180, 360, fill=hair)
        d.pieslice((cx - hw - 8, top - 10, cx + 40, top + 150), 180, 270, fill=hair)
        if v.hair == 0:  # bun
            d.ellipse((cx - 40, top - 52, cx + 40, top + 16), fill=hair)

    # Face.
    eye_y = face_mid + 6
    eye_dx = 40 if v.age_group != "child" else 44
    eye_r = 9 if v.age_group != "child" else 12
    dark = (0x33, 0x2A, 0x28)
    for sx in (-1, 1):
        ex = cx + sx * eye_dx
        d.ellipse((ex - eye_r, eye_y - eye_r, ex + eye_r, eye_y + eye_r), fill=dark)
        d.ellipse((ex - eye_r // 3, eye_y - eye_r // 2 - 2, ex + eye_r // 3, eye_y - 2), fill=(255, 255, 255))
        d.line(((ex - 18, eye_y - 26), (ex + 18, eye_y - 28 - (2 if v.gender == "male" else 0))),
               fill=_darker(hair, 0.8), width=6 if v.gender == "male" else 4)
        if v.age_group in ("child", "young") or v.gender == "female":
            d.ellipse((ex + sx * 14 - 16, eye_y + 22, ex + sx * 14 + 16, eye_y + 38), fill=(0xF4, 0xA8, 0x9A))
        if v.age_group == "elderly":
            d.line(((ex + sx * 16, eye_y - 4), (ex + sx * 26, eye_y - 10)), fill=_darker(skin, 0.8), width=3)
    d.arc((cx - 10, eye_y + 16, cx + 10, eye_y + 40), 20, 160, fill=_darker(skin, 0.75), width=3)
    mouth_w = 28 if v.age_group != "child" else 24
    d.arc((cx - mouth_w, eye_y + 30, cx + mouth_w, eye_y + 70), 25, 155, fill=(0xB5, 0x4B, 0x4B), width=5)
    if v.age_group == "elderly" and v.hair != 1:  # glasses
        for sx in (-1, 1):
            ex = cx + sx * eye_dx
            d.ellipse((ex - 24, eye_y - 20, ex + 24, eye_y + 20), outline=(0x55, 0x4A, 0x44), width=4)
        d.line(((cx - eye_dx + 24, eye_y), (cx + eye_dx - 24, eye_y)), fill=(0x55, 0x4A, 0x44), width=4)
    if v.age_group == "middle" and v.gender == "male" and v.hair == 1:  # a short beard shadow
        d.chord(head, 30, 150, fill=_darker(skin, 0.9))
        d.arc((cx - mouth_w, eye_y + 30, cx + mouth_w, eye_y + 70), 25, 155, fill=(0xB5, 0x4B, 0x4B), width=5)

    img.putpalette(d.palette())
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


_cache: OrderedDict[Variant, bytes] = OrderedDict()
_pending: dict[Variant, asyncio.Future[bytes]] = {}
stats = {"renders": 0, "hits": 0}
_render_limiter = None


def render_limiter():
    """One render thread per process: rendering is pure CPU under the GIL, so more threads only take turns
    with the event loop (each CPU-bound thread gets an equal share of the GIL, and the loop serves requests
    with the rest). One thread leaves the loop at least half the interpreter while a burst renders."""
    import anyio

    global _render_limiter
    if _render_limiter is None:
        _render_limiter = anyio.CapacityLimiter(1)
    return _render_limiter


async def portrait_png(context: dict[str, Any], seed: int | None = None) -> bytes:
    """The PNG for a portrait request (cached by variant; rendered off the event loop)."""
    import anyio.to_thread

    variant = variant_for(context, seed)
    data = _cache.get(variant)
    if data is not None:
        _cache.move_to_end(variant)
        stats["hits"] += 1
        return data
    pending = _pending.get(variant)
    if pending is not None and pending.get_loop() is asyncio.get_running_loop():  # same render in flight
        stats["hits"] += 1
        return await asyncio.shield(pending)
    future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
    _pending[variant] = future
    try:
        data = await anyio.to_thread.run_sync(render_portrait, variant, limiter=render_limiter())
    except BaseException as exc:
        if not future.done():
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # mark retrieved
            else:
                future.cancel()
        raise
    finally:
        if _pending.get(variant) is future:
            del _pending[variant]
    stats["renders"] += 1
    future.set_result(data)
    _cache[variant] = data
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return data
