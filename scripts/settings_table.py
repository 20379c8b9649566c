"""Print the configuration table for README.md from the Settings class (one source of truth)."""

from medipersona.settings import Settings


def table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(empty)" if default in ("", None) else f"`{default}`"
        rows.append(f"| `MEDIPERSONA_{name.upper()}` | {shown} | {field.description or ''} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
