"""Argon2id password hashing, run in a thread so that a login never blocks the event loop."""

from __future__ import annotations

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's argon2id minimum (19 MiB, t=2, p=1): strong, and light enough for a 2 GB box.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

# A real hash, verified against when the user does not exist, so that timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("medipersona-dummy-password")

MIN_PASSWORD_LENGTH = 10


def password_problem(password: str, username: str = "") -> str | None:
    """A Japanese message when the password is too weak, else None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。"
    if len(password) > 256:
        return "パスワードは256文字以内にしてください。"
    if username and password.lower() == username.lower():
        return "ユーザー名と同じパスワードは使えません。"
    if len(set(password)) < 4:
        return "同じ文字の繰り返しではないパスワードにしてください。"
    return None


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    return await anyio.to_thread.run_sync(_verify, password_hash, password)
