"""AI providers: one small async interface (stream structured text, make an image), one class per provider.

What the rest of the app calls (nothing else should talk to a provider directly):

- ``structured.generate_structured(settings, request, ModelCls, *, on_progress=None, max_attempts=3,
  provider=None, route=None) -> (obj, meta)``: stream, report partial fields (throttled), repair, validate, re-ask.
- ``calls.stream_text_call(settings, request, *, provider=None, route=None, info=None)``: async iterator of raw
  JSON chunks with timeouts, retries, circuit breaker, concurrency limit, fallback, ``[AI] Response time`` logs
  and metrics.
- ``calls.image_call(settings, request, *, provider=None, route=None, info=None) -> ImageResult``: the same for
  images.
- ``registry.ProviderRoute(provider, model, fallback)``: what an admin chose for a task (admin/service.py
  ``task_route``); ``registry.check_configuration(settings)`` (start-up), ``registry.get_provider`` (the one
  place providers are built: per-process singletons), ``registry.provider_problem`` (why one cannot be used),
  ``registry.register_provider(cls)`` (tests), ``registry.aclose_providers()`` (worker shutdown).

Modules: ``base`` (interface, errors, requests), ``offline`` / ``composers`` / ``portrait`` (the offline and
simulated providers; each task's offline composer is registered by its domain), ``openai_provider``, ``anthropic_provider``, ``gemini_provider`` (SDKs imported lazily),
``partial_json`` (tolerant parser and repair), ``sdk_common`` (pooled client, schema adaptation, error mapping),
``breaker`` (circuit breaker per provider and worker).
"""
