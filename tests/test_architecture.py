"""The import contracts (``[tool.importlinter]`` in pyproject.toml), every one kept.

Infrastructure (``db``, ``jobs``, ``providers``, ``retry``, ``localtime``, ``settings``, ``errors``, the web
helpers) imports no domain package, directly or through another module, lazily inside a function included; the
domains register what the infrastructure runs for them at start (``medipersona/domains.py``). Within each domain
pages/routers -> services -> models, never back; the cycles issue 16 named stay broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run([exe, "--no-cache", str(config)], cwd=ROOT / "src", capture_output=True, text=True,
                          timeout=120)


def test_import_contracts_are_kept():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert {"infrastructure-knows-no-domain", "domain-layers"} <= {c["id"] for c in contracts}
    result = _lint_imports(ROOT / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


def test_a_broken_contract_fails(tmp_path):
    """The check can fail: infrastructure forbidden from importing a module it does import is reported."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "medipersona"\n\n'
        '[[tool.importlinter.contracts]]\nname = "jobs may not import db"\ntype = "forbidden"\n'
        'source_modules = ["medipersona.jobs"]\nforbidden_modules = ["medipersona.db"]\n'
    )
    result = _lint_imports(config)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "medipersona.jobs" in result.stdout
