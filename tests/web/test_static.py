"""Static files: the pages' streaming scripts are ES modules importing the one SSE client (sse.js); a module's own
import carries no version query, so it is revalidated (no-cache) while versioned URLs keep normal caching."""

from __future__ import annotations

import re

from medipersona.web.templating import STATIC_DIR

STREAMING_PAGES = ("persona", "timeline", "competitors", "persona_set", "interview", "message_test")


def test_every_streaming_page_uses_the_one_sse_module():
    for name in STREAMING_PAGES:
        text = (STATIC_DIR / "js" / f"{name}.js").read_text(encoding="utf-8")
        assert 'import { eventStream } from "./sse.js";' in text, name
        assert "new EventSource" not in text and "window.EventSource" not in text, name
    uses = re.compile(r"\bEventSource\s*[(.]|window\.EventSource")  # code, not comments naming it
    others = [p.name for p in (STATIC_DIR / "js").glob("*.js") if p.name != "sse.js"
              and uses.search(p.read_text(encoding="utf-8"))]
    assert others == []


def test_templates_load_streaming_scripts_as_modules():
    templates = STATIC_DIR.parent / "templates"
    names = "|".join(STREAMING_PAGES)
    pattern = re.compile(rf'<script([^>]*)src="/static/js/({names})\.js')
    found = set()
    for path in templates.rglob("*.html"):
        for attrs, name in pattern.findall(path.read_text(encoding="utf-8")):
            assert 'type="module"' in attrs, (path.name, name)
            found.add(name)
    assert found == set(STREAMING_PAGES)


async def test_unversioned_module_import_is_revalidated(client):
    plain = await client.get("/static/js/sse.js")
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == "no-cache"
    assert "export function eventStream" in plain.text
    versioned = await client.get("/static/js/persona.js?v=1")
    assert versioned.status_code == 200
    assert "cache-control" not in versioned.headers
