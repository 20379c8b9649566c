"""Which provider and model answer each task, chosen by an admin at run time.

Per task (ペルソナ本文, 似顔絵, タイムライン分析, 競合分析): a provider ("" = the environment's
``MEDIPERSONA_TEXT_PROVIDER`` / ``IMAGE_PROVIDER``; ``none`` turns the portrait off: 画像なし) and a model ("" =
the environment's model, else the provider's default); per kind (text / image) a fallback provider. Keys stay in
the environment: a provider whose key is missing is refused with the reason (``registry.provider_problem``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from medipersona.providers.registry import ProviderRoute, get_provider_class, provider_names, provider_problem
from medipersona.settings import Settings

if TYPE_CHECKING:
    from medipersona.admin.service import AdminSettings

# Tasks whose provider and model an admin may choose, with the kind of provider that serves them.
MODEL_TASKS: dict[str, tuple[str, str]] = {
    "persona_text": ("text", "ペルソナ本文"),
    "portrait": ("image", "似顔絵"),
    "timeline_analysis": ("text", "タイムライン分析"),
    "competitor_swot": ("text", "競合分析（SWOT・戦略）"),
}
# Analysis tasks default to MEDIPERSONA_ANALYSIS_MODEL (then the text model).
ANALYSIS_TASKS = frozenset({"timeline_analysis", "competitor_swot"})
FALLBACK_KINDS: dict[str, str] = {"text": "文章", "image": "画像"}
NO_PORTRAIT = "none"  # the portrait task's provider when an admin turned portraits off (画像なし)
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")


def env_provider(settings: Settings, kind: str) -> str:
    return settings.image_provider if kind == "image" else settings.text_provider


def env_model(settings: Settings, task: str) -> str:
    """The model the environment sets for a task ('' = the provider's default)."""
    if task == "portrait":
        return settings.image_model
    if task in ANALYSIS_TASKS:
        return settings.analysis_model or settings.text_model
    return settings.text_model


def route_for(current: AdminSettings, settings: Settings, task: str) -> ProviderRoute | None:
    """The route of ``task`` under these admin settings (None: the portrait is turned off)."""
    kind = MODEL_TASKS.get(task, ("text", ""))[0]
    chosen = current.providers.get(task, "")
    if chosen == NO_PORTRAIT:
        return None
    provider = chosen or env_provider(settings, kind)
    model = current.models.get(task, "")
    if not model and provider == env_provider(settings, kind):
        model = env_model(settings, task)
    fallback = current.fallbacks.get(kind, "") or (
        settings.fallback_image_provider if kind == "image" else settings.fallback_text_provider).strip()
    return ProviderRoute(provider, model, fallback)


def _capable(kind: str) -> list[str]:
    out = []
    for name in provider_names():
        try:
            cls = get_provider_class(name)
        except Exception:  # noqa: BLE001 - a provider whose SDK is broken is simply not offered
            continue
        if cls.supports_image if kind == "image" else cls.supports_text:
            out.append(name)
    return out


def provider_catalog(kind: str) -> list[dict[str, Any]]:
    """The providers an admin may pick for ``kind``: label, models, and why one is unusable here."""
    out = []
    for name in _capable(kind):
        cls = get_provider_class(name)
        out.append({
            "name": name,
            "label": cls.label or name,
            "known_models": list(cls.known_image_models if kind == "image" else cls.known_text_models),
            "default_model": cls.default_image_model if kind == "image" else cls.default_text_model,
            "accepts_custom": cls.accepts_custom_models(),
            "problem": provider_problem(name, kind),
        })
    return out


def model_choices(settings: Settings, current: AdminSettings | None = None) -> dict[str, dict[str, Any]]:
    """Per task: the provider in effect (the admin's or the environment's), its models, the alternatives."""
    choices = {}
    catalogs = {kind: provider_catalog(kind) for kind in ("text", "image")}
    for task, (kind, label) in MODEL_TASKS.items():
        chosen = current.providers.get(task, "") if current is not None else ""
        provider = chosen if chosen and chosen != NO_PORTRAIT else env_provider(settings, kind)
        entry = next((p for p in catalogs[kind] if p["name"] == provider), None) or {
            "known_models": [], "default_model": "", "accepts_custom": False}
        choices[task] = {
            "label": label,
            "kind": kind,
            "provider": provider,
            "provider_label": entry.get("label") or provider,
            "env_provider": env_provider(settings, kind),
            "can_turn_off": task == "portrait",
            "known_models": entry["known_models"],
            "default_model": entry["default_model"],
            "accepts_custom": entry["accepts_custom"],
            "providers": catalogs[kind],
        }
    return choices


def _error(field_name: str, message: str) -> dict[str, str]:
    return {"field": field_name, "message": message}


def _provider_problem(value: Any, kind: str, *, may_be_off: bool = False) -> str | None:
    """Why ``value`` cannot be chosen ("" = the environment's; "none" only where the task may be off)."""
    if not isinstance(value, str):
        return "プロバイダ名は文字列で指定してください。"
    value = value.strip()
    if value == NO_PORTRAIT:
        return None if may_be_off else "このタスクはオフにできません。"
    return provider_problem(value, kind) if value else None


def validate_providers(settings: Settings, update: dict[str, Any], result: AdminSettings) -> list[dict[str, str]]:
    """Check ``providers``, ``fallbacks`` and ``models`` of an update into ``result``; the errors per field."""
    errors: list[dict[str, str]] = []
    for task, value in (update.get("providers") or {}).items():
        problem = "不明なタスクです。" if task not in MODEL_TASKS else \
            _provider_problem(value, MODEL_TASKS[task][0], may_be_off=task == "portrait")
        if problem:
            errors.append(_error(f"providers.{task}", problem))
        else:
            result.providers[task] = value.strip()
    for kind, value in (update.get("fallbacks") or {}).items():
        problem = "不明な種類です。" if kind not in FALLBACK_KINDS else _provider_problem(value, kind)
        if problem:
            errors.append(_error(f"fallbacks.{kind}", problem))
        else:
            result.fallbacks[kind] = value.strip()
    choices = model_choices(settings, result)
    for task, value in (update.get("models") or {}).items():
        value = value.strip() if isinstance(value, str) else value
        if task not in choices:
            errors.append(_error(f"models.{task}", "不明なタスクです。"))
            continue
        choice = choices[task]
        if not isinstance(value, str):
            errors.append(_error(f"models.{task}", "モデル名は文字列で指定してください。"))
        elif value == "":
            result.models[task] = ""
        elif not _MODEL_NAME.match(value):
            errors.append(_error(f"models.{task}", "モデル名に使えない文字が含まれています。"))
        elif value not in choice["known_models"] and not choice["accepts_custom"]:
            known = "、".join(choice["known_models"]) or "（なし）"
            errors.append(_error(f"models.{task}",
                                 f"AIサービス「{choice['provider_label']}」（{choice['provider']}）では使えないモデルです。選べるモデル: {known}"))
        else:
            result.models[task] = value
    return errors
