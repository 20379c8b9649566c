"""The ``medipersona`` command: serve, migrate, create-user, import-keywords, advise-workers, import-portraits."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib
import os
import sys
from collections.abc import Callable

from medipersona.settings import get_settings

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


def _migrate_and_bootstrap() -> None:
    from medipersona.bootstrap import first_run
    from medipersona.migrate import upgrade

    settings = get_settings()
    upgrade(settings)
    for line in asyncio.run(first_run(settings)):
        print(line, flush=True)


@command("migrate")
def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply database migrations, create the first admin and load sample data when the database is new."""
    _migrate_and_bootstrap()
    print("migrations applied", flush=True)
    return 0


@command("serve")
def cmd_serve(args: argparse.Namespace) -> int:
    """Production: gunicorn with the project's config and uvicorn workers. --dev: uvicorn with reload."""
    host = args.host or os.environ.get("HOST", "0.0.0.0" if not args.dev else "127.0.0.1")
    port = str(args.port or os.environ.get("PORT", "8000"))
    _migrate_and_bootstrap()
    if args.dev:
        import uvicorn

        # No access log: uvicorn's prints full query strings (our own access line has the route only).
        uvicorn.run("medipersona.asgi:app", host=host, port=int(port), reload=True, proxy_headers=True,
                    access_log=False)
        return 0
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:medipersona.ops.gunicorn_conf",
            "--bind", f"{host}:{port}", "medipersona.asgi:app"]
    if args.workers:
        argv += ["--workers", str(args.workers)]
    os.execv(sys.executable, argv)
    return 0  # pragma: no cover


@command("create-user")
def cmd_create_user(args: argparse.Namespace) -> int:
    """Create a user; the password comes from --password-stdin, MEDIPERSONA_NEW_USER_PASSWORD or a prompt."""
    from medipersona.accounts.service import create_user
    from medipersona.db import Database
    from medipersona.errors import AppError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("MEDIPERSONA_NEW_USER_PASSWORD"):
        password = os.environ["MEDIPERSONA_NEW_USER_PASSWORD"]
    elif sys.stdin.isatty():
        password = getpass.getpass("パスワード: ")
    else:
        print("error: no password (use --password-stdin or MEDIPERSONA_NEW_USER_PASSWORD)", file=sys.stderr)
        return 2

    async def run() -> int:
        db = Database(get_settings())
        try:
            async with db.sessionmaker() as session:
                user = await create_user(session, username=args.username, password=password, role=args.role,
                                         sections=args.sections.split(",") if args.sections else None)
                print(f"created user {user.username} (role={user.role}, sections={','.join(user.sections)})")
                return 0
        except AppError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await db.dispose()

    return asyncio.run(run())


@command("unlock")
def cmd_unlock(args: argparse.Namespace) -> int:
    """Forget a user's failed logins from every address (ends the login waits they caused); logged."""
    from medipersona.accounts import throttle
    from medipersona.accounts.service import get_user_by_username
    from medipersona.db import Database

    async def run() -> int:
        db = Database(get_settings())
        try:
            async with db.sessionmaker() as session:
                if await get_user_by_username(session, args.username) is None:
                    print(f"error: ユーザー「{args.username}」はいません。", file=sys.stderr)
                    return 1
                removed = await throttle.unlock(session, args.username, by="cli")
                print(f"unlocked {args.username} ({removed} failed logins cleared)")
                return 0
        finally:
            await db.dispose()

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medipersona", description="medipersona: 患者ペルソナ作成アプリ")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the web app (gunicorn + uvicorn workers)")
    p.add_argument("--dev", action="store_true", help="development server with auto-reload")
    p.add_argument("--host", default=None, help="bind address (default $HOST or 0.0.0.0)")
    p.add_argument("--port", type=int, default=None, help="port (default $PORT or 8000)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: the seed's formula)")

    sub.add_parser("migrate", help="apply migrations; first run: admin account and sample data")

    p = sub.add_parser("create-user", help="create a user")
    p.add_argument("username")
    p.add_argument("--role", choices=["admin", "member"], default="member")
    p.add_argument("--sections", default="", help="comma-separated: medical,dental,others (default all)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    p = sub.add_parser("unlock", help="end the login waits of a user (clears failed logins from every address)")
    p.add_argument("username")

    # Other domains register their sub-commands here.
    for register in _EXTRA_PARSERS:
        register(sub)
    return parser


def _extra_parsers() -> list[Callable]:
    registrars = []
    for module_name in ("medipersona.keywords.cli", "medipersona.ops.cli", "medipersona.media.cli"):
        registrars.append(importlib.import_module(module_name).register)
    return registrars


_EXTRA_PARSERS: list[Callable] = []


def main(argv: list[str] | None = None) -> None:
    _EXTRA_PARSERS[:] = _extra_parsers()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or COMMANDS[args.command]
    sys.exit(handler(args))
