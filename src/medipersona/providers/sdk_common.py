"""Shared pieces of the SDK-backed providers: one pooled client per process, JSON-schema adaptation, error mapping.

Nothing here imports an SDK at module level.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from typing import Any, ClassVar

from medipersona.providers.base import (
    Provider,
    ProviderError,
    ProviderTimeout,
    redact,
    retry_after_from_headers,
    status_error,
)


class PooledClientProvider(Provider):
    """A provider owning one SDK client (with its connection pool) per process.

    The client is created at worker start for a configured provider (``warm``), else on first use, and reused by
    every call of the worker; it is recreated only when the running event loop changes (a pool cannot be shared
    across loops).
    """

    clients_created: ClassVar[int] = 0  # per class, for tests and diagnostics

    _client: Any = None
    _client_loop: asyncio.AbstractEventLoop | None = None

    def make_client(self) -> Any:  # pragma: no cover - implemented by subclasses
        raise NotImplementedError

    def client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = self.make_client()
            self._client_loop = loop
            type(self).clients_created += 1
        return self._client

    def warm_client(self, client: Any) -> None:
        """Touch what the SDK loads on first use (its resources, modules imported lazily). Subclasses."""

    async def warm(self) -> None:
        """Import the SDK and build this worker's client (in the running loop: the one it will be used in)."""
        self.warm_client(self.client())

    async def close_client(self, client: Any) -> None:
        close = getattr(client, "close", None)
        if close is not None:
            await close()

    async def aclose(self) -> None:
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            try:
                await self.close_client(client)
            except Exception:  # noqa: BLE001, S110 - a closed/foreign loop must not break shutdown
                pass


def safe_name(name: str, default: str = "result") -> str:
    """A schema/tool name the APIs accept: ^[a-zA-Z0-9_-]{1,64}$."""
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name or "")[:64]
    return cleaned or default


_DROP_KEYS = ("default", "examples")


_strict_cache: dict[str, dict[str, Any]] = {}
_STRICT_CACHE_SIZE = 64


def strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Adapt a JSON schema for OpenAI Structured Outputs (``strict: true``).

    Every object gets ``additionalProperties: false`` and lists all its properties as required; a property that
    was optional becomes nullable instead. ``default``/``examples`` are dropped.

    Results are cached by the schema's JSON text (a persona's schema is rebuilt for every request, but its
    text repeats) and must not be modified.
    """
    key = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    result = _strict_cache.get(key)
    if result is None:
        result = _strict_json_schema(schema)
        if len(_strict_cache) >= _STRICT_CACHE_SIZE:
            _strict_cache.pop(next(iter(_strict_cache)))
        _strict_cache[key] = result
    return result


def _strict_json_schema(schema: dict[str, Any]) -> dict[str, Any]:

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {k: v for k, v in node.items() if k not in _DROP_KEYS}
        if "properties" in node or node.get("type") == "object":
            props = node.get("properties") or {}
            required = set(node.get("required") or [])
            new_props = {}
            for key, value in props.items():
                value = walk(value)
                if key not in required:
                    value = _nullable(value)
                new_props[key] = value
            node["properties"] = new_props
            node["required"] = list(new_props)
            node["additionalProperties"] = False
        for key in ("items", "$defs", "definitions"):
            if key in node:
                if key == "items":
                    node[key] = walk(node[key])
                else:
                    node[key] = {name: walk(sub) for name, sub in node[key].items()}
        for key in ("anyOf", "allOf", "oneOf"):
            if key in node:
                node[key] = [walk(sub) for sub in node[key]]
        if "oneOf" in node:
            node["anyOf"] = node.pop("oneOf")
        return node

    return walk(copy.deepcopy(schema))


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if schema.get("type") == "null":
        return schema
    if any(isinstance(s, dict) and s.get("type") == "null" for s in schema.get("anyOf", [])):
        return schema
    if isinstance(schema.get("type"), str) and "$ref" not in schema and "anyOf" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


_RETRYABLE_EVENT_TYPES = frozenset({"overloaded_error", "rate_limit_error", "api_error", "timeout_error"})


def _error_type(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("type") or "")
    return ""


def _detail(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(getattr(exc, "message", "") or "")


def map_stainless_error(exc: Exception, provider: str, sdk: Any) -> ProviderError | None:
    """Map an openai/anthropic SDK exception (both generated by Stainless) to a ProviderError."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderTimeout()
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError(f"AIプロバイダー（{provider}）に接続できませんでした。", retryable=True,
                             code="connection_error")
    if isinstance(exc, sdk.APIStatusError):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        status = getattr(exc, "status_code", None) or 500
        detail = _detail(exc)
        if status < 400:  # an error event inside a 200 stream (e.g. overloaded_error)
            kind = _error_type(exc) or "error"
            return ProviderError(f"AIプロバイダー（{provider}）が応答中にエラーを返しました（{kind}）。",
                                 retryable=kind in _RETRYABLE_EVENT_TYPES)
        return status_error(provider, status, detail, retry_after=retry_after_from_headers(headers))
    if isinstance(exc, sdk.APIError):
        text = _detail(exc) or type(exc).__name__
        retryable = _error_type(exc) in _RETRYABLE_EVENT_TYPES
        return ProviderError(f"AIプロバイダー（{provider}）がエラーを返しました: {redact(text[:200])}", retryable=retryable)
    return None
