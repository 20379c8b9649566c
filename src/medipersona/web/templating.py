"""One Jinja2 environment for every domain's pages. ``render`` adds the user, the CSRF token and the nav."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.templating import Jinja2Templates

from medipersona import __version__
from medipersona.localtime import format_datetime as local_time
from medipersona.localtime import zone_label

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

def url_host(url: str | None) -> str:
    """What a link to a site should read: its host name (www. dropped), not 「サイト」 for every row."""
    host = urlsplit(str(url or "")).hostname or ""
    return host.removeprefix("www.")


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["local_time"] = local_time
templates.env.filters["url_host"] = url_host
templates.env.globals["app_version"] = __version__
templates.env.globals["zone_label"] = zone_label
# Autoescape is on for .html (Jinja2Templates default); never mark model or user text |safe.


def nav_items(user) -> list[dict[str, str]]:
    items = [
        {"href": "/", "label": "ダッシュボード"},
        {"href": "/personas/new", "label": "ペルソナ作成"},
        {"href": "/personas", "label": "履歴"},
        {"href": "/persona-sets", "label": "ペルソナセット"},
        {"href": "/message-tests", "label": "メッセージテスト"},
        {"href": "/competitors", "label": "競合分析"},
    ]
    if user is not None and user.is_admin:
        items += [
            {"href": "/admin/users", "label": "ユーザー管理"},
            {"href": "/admin/settings", "label": "生成設定"},
            {"href": "/admin/keywords", "label": "キーワードデータ"},
            {"href": "/admin/catalog", "label": "カタログ"},
            {"href": "/admin/monitoring", "label": "モニタリング"},
        ]
    return items


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200):
    principal = getattr(request.state, "principal", None)
    user = principal.user if principal else None
    ctx = {
        "user": user,
        "csrf_token": principal.csrf_token if principal else "",
        "nav": nav_items(user),
        "current_path": request.url.path,
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
