"""Upload bombs, built on the fly (small on the wire, huge once expanded)."""

from __future__ import annotations

import io
import zipfile

WORKBOOK = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                 b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 b'worksheet" Target="worksheets/sheet1.xml"/>'
                 b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                 b'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
CONTENT_TYPES = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 b'<Default Extension="xml" ContentType="application/xml"/>'
                 b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                 b'spreadsheetml.sheet.main+xml"/>'
                 b'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
                 b'officedocument.spreadsheetml.worksheet+xml"/>'
                 b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                 b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
ROOT_RELS = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
             b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
             b'officeDocument" Target="xl/workbook.xml"/></Relationships>')
NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _sheet(rows: list[list[tuple[str, str]]]) -> bytes:
    """rows of (type, value) cells: type "s" (shared index) or "n" (number)."""
    out = [b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet ' + NS + b'><sheetData>']
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, (kind, value) in enumerate(row):
            ref = f"{chr(65 + c)}{r}".encode()
            t = b' t="s"' if kind == "s" else b""
            cells.append(b'<c r="' + ref + b'"' + t + b"><v>" + value.encode() + b"</v></c>")
        out.append(f'<row r="{r}">'.encode() + b"".join(cells) + b"</row>")
    out.append(b"</sheetData></worksheet>")
    return b"".join(out)


def xlsx(sheet: bytes, shared: list[str] | None = None, *, shared_filler: int = 0,
         truncate_sheet: bool = False) -> bytes:
    """A workbook; ``shared_filler`` extra ``<si><t>a</t></si>`` appended after ``shared`` (streamed)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet[: len(sheet) // 2] if truncate_sheet else sheet)
        with zf.open("xl/sharedStrings.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst ' + NS + b">")
            for text in shared or []:
                fh.write(b"<si><t>" + text.encode() + b"</t></si>")
            block = b"<si><t>a</t></si>" * 65536
            left = shared_filler
            while left > 0:
                n = min(left, 65536)
                fh.write(block if n == 65536 else b"<si><t>a</t></si>" * n)
                left -= n
            fh.write(b"</sst>")
    return buf.getvalue()


HEADER = ["名称", "緯度", "経度"]


def competitor_xlsx(*, filler: int = 0, use_last_index: bool = False, truncate_sheet: bool = False) -> bytes:
    """A valid competitor list (two clinics) whose shared strings end with ``filler`` junk strings;
    ``use_last_index``: one cell refers to the very last shared string (a reader must read them all)."""
    shared = [*HEADER, "さくら内科", "ひまわり医院"]
    rows = [[("s", "0"), ("s", "1"), ("s", "2")],
            [("s", "3"), ("n", "35.68"), ("n", "139.76")],
            [("s", "4"), ("n", "35.69"), ("n", "139.70")]]
    if use_last_index:
        rows.append([("s", str(len(shared) + filler - 1)), ("n", "35.70"), ("n", "139.71")])
    return xlsx(_sheet(rows), shared, shared_filler=filler, truncate_sheet=truncate_sheet)


def lying_zip(members: dict[str, bytes], declared_size: int) -> bytes:
    """A zip whose central directory and local headers declare ``declared_size`` for every member."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    raw = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as zf:
        infos = zf.infolist()
    import struct

    for info in infos:
        real = struct.pack("<I", info.file_size)
        lie = struct.pack("<I", declared_size)
        # local header: uncompressed size at offset 22
        off = info.header_offset
        assert raw[off + 22: off + 26] == real
        raw[off + 22: off + 26] = lie
    # central directory entries: uncompressed size at offset 24 of each "PK\x01\x02" record
    pos = 0
    while (pos := raw.find(b"PK\x01\x02", pos)) != -1:
        raw[pos + 24: pos + 28] = struct.pack("<I", declared_size)
        pos += 4
    return bytes(raw)
