"""Section checks on every action on an existing persona (issue 17, "removed section still usable"): once an
admin removes a section from a user, the user's old personas of that section can be read and deleted, but not
regenerated, duplicated, edited, analysed or charted."""

from __future__ import annotations

import asyncio

from tests.personas.helpers import CREATE_BODY, parse_sse


async def test_removed_section_blocks_actions_on_old_personas(app, client, member_client, member):
    pid = (await member_client.post("/api/personas", json=CREATE_BODY)).json()["id"]
    stream = await asyncio.wait_for(member_client.get(f"/api/personas/{pid}/events"), 60)
    assert parse_sse(stream.content)[-1][0] == "done"
    await client.use_token()
    r = await client.patch(f"/api/admin/users/{member.id}", json={"sections": ["dental"]})
    assert r.status_code == 200, r.text

    assert (await member_client.get(f"/api/personas/{pid}")).status_code == 200
    for method, path in [
        ("post", f"/api/personas/{pid}/regenerate"),
        ("post", f"/api/personas/{pid}/duplicate"),
        ("post", f"/api/personas/{pid}/retry"),
        ("post", f"/api/personas/{pid}/sections/personality/regenerate"),
        ("post", f"/api/personas/{pid}/timeline-analysis"),
        ("get", f"/api/personas/{pid}/timeline/chart.svg"),
    ]:
        r = await getattr(member_client, method)(path)
        assert r.status_code == 403, (path, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "section_forbidden"
    r = await member_client.patch(f"/api/personas/{pid}", json={"name": "別の名前"})
    assert r.status_code == 403, r.text
    assert (await member_client.delete(f"/api/personas/{pid}")).status_code == 204
