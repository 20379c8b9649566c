"""Turns pydantic validation errors into Japanese field-level messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_MESSAGES = {
    "missing": "必須項目です。",
    "string_too_short": "{min_length}文字以上で入力してください。",
    "string_too_long": "{max_length}文字以内で入力してください。",
    "string_pattern_mismatch": "形式が正しくありません。",
    "string_type": "文字列で指定してください。",
    "int_parsing": "整数で指定してください。",
    "int_type": "整数で指定してください。",
    "float_parsing": "数値で指定してください。",
    "bool_parsing": "true か false で指定してください。",
    "greater_than_equal": "{ge}以上の値を指定してください。",
    "less_than_equal": "{le}以下の値を指定してください。",
    "greater_than": "{gt}より大きい値を指定してください。",
    "less_than": "{lt}より小さい値を指定してください。",
    "literal_error": "次のいずれかを指定してください: {expected}",
    "enum": "次のいずれかを指定してください: {expected}",
    "extra_forbidden": "この項目は指定できません。",
    "json_invalid": "JSONの形式が正しくありません。",
    "model_type": "オブジェクト形式で指定してください。",
    "model_attributes_type": "オブジェクト形式で指定してください。",
    "dict_type": "オブジェクト形式で指定してください。",
    "list_type": "配列で指定してください。",
    "too_long": "項目が多すぎます（最大{max_length}件）。",
    "too_short": "項目が少なすぎます（最低{min_length}件）。",
    "value_error": "{error}",
    "assertion_error": "{error}",
}


def _message(err: Mapping[str, Any]) -> str:
    template = _MESSAGES.get(err.get("type", ""))
    ctx = dict(err.get("ctx") or {})
    if "error" in ctx:
        ctx["error"] = str(ctx["error"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if template:
        try:
            return template.format(**ctx)
        except (KeyError, IndexError):
            pass
    msg = err.get("msg", "")
    return msg.removeprefix("Value error, ") if msg and not msg.isascii() else "値が正しくありません。"


def validation_error_body(errors: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    fields = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie", "form"):
            where = loc[0]
            loc = loc[1:]
        else:
            where = "body"
        fields.append({"field": ".".join(loc) or where, "in": where, "message": _message(err)})
    return {
        "error": {"code": "validation_error", "message": "入力内容に誤りがあります。", "fields": fields},
    }
