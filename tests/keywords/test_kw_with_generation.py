"""The timeline analysis is written with every generation whose complaint has keyword data: beside the text,
in the same job; the analysis stream shows it while it runs; the page and the exports have it when the
persona is done. The on-demand re-run stays a job of its own."""

from __future__ import annotations

import asyncio

import pytest

from medipersona.keywords.analysis import ANALYSIS_HEADINGS
from tests.personas.helpers import CREATE_BODY, parse_sse, stream_events, wait_status

SLOW = {"text_provider": "simulated", "image_provider": "simulated", "simulated_text_seconds": 1.5,
        "simulated_image_seconds": 0.5}


@pytest.mark.parametrize("settings_overrides", [SLOW])
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
async def test_generation_writes_its_timeline_analysis(app, admin_client):
    body = {**CREATE_BODY, "chief_complaint": "internal_medicine.common_cold"}
    pid = (await admin_client.post("/api/personas", json=body)).json()["id"]
    await asyncio.sleep(0.3)
    # Mid-generation, the analysis's own stream follows its part of the generation.
    analysis_stream = await asyncio.wait_for(
        admin_client.get(f"/api/personas/{pid}/timeline-analysis/events"), 30)
    analysis_events = parse_sse(analysis_stream.content)
    types = [t for t, _ in analysis_events]
    assert types[0] == "status" and "delta" in types and types[-1] == "done", types
    assert {d["section"] for t, d in analysis_events if t == "delta"} <= {k for k, _ in ANALYSIS_HEADINGS}
    streamed = analysis_events[-1][1]["analysis"]

    persona = await wait_status(admin_client, pid)
    assert persona["status"] == "done" and persona["timeline_status"] == "done"
    stored = (await admin_client.get(f"/api/personas/{pid}/timeline-analysis")).json()
    assert stored["status"] == "done" and stored["analysis"] == streamed
    assert all(len(stored["analysis"][key]) >= 20 for key, _ in ANALYSIS_HEADINGS)
    # The persona's own stream carries the analysis as analysis_* events (the page ignores them).
    generation = await stream_events(admin_client, pid)
    assert ("analysis_done", {"analysis": streamed}) in generation and generation[-1][0] == "done"
    # Exactly one job ran: the analysis was part of the generation.
    assert app.state.jobs.claimed_total == 1

    pdf = await admin_client.get(f"/api/personas/{pid}/export.pdf")
    assert pdf.status_code == 200
    from tests.exports.export_checks import pdf_pages_text

    page_two = pdf_pages_text(pdf.content)[1]
    assert all(heading in page_two for _, heading in ANALYSIS_HEADINGS)

    # The on-demand re-run is still a job of its own.
    rerun = await admin_client.post(f"/api/personas/{pid}/timeline-analysis")
    assert rerun.status_code == 202
    again = parse_sse((await admin_client.get(rerun.json()["events_url"])).content)
    assert again[-1][0] == "done"


async def test_no_analysis_without_keyword_data(admin_client):
    """A department without keyword data: no analysis is made, nothing fails."""
    from medipersona.catalog.service import get_catalog

    department = get_catalog().departments[-1]
    datasets = (await admin_client.get("/api/keywords/datasets")).json()["datasets"]
    for dataset in datasets:
        if dataset["department"] == department.name:
            assert (await admin_client.delete(f"/api/keywords/datasets/{dataset['id']}")).status_code == 204
    body = {**CREATE_BODY, "department": department.id, "chief_complaint": department.chief_complaints[0].id}
    pid = (await admin_client.post("/api/personas", json=body)).json()["id"]
    persona = await wait_status(admin_client, pid)
    assert persona["status"] == "done" and persona["timeline_status"] == "idle"
    assert persona["keywords_used"] == []
