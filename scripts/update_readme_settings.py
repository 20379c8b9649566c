"""Rewrite the settings table in README.md from the Settings class."""

import re
from pathlib import Path

from settings_table import table

readme = Path(__file__).resolve().parents[1] / "README.md"
text = readme.read_text(encoding="utf-8")
start, end = "<!-- settings-table:start", "<!-- settings-table:end -->"
pattern = re.compile(re.escape(start) + r"[^\n]*\n.*?" + re.escape(end), re.S)
head = text[text.index(start):].split("\n", 1)[0]
readme.write_text(pattern.sub(lambda _m: f"{head}\n{table()}\n{end}", text), encoding="utf-8")
print("README settings table updated")
