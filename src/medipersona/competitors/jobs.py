"""The competitor-analysis job (kind ``competitor_analysis``): position → competitors → market → population →
demand → SWOT, on the durable jobs framework.

Events (jobs/sse.py wire format):
- ``status``  {"status": "running", "attempt", "step"?} — at each (re)start clients drop what they showed;
  {"status": "running", "restart": true} when the model is asked again (drop the streamed SWOT text)
- ``section`` {"key": "clinic"|"competitors"|"market"|"population"|"demand", "label", "data"} as each step ends
- ``delta``   {"section": <swot key>, "text", "offset"} — the SWOT streamed; a key's text is its items joined by
  newlines (partial while written)
- ``section`` {"key": <swot key>, "label", "items": [...], "text": items joined by newlines} when complete
- ``done``    {"status": "done", "id"}  /  ``error`` {"code", "message"}

Each finished step is stored on the row at once (the result page and the map read it while the job runs); the
SWOT and status ``done`` are written in one transaction with the job's completion. A failure sets status
``failed`` with a Japanese message — never ``done`` with empty content.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any

from sqlalchemy import update

from medipersona.competitors.labels import ANALYSIS_STEPS
from medipersona.competitors.models import CompetitorAnalysis
from medipersona.competitors.service import JOB_KIND, SOURCE_LABELS
from medipersona.db import utcnow
from medipersona.jobs.registry import JobContext, JobFailed, job_handler

log = logging.getLogger("medipersona.competitors")
PROGRESS_INTERVAL = 0.15
STEP_LABELS = {"clinic": "自院の位置", **dict(ANALYSIS_STEPS)}


async def _mark_failed(tx, ctx: JobContext, error: dict[str, str]) -> None:
    analysis_id = (ctx.payload or {}).get("analysis_id")
    if not analysis_id:
        return
    await tx.session.execute(
        update(CompetitorAnalysis).where(CompetitorAnalysis.id == analysis_id)
        .values(status="failed", error=dict(error), finished_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def resolve_population(settings, given: dict[str, Any] | None, clinic: dict[str, Any]) -> dict[str, Any]:
    """User-entered age bands, else e-Stat (configured and the area known), else "not available"."""
    from medipersona.competitors import estat

    given = given or {}
    if given.get("age_bands"):
        bands = {k: int(v) for k, v in given["age_bands"].items()}
        return {"status": "user", "area_code": given.get("area_code"), "area_name": given.get("area_name") or "",
                "total": int(given.get("total") or sum(bands.values())), "age_bands": bands,
                "source": "user", "source_detail": "利用者の入力"}
    if not estat.configured(settings):
        # Said to a marketer: what is missing, not which setting (the admin's detail goes to the log).
        log.info("population from e-Stat not configured (%s)",
                 "MEDIPERSONA_ESTAT_STATS_DATA_ID empty" if settings.estat_app_id.strip() else "no e-Stat app id")
        return {"status": "unavailable", "source": "unavailable", "area_code": given.get("area_code"),
                "message": "人口データはありません（年齢別人口の入力がなく、国の統計からの自動取得も設定されていません）。"}
    code = given.get("area_code")
    try:
        if not code and clinic.get("address"):
            match = await estat.resolve_area_code(settings, clinic["address"])
            if match is not None:
                code = match[0]
        if not code:
            return {"status": "unavailable", "source": "unavailable", "area_code": None,
                    "message": "住所から市区町村を特定できませんでした。市区町村コード（5桁）を入力してください。"}
        return await estat.fetch_population(settings, code)
    except estat.EstatError as exc:
        log.warning("e-Stat population unavailable: %s", exc.code)
        return {"status": "unavailable", "source": "unavailable", "area_code": code, "code": exc.code,
                "message": exc.message}


async def record_places_calls(ctx: JobContext, calls: int) -> None:
    """Add the Places requests of this run to the owner's day (the admin usage page); never fails the job."""
    from medipersona.competitors.usage import add_calls
    from medipersona.jobs.dblock import write_lock

    if not calls or not ctx.owner_id:
        return
    try:
        async with ctx.db.sessionmaker() as session, write_lock(session.bind):
            await add_calls(session, ctx.owner_id, calls)
            await session.commit()
    except Exception:
        log.exception("recording %d Places calls failed", calls)


class SwotStreamer:
    """Progress snapshots of the SWOT object → coalesced ``delta`` events per key."""

    def __init__(self, ctx: JobContext) -> None:
        from medipersona.competitors.prompt import SWOT_KEYS

        self.ctx = ctx
        self.keys = SWOT_KEYS
        self.sent: dict[str, str] = {}

    @staticmethod
    def text_of(value: Any) -> str | None:
        from medipersona.competitors.prompt import item_line

        if isinstance(value, list):
            return "\n".join(line for line in (item_line(v) for v in value) if line)
        return None

    def __call__(self, snapshot: dict[str, Any]) -> None:
        texts = {k: t for k in self.keys if (t := self.text_of(snapshot.get(k))) is not None}
        if any(not t.startswith(self.sent.get(k, "")) for k, t in texts.items()) or (self.sent and not texts):
            self.ctx.runtime.writer.forget(self.ctx.job_id, self.ctx.attempt)
            self.ctx.emit("status", {"status": "running", "attempt": self.ctx.attempt, "restart": True})
            self.sent.clear()
        for key, text in texts.items():
            prev = self.sent.get(key, "")
            if len(text) > len(prev):
                self.ctx.emit_delta(key, text[len(prev):])
                self.sent[key] = text


@job_handler(JOB_KIND, on_failure=_mark_failed, max_attempts=3)
async def run_competitor_analysis(ctx: JobContext) -> None:
    from medipersona.admin import service as admin
    from medipersona.competitors import places
    from medipersona.competitors.demand import estimate, load_rates
    from medipersona.competitors.market import market_stats
    from medipersona.competitors.prompt import (
        SWOT_KEYS,
        SWOT_LABELS,
        CompetitorSwot,
        build_context,
        build_request,
        item_line,
    )
    from medipersona.providers.base import ProviderError
    from medipersona.providers.structured import generate_structured

    started = time.monotonic()
    payload = ctx.payload or {}
    analysis_id = str(payload.get("analysis_id") or "")
    request = payload.get("request") or {}
    async with ctx.session() as session:
        analysis = await session.get(CompetitorAnalysis, analysis_id) if analysis_id else None
        if analysis is None:
            raise JobFailed("競合分析が見つかりません。削除された可能性があります。", code="analysis_missing")
        clinic = dict(analysis.clinic or {})
        radius_km = int(analysis.radius_km)
        source = analysis.source
        route, addendum = await admin.task_options(session, ctx.settings, "competitor_swot")
    settings = ctx.settings
    timings: dict[str, Any] = {"attempt": ctx.attempt}
    ctx.emit("status", {"status": "running", "attempt": ctx.attempt})
    ctx.patch(CompetitorAnalysis, analysis_id, status="running", error=None, updated_at=utcnow())

    def step(key: str, data: Any) -> None:
        """A finished step: stored with the next write batch (the result page and the map read the row) and
        announced as a ``section`` event."""
        ctx.patch(CompetitorAnalysis, analysis_id, **{key: data}, updated_at=utcnow())
        ctx.emit("section", {"key": key, "label": STEP_LABELS[key], "data": data})
        timings[f"{key}_seconds"] = round(time.monotonic() - started, 3)

    # 1. where the clinic is
    counter = places.CallCounter()
    try:
        try:
            if clinic.get("lat") is None or clinic.get("lng") is None:
                found = await places.geocode(settings, clinic.get("address") or "", counter)
                clinic.update(lat=found["lat"], lng=found["lng"], geocoded=True,
                              formatted_address=found.get("formatted_address"))
            step("clinic", clinic)

            # 2. competitors of the same specialties within the radius (great-circle distance), by distance
            extra: dict[str, Any] = {}
            if source == "places":
                searched = await places.search_specialties(settings, clinic["lat"], clinic["lng"], radius_km,
                                                           clinic.get("departments") or [], clinic.get("name", ""),
                                                           counter)
                competitors = searched.competitors
                extra = {"search_terms": searched.terms, "returned": searched.returned,
                         "excluded_outside_radius": searched.outside_radius,
                         "excluded_not_clinic": searched.not_clinics,
                         "capped": searched.capped, "searches_left_out": searched.searches_left_out}
            else:
                competitors, outside = places.locate(clinic["lat"], clinic["lng"],
                                                     list(request.get("competitors") or []), radius_km * 1000.0,
                                                     clinic.get("name", ""))
                extra = {"returned": len(request.get("competitors") or []), "excluded_outside_radius": outside}
        except places.PlacesError as exc:
            raise JobFailed(exc.message, code=exc.code) from None
    finally:
        await record_places_calls(ctx, counter.calls)
    if source == "places":
        extra["places_calls"] = counter.calls
    step("competitors", competitors)

    # 3. market
    market = {**market_stats(competitors, radius_km), "source": source,
              "source_label": SOURCE_LABELS.get(source, source), **extra}
    step("market", market)

    # 4. population (never invented) and 5. demand
    population = await resolve_population(settings, request.get("population"), clinic)
    step("population", population)
    await load_rates()
    demand = estimate(population, clinic.get("departments") or [], request.get("area_type") or clinic.get("area_type"))
    step("demand", demand)

    # 6. SWOT and strategies, streamed
    context = build_context({"clinic": clinic, "radius_km": radius_km, "source_label": market["source_label"],
                             "market": market, "competitors": competitors, "population": population,
                             "demand": demand})
    text_started = time.monotonic()
    streamer = SwotStreamer(ctx)
    try:
        obj, meta = await generate_structured(settings, build_request(context, zlib.crc32(analysis_id.encode()),
                                                                      model=route.model, addendum=addendum),
                                              CompetitorSwot, on_progress=streamer, route=route,
                                              progress_interval=PROGRESS_INTERVAL)
    except ProviderError as exc:
        raise JobFailed(f"SWOT分析を生成できませんでした。{exc.message}", code=exc.code) from None
    swot = obj.model_dump()
    if any(not swot.get(k) for k in SWOT_KEYS):  # validated already; never report blank sections as done
        raise JobFailed("AIの出力に空の項目がありました。", code="invalid_output")
    for key in SWOT_KEYS:
        ctx.emit("section", {"key": key, "label": SWOT_LABELS[key], "items": swot[key],
                             "text": "\n".join(item_line(i) for i in swot[key])})
    swot["meta"] = {"provider": meta.get("provider", ""), "model": meta.get("model", ""),
                    "label": meta.get("label", ""), "is_offline": bool(meta.get("is_offline")),
                    "fallback_used": bool(meta.get("fallback_used"))}
    timings["text_seconds"] = round(time.monotonic() - text_started, 3)
    timings["total_seconds"] = round(time.monotonic() - started, 3)
    ctx.patch(CompetitorAnalysis, analysis_id, status="done", clinic=clinic, competitors=competitors, market=market,
              population=population, demand=demand, swot=swot, text_provider=swot["meta"]["provider"],
              text_model=swot["meta"]["model"], timings=timings, error=None, finished_at=utcnow(),
              updated_at=utcnow())
    await ctx.finish(data={"status": "done", "id": analysis_id}, result={"analysis_id": analysis_id})
