"""A tolerant JSON parser for text that is still being written (or was cut off).

``parse_partial(text)`` returns the fields of the first JSON object in ``text`` so far, including the string
being written (``{"personality": "明るく前向きな性"}`` for ``'{"personality": "明るく前向きな性'``). Incomplete
numbers and literals are left out unless ``final=True``, in which case they are completed as far as possible.
``repair_json(text)`` turns a model answer (code fences, prose around it, truncation, trailing commas) into the
first JSON object it holds.

It scans the text once with C-implemented helpers (``json.decoder.scanstring``), so parsing a few kB every
~100 ms while a stream grows costs microseconds.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # C-accelerated, not in the stubs
from typing import Any

_MISSING: Any = object()
_WS = " \t\r\n"
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)?(?:\.\d*)?(?:[eE][-+]?\d*)?")
_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)
_LITERALS = {"true": True, "false": False, "null": None}
_DECODER = json.JSONDecoder(strict=False)


class _Parser:
    __slots__ = ("final", "n", "s")

    def __init__(self, s: str, final: bool) -> None:
        self.s = s
        self.n = len(s)
        self.final = final

    def ws(self, i: int) -> int:
        s, n = self.s, self.n
        while i < n and s[i] in _WS:
            i += 1
        return i

    def value(self, i: int) -> tuple[Any, int, bool]:
        """(value or _MISSING, next index, complete?)"""
        i = self.ws(i)
        if i >= self.n:
            return _MISSING, i, False
        c = self.s[i]
        if c == "{":
            return self.obj(i)
        if c == "[":
            return self.arr(i)
        if c == '"':
            return self.string(i)
        if c == "-" or c.isdigit():
            return self.number(i)
        for word, val in _LITERALS.items():
            if self.s.startswith(word, i):
                return val, i + len(word), True
        rest = self.s[i:i + 5]
        if i + len(rest) >= self.n:  # cut off inside a literal?
            for word, val in _LITERALS.items():
                if word.startswith(rest):
                    return (val if self.final else _MISSING), self.n, False
        return _MISSING, i, False  # malformed

    def string(self, i: int) -> tuple[Any, int, bool]:
        try:
            text, end = scanstring(self.s, i + 1, False)
            return text, end, True
        except json.JSONDecodeError:
            pass
        # Unterminated (still being written): decode what is there, minus an incomplete escape at the end.
        raw = self.s[i + 1:]
        for _ in range(2):
            try:
                text, _ = scanstring(raw + '"', 0, False)
                if text and "\ud800" <= text[-1] <= "\udbff":  # cut between the halves of a surrogate pair
                    text = text[:-1]
                return text, self.n, False
            except json.JSONDecodeError:
                cut = raw.rfind("\\")
                if cut < 0:
                    break
                raw = raw[:cut]
        return _MISSING, self.n, False

    def number(self, i: int) -> tuple[Any, int, bool]:
        m = _NUMBER.match(self.s, i)
        token = m.group(0) if m else ""
        end = i + len(token)
        at_end = end >= self.n
        if at_end and not self.final:
            return _MISSING, end, False
        for candidate in (token, token.rstrip("eE+-."), token.rstrip("eE+-.") + "0"):
            try:
                return json.loads(candidate), end, not at_end
            except ValueError:
                continue
        return _MISSING, end, False

    def obj(self, i: int) -> tuple[Any, int, bool]:
        s, n = self.s, self.n
        result: dict[str, Any] = {}
        i += 1
        while True:
            i = self.ws(i)
            if i >= n:
                return result, n, False
            c = s[i]
            if c == "}":
                return result, i + 1, True
            if c == ",":
                i += 1
                continue
            if c != '"':
                return result, i, False  # malformed: keep what we have
            key, i, complete = self.string(i)
            if not complete:
                return result, n, False
            i = self.ws(i)
            if i >= n:
                return result, n, False
            if s[i] != ":":
                return result, i, False
            value, i, complete = self.value(i + 1)
            if value is not _MISSING:
                result[key] = value
            if not complete:
                return result, i, False

    def arr(self, i: int) -> tuple[Any, int, bool]:
        s, n = self.s, self.n
        result: list[Any] = []
        i += 1
        while True:
            i = self.ws(i)
            if i >= n:
                return result, n, False
            c = s[i]
            if c == "]":
                return result, i + 1, True
            if c == ",":
                i += 1
                continue
            value, i, complete = self.value(i)
            if value is not _MISSING:
                result.append(value)
            if not complete:
                return result, i, False


def _object_start(text: str) -> int:
    return text.find("{")


def parse_partial(text: str, *, final: bool = False) -> dict[str, Any]:
    """The fields of the first JSON object in ``text`` so far ({} when no object has started)."""
    start = _object_start(text)
    if start < 0:
        return {}
    value, _, _ = _Parser(text, final).obj(start)
    return value


def strip_code_fences(text: str) -> str:
    m = _FENCE.search(text)
    if m and "{" in m.group(1):
        return m.group(1)
    return text


def repair_json(text: str) -> tuple[dict[str, Any] | None, bool]:
    """(the first JSON object in a model answer or None, whether it needed repair)."""
    stripped = text.strip()
    try:
        value = json.loads(stripped)
        if isinstance(value, dict):
            return value, False
    except ValueError:
        pass
    body = strip_code_fences(stripped)
    start = _object_start(body)
    if start < 0:
        return None, True
    try:
        value, _ = _DECODER.raw_decode(body, start)
        if isinstance(value, dict):
            return value, True
    except ValueError:
        pass
    value, _, _ = _Parser(body, True).obj(start)
    return (value or None), True


class PartialJSON:
    """Feed chunks; ``snapshot()`` parses the accumulated text (cached until more text arrives)."""

    __slots__ = ("_dirty", "_last", "_parts", "_text")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._text = ""
        self._dirty = False
        self._last: dict[str, Any] = {}

    def feed(self, chunk: str) -> None:
        if chunk:
            self._parts.append(chunk)
            self._dirty = True

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._text = "".join(self._parts)
            self._parts = [self._text]
        elif self._parts:
            self._text = self._parts[0]
        return self._text

    def snapshot(self) -> dict[str, Any]:
        if self._dirty:
            self._last = parse_partial(self.text)
            self._dirty = False
        return self._last
