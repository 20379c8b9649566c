"""Bounded reading of uploaded files: counted zip members and a streaming XLSX reader.

Every upload's work is bounded whatever its content: a zip member is decompressed through ``CountingReader``,
which stops at the real limit whatever the member's header declares; an XLSX workbook is parsed as a stream
(``uploads.xlsx``) with limits on rows, columns, cell sizes, shared strings and total expanded bytes. Passing a
limit raises ``UploadLimitExceeded`` (413 for sizes, 422 for malformed content) with a Japanese message, as soon
as it is passed; nothing read so far is kept.
"""

from __future__ import annotations

from medipersona.uploads.limits import CountingReader, UploadLimitExceeded, read_zip_member

__all__ = ["CountingReader", "UploadLimitExceeded", "read_zip_member"]
