"""A bounded fuzzing run of the whole OpenAPI (schemathesis) against a real server, as a logged-in member:
no 5xx and no response that violates its schema (issue 17, "Must show").

Bounded in time: a few examples per operation (``FUZZ_EXAMPLES``, default 10), no shrinking, a 15 s timeout
per request; about two minutes on a 2-core box. The member has a persona, so the persona routes see real ids.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from tests.personas.helpers import CREATE_BODY
from tests.support.helpers import MEMBER_PASSWORD

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
# Operations that would end the run's own login.
SKIP = {("DELETE", "/api/auth/token")}


def _fuzz(base: str, token: str, spec: dict, seeds: dict[str, str]) -> tuple[int, list[str]]:
    import schemathesis
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hypothesis_settings
    from schemathesis.checks import not_a_server_error, response_schema_conformance

    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    calls = 0
    headers = {"Authorization": f"Bearer {token}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue

        @hypothesis_settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, derandomize=True,
                             suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=operation.as_strategy())
        def run(case) -> None:
            nonlocal calls
            # Half the cases use a real id of the member's own records (else every case is a 404).
            for name, value in seeds.items():
                if case.path_parameters and name in case.path_parameters and calls % 2 == 0:
                    case.path_parameters[name] = value
            calls += 1
            response = case.call(base_url=base, headers=headers, timeout=15)
            case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except Exception as exc:  # noqa: BLE001 - every failure is collected and reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:600]}")
    return calls, failures


@pytest.fixture
def settings_overrides() -> dict:
    return {}


async def test_whole_openapi_fuzz_has_no_5xx_and_no_schema_violation(live_server, settings):
    from medipersona.accounts.service import create_user
    from medipersona.db import Database

    db = Database(settings)
    try:
        async with db.sessionmaker() as session:
            await create_user(session, username="fuzzer", password=MEMBER_PASSWORD, role="member")
    finally:
        await db.dispose()
    async with httpx.AsyncClient(base_url=live_server.base, timeout=60) as c:
        r = await c.post("/api/auth/token", json={"username": "fuzzer", "password": MEMBER_PASSWORD})
        token = r.json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        spec = (await c.get("/openapi.json")).json()
        persona = (await c.post("/api/personas", json=CREATE_BODY)).json()["id"]
        await c.get(f"/api/personas/{persona}/events")
    assert spec["paths"]
    calls, failures = await asyncio.to_thread(_fuzz, live_server.base, token, spec, {"persona_id": persona})
    assert calls > 100
    assert not failures, "\n\n".join(failures)
