"""CPU cost per generation of the provider layer (not a test; run it by hand):

    .venv/bin/python tests/providers/bench_cpu.py

200 concurrent generations (structured text with progress + portrait) through ``generate_structured`` and
``image_call``: offline, simulated with 0 s and 3 s / 5 s latency, and the official openai SDK against the local
fake API server (started in a separate process so its CPU is not counted). Prints wall time and this process's
CPU time (user + system) per generation.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from medipersona.providers.base import ImageRequest, TextRequest
from medipersona.providers.calls import image_call
from medipersona.providers.structured import generate_structured
from medipersona.settings import Settings
from tests.providers.fakes import PERSONA_CONTEXT

SERVER = """
import sys, json, uvicorn
sys.path.insert(0, {root!r})
from tests.providers.fakes import FakeAPI, Text, Image
api = FakeAPI()
body = json.dumps({{k: "テキスト" * 40 for k in ("name", "personality", "reason", "behavior", "reviews", "values",
                                              "demands")}}, ensure_ascii=False)
api.script("openai_chat", default=Text(body, chunks=40))
api.script("openai_images", default=Image())
uvicorn.run(api.app(), host="127.0.0.1", port={port}, log_level="warning", timeout_keep_alive=60)
"""


class Persona(BaseModel):
    name: str
    personality: str
    reason: str
    behavior: str
    reviews: str
    values: str
    demands: str


SCHEMA = Persona.model_json_schema()


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one(settings: Settings, i: int) -> None:
    text = TextRequest(task="persona_text", system="sys", prompt="prompt", schema=SCHEMA,
                       context=PERSONA_CONTEXT, seed=i)
    image = ImageRequest(task="portrait", prompt="p",
                         context={"age": 20 + i % 60, "gender": ("male", "female")[i % 2], "seed": i})
    await asyncio.gather(generate_structured(settings, text, Persona, on_progress=lambda p: None),
                         image_call(settings, image))


async def run(label: str, settings: Settings, n: int = 200) -> None:
    c0, w0 = cpu(), time.perf_counter()
    await asyncio.gather(*(one(settings, i) for i in range(n)))
    c1, w1 = cpu(), time.perf_counter()
    print(f"{label:48s} n={n} wall={w1 - w0:5.2f}s cpu={c1 - c0:5.2f}s  {(c1 - c0) / n * 1000:5.2f} ms/generation")


async def main(port: int) -> None:
    base = {"data_dir": "/tmp/medipersona-bench", "secret_key": "x"}
    sim0 = Settings(text_provider="simulated", image_provider="simulated", simulated_text_seconds=0,
                    simulated_image_seconds=0, **base)
    await run("simulated 0 s (portrait cache cold)", sim0)
    await run("simulated 0 s (portrait cache warm)", sim0)
    await run("offline", Settings(text_provider="offline", image_provider="offline", **base))
    await run("simulated text 3 s / image 5 s", Settings(
        text_provider="simulated", image_provider="simulated", simulated_text_seconds=3,
        simulated_image_seconds=5, **base))

    os.environ.update(OPENAI_API_KEY="sk-bench", OPENAI_BASE_URL=f"http://127.0.0.1:{port}/v1")
    sdk = Settings(text_provider="openai", image_provider="openai", **base)
    await run("openai SDK, warm-up", sdk, 20)
    await run("openai SDK (text 40 chunks + image), fake server", sdk)
    from medipersona.providers.openai_provider import OpenAIProvider

    print("AsyncOpenAI clients created in this process:", OpenAIProvider.clients_created)


def start_server() -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), port=port)])
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, port


if __name__ == "__main__":
    print(json.dumps({"python": sys.version.split()[0], "load": os.getloadavg()}))
    server, port = start_server()
    try:
        asyncio.run(main(port))
    finally:
        server.terminate()
        server.wait(5)
