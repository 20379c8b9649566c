"""AI providers: one small async interface (stream structured text, make an image), one class per provider.

What the rest of the app calls (nothing else should talk to a provider directly):

- ``structured.generate_structured(settings, request, ModelCls, *, on_progress=None, max_attempts=3,
  provider=None) -> (obj, meta)``: stream, report partial fields (throttled), repair, validate, re-ask.
- ``calls.stream_text_call(settings, request, *, provider=None, info=None)``: async iterator of raw JSON chunks
  with timeouts, retries, concurrency limit, fallback, ``[AI] Response time`` logs and metrics.
- ``calls.image_call(settings, request, *, provider=None, info=None) -> ImageResult``: the same for images.
- ``registry.check_configuration(settings)`` (start-up), ``registry.text_provider(settings)`` /
  ``image_provider(settings)`` (per-process singletons), ``registry.register_provider(cls)`` (tests),
  ``registry.aclose_providers()`` (worker shutdown).

Modules: ``base`` (interface, errors, requests), ``offline`` / ``offline_compose`` / ``portrait`` (the offline and
simulated providers), ``openai_provider``, ``anthropic_provider``, ``gemini_provider`` (SDKs imported lazily),
``partial_json`` (tolerant parser and repair), ``sdk_common`` (pooled client, schema adaptation, error mapping).
"""
