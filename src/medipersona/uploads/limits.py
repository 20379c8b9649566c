"""Counting readers: decompressed bytes are counted as they are produced and refused at the limit."""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import IO

CHUNK = 64 * 1024


class UploadLimitExceeded(Exception):
    """An upload passed a limit (``status`` 413) or is malformed (422). ``message`` is for the user (Japanese)."""

    def __init__(self, message: str, status: int = 413) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ByteBudget:
    """Bytes left for one upload (all its members together)."""

    def __init__(self, limit: int, message: str) -> None:
        self.limit = limit
        self.used = 0
        self.message = message

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise UploadLimitExceeded(self.message)


class CountingReader(io.RawIOBase):
    """A read-only stream over ``raw`` that raises ``UploadLimitExceeded`` once more than ``limit`` bytes came
    out of it (and charges every byte to the optional shared ``budget``)."""

    def __init__(self, raw: IO[bytes], limit: int, message: str, budget: ByteBudget | None = None) -> None:
        self.raw = raw
        self.limit = limit
        self.message = message
        self.budget = budget
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self.limit + 1 - self.count
        # Never ask for more than one byte beyond the limit: a lying header cannot make us decompress more.
        n = max(1, min(n, self.limit + 1 - self.count))
        data = self.raw.read(n)
        self.count += len(data)
        if self.budget is not None:
            self.budget.take(len(data))
        if self.count > self.limit:
            raise UploadLimitExceeded(self.message)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def chunks(self, size: int = CHUNK):
        while True:
            data = self.read(size)
            if not data:
                return
            yield data


ZIP_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError, EOFError, zlib.error,
                   NotImplementedError, ValueError)


def read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, message: str,
                    budget: ByteBudget | None = None) -> bytes:
    """The member's bytes, decompressed in chunks and refused (``UploadLimitExceeded``) as soon as more than
    ``limit`` bytes (or the shared ``budget``) came out, whatever ``info.file_size`` says. Other read errors
    propagate as ``ZIP_READ_ERRORS``."""
    if info.file_size > limit:
        raise UploadLimitExceeded(message)
    out = bytearray()
    with archive.open(info) as member:
        reader = CountingReader(member, limit, message, budget)
        try:
            for chunk in reader.chunks():
                out += chunk
        except UploadLimitExceeded:
            out = bytearray()  # let go of what was read before raising
            raise
    return bytes(out)
