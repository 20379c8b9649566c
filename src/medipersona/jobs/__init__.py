"""Durable jobs in the database, run by every web worker's own event loop, streamed to browsers over SSE.

Interface for other domains (see the module docstrings for details):

- ``jobs.registry``: ``@job_handler("kind", on_failure=fn, max_attempts=3)`` on ``async def run(ctx)``;
  ``JobContext`` — ``ctx.payload``, ``ctx.persona_id``, ``ctx.attempt``, ``ctx.settings``,
  ``async with ctx.session()`` (short reads), ``ctx.emit(type, data)``, ``ctx.emit_delta(key, text, **extra)``
  (coalesced ~150 ms), ``ctx.patch(Model, id, **columns)`` (batched row update), ``ctx.add_row(key, build,
  values)`` (batched insert), ``await ctx.turn()`` (before a big synchronous chunk), ``await ctx.write(fn)``,
  ``await ctx.finish(data=..., apply=fn)``, ``await ctx.fail(error)``; raise ``JobFailed(message, code=...)``
  for a clean Japanese failure. List the module in ``medipersona.domains.JOB_HANDLER_MODULES`` (imported at start).
- ``jobs.service``: ``await enqueue(session, kind, persona_id, payload, owner_id=...)`` then commit and
  ``wake_runner(app)`` (or ``wake_local_runners(settings)``); ``new_job``/``first_event`` for batched inserts;
  ``active_job_for_persona``.
- ``jobs.sse``: ``StreamingResponse(job_event_stream(app, job_id, after_id=..., session=..., fallback=...),
  **SSE_RESPONSE_KWARGS)`` — replays the job's events after ``after_id`` (Last-Event-ID), then follows live,
  ends after ``done``/``error``; ``parse_last_event_id``, ``static_event_stream``.
- ``jobs.lifecycle``: ``start_job_runner(app)`` / ``stop_job_runner(app)`` (app lifespan); ``app.state.jobs`` is the
  worker's ``JobRuntime`` (``insert_and_run``, ``hub``, ``writer``, ``prune_events``).
"""
