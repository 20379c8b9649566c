"""Application errors with a Japanese message for users and a stable code for API clients.

Every failure leaves the app as JSON ``{"error": {"code", "message", "fields"?}}`` under ``/api`` and as a
Japanese error page elsewhere; never as HTTP 200 with empty content.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 400
    code = "bad_request"
    message = "リクエストを処理できませんでした。"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status_code: int | None = None,
        fields: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status_code = status_code or self.status_code
        self.fields = fields
        self.headers = headers
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            err["fields"] = self.fields
        return {"error": err}


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"
    message = "ログインが必要です。"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"
    message = "この操作を行う権限がありません。"


class CsrfFailed(AppError):
    status_code = 403
    code = "csrf_failed"
    message = "セキュリティトークンが無効です。ページを再読み込みしてからもう一度お試しください。"


class NotFound(AppError):
    status_code = 404
    code = "not_found"
    message = "指定されたデータが見つかりません。"


class Conflict(AppError):
    status_code = 409
    code = "conflict"
    message = "現在の状態ではこの操作を行えません。"


class InvalidInput(AppError):
    status_code = 422
    code = "validation_error"
    message = "入力内容に誤りがあります。"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"
    message = "ファイルまたはデータが大きすぎます。"


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"
    message = "試行回数が多すぎます。しばらく待ってからもう一度お試しください。"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"
    message = "サービスが一時的に利用できません。しばらくしてからもう一度お試しください。"


class ConfigurationError(Exception):
    """Raised at start-up for settings that cannot work (unknown provider, missing key, ...)."""
