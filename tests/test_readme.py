"""The README stays true: two quick-start commands, every setting documented."""

from pathlib import Path

from medipersona.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_quick_start_has_the_two_commands():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make run" in quick_start
    assert "make test" in quick_start


def test_every_setting_is_documented():
    missing = [f"MEDIPERSONA_{name.upper()}" for name in Settings.model_fields
               if f"MEDIPERSONA_{name.upper()}" not in README]
    assert missing == [], f"README lacks: {missing}"


def test_every_setting_has_a_description():
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []
