"""WebP for browsers that take it, PNG for those that do not: derived once from the original, off the loop.

Palette images with flat colours (the offline portraits) compress best losslessly; photographs (AI portraits)
as lossy WebP at quality 80. Conversions share two threads: a burst of first views must not take the
anyio pool (40 threads, shared with every sync call) or the CPU from the requests.
"""

from __future__ import annotations

from io import BytesIO

import anyio
import anyio.to_thread

WEBP_QUALITY = 80
_limiter: anyio.CapacityLimiter | None = None


def _conversion_limiter() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(2)
    return _limiter


def convert(data: bytes, target: str) -> bytes:
    """``data`` (PNG / JPEG / WebP) as ``target`` ("webp" or "png"). Pure CPU work: call it in a thread."""
    from PIL import Image

    with Image.open(BytesIO(data)) as opened:
        img: Image.Image = opened
        out = BytesIO()
        if target == "webp":
            if img.mode == "P" or (img.mode in ("L", "LA") and img.size[0] <= 1024):
                img.save(out, format="WEBP", lossless=True, quality=50, method=2)
            else:
                if img.mode not in ("RGB", "RGBA"):
                    img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
                img.save(out, format="WEBP", quality=WEBP_QUALITY, method=4)
        else:
            img.save(out, format="PNG", compress_level=6)
        return out.getvalue()


async def convert_async(data: bytes, target: str) -> bytes:
    return await anyio.to_thread.run_sync(convert, data, target, limiter=_conversion_limiter())
