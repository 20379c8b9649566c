"""docs/sample-personas.md is what scripts/sample_personas.py writes today, and every sample breaks no rule."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sample_personas_doc_is_current_and_clean():
    spec = importlib.util.spec_from_file_location("sample_personas", ROOT / "scripts" / "sample_personas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.document()
    assert (ROOT / "docs" / "sample-personas.md").read_text(encoding="utf-8") == text, (
        "docs/sample-personas.md is stale: run .venv/bin/python scripts/sample_personas.py")
    assert text.count("## ") == 20 and text.count("- ルール違反: 0件") == 20
    departments = {line.split(" / ")[0].split(". ", 1)[1] for line in text.splitlines() if line.startswith("## ")}
    assert len(departments) >= 15
    assert text.count("- **保護者**") >= 3  # the paediatric samples show their guardian
