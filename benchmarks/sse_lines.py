"""CPU per streamed chunk of reading an OpenAI-compatible SSE stream's lines: the SDK's ``iter_lines`` (bytes
decoded to text, then split) against ``providers.openai_provider._sse_lines`` (split as bytes; only a line's JSON
is decoded, by ``json.loads``). A real API sends a chunk per token.

    .venv/bin/python benchmarks/sse_lines.py
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import httpx2  # noqa: E402

from medipersona.providers.openai_provider import _sse_lines  # noqa: E402

CHUNKS = [("data: " + json.dumps({"choices": [{"delta": {"content": "患者は頭痛に"}}]}, ensure_ascii=False)
           + "\n\n").encode() for _ in range(150)]


class Stream(httpx2.AsyncByteStream):
    async def __aiter__(self):
        for chunk in CHUNKS:
            yield chunk


async def sdk_lines() -> int:
    return sum([1 async for line in httpx2.Response(200, stream=Stream()).aiter_lines() if line])


async def byte_lines() -> int:
    return sum([1 async for line in _sse_lines(httpx2.Response(200, stream=Stream()).aiter_bytes()) if line])


async def main() -> None:
    for reader in (sdk_lines, byte_lines, sdk_lines, byte_lines):
        started = time.process_time()
        for _ in range(300):
            assert await reader() == len(CHUNKS)
        spent = time.process_time() - started
        print(f"{reader.__name__}: {spent / 300 / len(CHUNKS) * 1e6:.2f} µs per chunk")


if __name__ == "__main__":
    asyncio.run(main())
