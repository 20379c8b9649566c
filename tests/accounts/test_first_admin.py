"""The first admin: from the environment, or generated and printed once. No default password."""

from sqlalchemy import select

from medipersona.accounts.models import User
from medipersona.accounts.passwords import verify_password
from medipersona.bootstrap import first_run
from medipersona.db import Database
from tests.support.helpers import make_settings


async def _admins(settings):
    db = Database(settings)
    async with db.sessionmaker() as session:
        users = list(await session.scalars(select(User)))
    await db.dispose()
    return users


async def test_generated_admin_password_printed_once(settings, tmp_path):
    # The template database is migrated but has no users yet.
    s = make_settings(tmp_path, admin_password="")
    lines = await first_run(s)
    printed = " ".join(lines)
    assert "username=admin" in printed
    password = printed.split("password=")[1].split()[0]
    assert len(password) >= 12
    users = await _admins(s)
    assert [u.username for u in users] == ["admin"]
    assert users[0].role == "admin"
    assert await verify_password(users[0].password_hash, password)
    assert not await verify_password(users[0].password_hash, "changeme")
    # Second and third start: no password printed, no second admin, the first one's password unchanged.
    for _ in range(2):
        again = await first_run(s)
        assert all("password=" not in line for line in again), again
    users_after = await _admins(s)
    assert [(u.username, u.role) for u in users_after] == [("admin", "admin")]
    assert await verify_password(users_after[0].password_hash, password)


async def test_admin_password_from_environment(settings, tmp_path):
    s = make_settings(tmp_path, admin_username="boss", admin_password="from-env-pass-1")
    lines = await first_run(s)
    assert all("password=" not in line for line in lines)
    users = await _admins(s)
    assert users[0].username == "boss"
    assert await verify_password(users[0].password_hash, "from-env-pass-1")
