"""Secret redaction, written once: the log formatters (``ops/logging.py``), the AI providers' upstream error details
(``providers/base.py``) and httpx's request log lines (``RedactFilter``: the e-Stat appId travels in the query
string) all mask with ``redact``. A safety net: callers must not log secrets at all."""

from __future__ import annotations

import logging
import re

MASK = "***"

# (pattern, whether group 1 is a prefix to keep)
SECRET_PATTERNS: tuple[tuple[re.Pattern[str], bool], ...] = (
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=*-]{6,}"), True),
    # OpenAI / Anthropic style keys (sk-…, sk-proj-…, sk-ant-…), also as upstreams echo them masked ('sk-abc***xyz')
    (re.compile(r"\b(?:sk|pk|rk)[-_][A-Za-z0-9*._-]{6,}"), False),
    (re.compile(r"\bAIza[0-9A-Za-z*_-]{6,}"), False),  # Google API keys
    (re.compile(r"(?i)((?:api[_-]?key|app[_-]?id|password|passwd|secret|token|\bkey)[\"']?\s*[=:]\s*[\"']?)"
                r"[^\s\"'&,}]{4,}"), True),
)


def redact(text: str) -> str:
    """Mask API keys, bearer tokens and key=value secrets (api_key, appId, password, secret, token, key)."""
    for pattern, keep_prefix in SECRET_PATTERNS:
        if keep_prefix:
            text = pattern.sub(lambda m: m.group(1) + MASK, text)
        else:
            text = pattern.sub(MASK, text)
    return text


def _redact_arg(arg: object) -> object:
    text = str(arg)
    masked = redact(text)
    return arg if masked == text else masked


class RedactFilter(logging.Filter):
    """Masks secrets in a third-party logger's records (message and arguments) before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(a) for a in record.args)
        elif record.args is not None:
            record.args = (_redact_arg(record.args),)
        return True
