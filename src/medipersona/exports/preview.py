"""Slide previews: draw a PPTX's slides to PNG with Pillow from what the file says (positions, sizes, fonts, text).

No LibreOffice on the server: this reads the PPTX back with python-pptx and draws every rectangle, picture and
text box with IPAexGothic, wrapping each paragraph in its box at its font size and line pitch. Used for the sample
renders in docs/samples and by the tests (tools only, not the request path).
"""

from __future__ import annotations

from io import BytesIO

from medipersona.exports.fonts import PT_MM, font_path, metrics
from medipersona.exports.layout import wrap

EMU_MM = 1 / 36000


def _rgb(color, default=None):
    try:
        if color.type is not None:
            return tuple(color.rgb)
    except AttributeError:
        pass
    return default


def text_boxes(slide):
    """(shape, paragraphs[(text, size_pt, line_pitch_pt, rgb, align)]) for every text box with text."""
    for shape in slide.shapes:
        if not shape.has_text_frame or not shape.text_frame.text.strip():
            continue
        paragraphs = []
        for p in shape.text_frame.paragraphs:
            runs = p.runs
            size = runs[0].font.size.pt if runs and runs[0].font.size else 18.0
            pitch = p.line_spacing.pt if hasattr(p.line_spacing, "pt") else size * 1.2
            color = _rgb(runs[0].font.color, (0, 0, 0)) if runs else (0, 0, 0)
            align = {1: "left", 2: "center", 3: "right"}.get(int(p.alignment or 1), "left")
            paragraphs.append(("".join(r.text for r in runs), size, pitch, color, align))
        yield shape, paragraphs


def measured_height_mm(paragraphs, width_mm: float) -> float:
    """Height of the paragraphs wrapped to width_mm with the font's metrics at their sizes and line pitch."""
    fm = metrics()
    total = 0.0
    for text, size, pitch, _color, _align in paragraphs:
        total += len(wrap(fm, text, width_mm, size)) * pitch * PT_MM
    return total


def slide_images(pptx_bytes: bytes, dpi: int = 110):
    from PIL import Image, ImageDraw, ImageFont
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    prs = Presentation(BytesIO(pptx_bytes))
    px = dpi / 25.4  # pixels per mm
    width = int((prs.slide_width or 0) * EMU_MM * px)
    height = int((prs.slide_height or 0) * EMU_MM * px)
    fm = metrics()
    fonts: dict[int, ImageFont.FreeTypeFont] = {}
    images = []
    for slide in prs.slides:
        img = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(img)
        for shape in slide.shapes:
            x, y = shape.left * EMU_MM * px, shape.top * EMU_MM * px
            w, h = shape.width * EMU_MM * px, shape.height * EMU_MM * px
            if shape.shape_type == MSO_SHAPE_TYPE.PICTURE:
                pic = Image.open(BytesIO(shape.image.blob)).convert("RGB").resize((max(1, round(w)), max(1, round(h))))
                img.paste(pic, (round(x), round(y)))
            elif shape.shape_type == MSO_SHAPE_TYPE.AUTO_SHAPE:
                fill = _rgb(shape.fill.fore_color) if shape.fill.type == 1 else None
                line = _rgb(shape.line.color) if shape.line.fill.type == 1 else None
                draw.rectangle([x, y, x + w - 1, y + h - 1], fill=fill, outline=line)
        for shape, paragraphs in text_boxes(slide):
            x, y = shape.left * EMU_MM * px, shape.top * EMU_MM * px
            box_w_mm = shape.width * EMU_MM
            cy = y
            for text, size, pitch, color, align in paragraphs:
                key = round(size * PT_MM * px * 4)
                font = fonts.get(key) or fonts.setdefault(key, ImageFont.truetype(str(font_path()), key / 4))
                pitch_px = pitch * PT_MM * px
                for line in wrap(fm, text, box_w_mm, size):
                    lw = fm.width_mm(line, size) * px
                    lx = x + {"left": 0, "center": (shape.width * EMU_MM * px - lw) / 2,
                              "right": shape.width * EMU_MM * px - lw}[align]
                    draw.text((lx, cy + pitch_px / 2), line, font=font, fill=color, anchor="lm")
                    cy += pitch_px
        images.append(img)
    return images
