"""``medipersona import-keywords``: exit codes 0 / 1 / 2 and the printed rejections."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.keywords.kw_helpers import make_rows, write_csv
from tests.support.helpers import KEYWORDS_DIR


def run_cli(settings, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIPERSONA_")}
    env["MEDIPERSONA_DATA_DIR"] = str(settings.data_dir)
    env["MEDIPERSONA_SECRET_KEY"] = "test-secret-key"
    return subprocess.run([sys.executable, "-m", "medipersona", "import-keywords", *args], env=env,
                          capture_output=True, text=True, timeout=240, check=False)


def test_exit_codes(settings, tmp_path):
    out = run_cli(settings, "-q", str(KEYWORDS_DIR / "皮膚科"))
    assert out.returncode == 0, out.stderr
    assert "19 files imported" in out.stdout and "0 rejected" in out.stdout

    root = tmp_path / "batch"
    write_csv(root / "内科" / "内科_全体.csv", make_rows(5))
    broken = make_rows(5)
    broken[2][4] = "x"
    write_csv(root / "内科" / "主訴" / "風邪_全体.csv", broken)
    out = run_cli(settings, str(root))
    assert out.returncode == 1
    assert "imported  内科/内科_全体.csv" in out.stdout
    assert "rejected  内科/主訴/風邪_全体.csv:4: 「特徴度」が数値ではありません" in out.stderr
    assert "1 files imported" in out.stdout and "1 rejected" in out.stdout

    out = run_cli(settings, "--check", str(root))
    assert out.returncode == 1 and "checked   内科/内科_全体.csv" in out.stdout and "dry run" in out.stdout

    out = run_cli(settings, str(tmp_path / "does-not-exist"))
    assert out.returncode == 2 and "見つかりません" in out.stderr
    out = subprocess.run([sys.executable, "-m", "medipersona", "import-keywords"], capture_output=True, text=True,
                         check=False, timeout=120)
    assert out.returncode == 2
