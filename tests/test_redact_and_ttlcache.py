"""The one secret redaction (``medipersona.redact``) and the one time-limited cache (``medipersona.ttlcache``)."""

from __future__ import annotations

import logging

import pytest

from medipersona.redact import RedactFilter, redact
from medipersona.ttlcache import TTLCache


@pytest.mark.parametrize(("text", "expected"), [
    ("Authorization: Bearer abcdefghijkl", "Authorization: Bearer ***"),
    ("api_key=AIzaSyA1234567890abcdefghijk", "api_key=***"),
    ("key sk-proj-abcdef123456 used", "key *** used"),
    ("Incorrect API key provided: sk-abc12***********wxyz", "Incorrect API key provided: ***"),
    ("bad AIzaSyA1234567890 here", "bad *** here"),
    ("GET https://api.e-stat.go.jp/x?appId=app-1&cdArea=13101", "GET https://api.e-stat.go.jp/x?appId=***&cdArea=13101"),
    ('{"password": "hunter22"}', '{"password": "***"}'),
    ("model gpt-5.4-mini not found", "model gpt-5.4-mini not found"),
    ("max_tokens=300 task=persona", "max_tokens=300 task=persona"),
])
def test_redact(text, expected):
    assert redact(text) == expected


def test_every_caller_uses_the_one_redaction():
    from medipersona.ops import logging as ops_logging
    from medipersona.providers import base

    assert ops_logging.redact is redact and base.redact is redact
    assert "sk-" not in base.status_error("openai", 400, "bad key sk-proj-abcdef123456").detail


def test_redact_filter_masks_message_and_arguments():
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, 'HTTP Request: %s %s "%d"',
                               ("GET", "https://x.test/?appId=secret-1&q=2", 200), None)
    assert RedactFilter().filter(record) is True
    message = record.getMessage()
    assert "secret-1" not in message and "appId=***&q=2" in message and '"200"' in message
    assert record.args[2] == 200  # untouched arguments keep their type (a %d still formats)


def test_ttl_cache_expires_and_starts_over_when_full():
    now = [0.0]
    cache: TTLCache[str, int] = TTLCache(2.0, 2, clock=lambda: now[0])
    cache.set("a", 1)
    now[0] = 1.9
    assert cache.get("a") == 1
    now[0] = 2.0
    assert cache.get("a") is None and len(cache) == 0  # expired entries are dropped
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("b", 3)  # an existing key does not count as growth
    assert len(cache) == 2 and cache.get("b") == 3
    cache.set("c", 4)  # full: starts over
    assert cache.get("a") is None and cache.get("c") == 4
    cache.pop("c")
    cache.pop("missing")
    assert cache.get("c") is None
    cache.ttl = 0.0
    cache.set("d", 5)
    assert cache.get("d") is None
