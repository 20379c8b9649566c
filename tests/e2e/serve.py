"""Runs the app for the browser tests with the test provider registered (see provider_plugin.py).

    python tests/e2e/serve.py migrate
    python tests/e2e/serve.py create-user NAME [--role member]
    python tests/e2e/serve.py serve PORT

Only the environment configures the app (MEDIPERSONA_*); MP_E2E_PLUGIN=1 registers the ``e2e`` provider.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    if os.environ.get("MP_E2E_PLUGIN"):
        import tests.e2e.provider_plugin  # noqa: F401  (registers the provider at import)
    command, args = sys.argv[1], sys.argv[2:]
    if command == "serve":
        import uvicorn

        uvicorn.run("medipersona.asgi:app", host="127.0.0.1", port=int(args[0]), log_level="warning",
                    access_log=False)
        return
    from medipersona.cli import main as cli_main

    cli_main([command, *args])


if __name__ == "__main__":
    main()
