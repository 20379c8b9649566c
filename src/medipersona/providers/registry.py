"""Provider registry: provider classes by name, start-up configuration check, per-process singletons.

Built-in providers are registered by dotted path and imported on first use, so a worker that runs the offline
provider never imports an SDK. The providers a worker is configured for are imported and their clients built
when it starts (``warm_providers``, from the app's lifespan); the others stay unloaded until an admin picks one.
Tests register fakes with ``register_provider(cls)``.

This is the one place providers are constructed (``get_provider``): the environment's providers
(``text_provider`` ...) and those an admin picks per task at run time (``ProviderRoute``, see admin/service.py)
alike. Keys always come from the environment; ``provider_problem`` says, in Japanese, why a provider cannot be
used here (unknown, wrong kind, no key).
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any

from medipersona.errors import ConfigurationError
from medipersona.providers.base import Provider, ProviderError
from medipersona.settings import Settings


@dataclass(frozen=True)
class ProviderRoute:
    """Who answers a task: the provider, its model ("" = the provider's default / the env model) and the
    provider tried when it fails ("" = none)."""

    provider: str
    model: str = ""
    fallback: str = ""

_BUILTIN: dict[str, str] = {
    "offline": "medipersona.providers.offline:OfflineProvider",
    "simulated": "medipersona.providers.offline:SimulatedProvider",
    "openai": "medipersona.providers.openai_provider:OpenAIProvider",
    "anthropic": "medipersona.providers.anthropic_provider:AnthropicProvider",
    "gemini": "medipersona.providers.gemini_provider:GeminiProvider",
}
_classes: dict[str, type[Provider]] = {}
_instances: dict[tuple[Any, ...], Provider] = {}
_lock = threading.Lock()


def register_provider(cls: type[Provider]) -> type[Provider]:
    """Register (or replace) a provider class under ``cls.name``. Usable as a class decorator."""
    if not getattr(cls, "name", ""):
        raise ValueError("a provider class needs a name")
    _classes[cls.name] = cls
    return cls


def unregister_provider(name: str) -> None:
    _classes.pop(name, None)
    for key in [k for k in _instances if k[0] == name]:
        _instances.pop(key, None)


def provider_names() -> list[str]:
    return sorted(set(_BUILTIN) | set(_classes))


def get_provider_class(name: str) -> type[Provider]:
    name = (name or "").strip().lower()
    cls = _classes.get(name)
    if cls is not None:
        return cls
    target = _BUILTIN.get(name)
    if target is None:
        raise ConfigurationError(
            f"Unknown AI provider {name!r}. Available providers: {', '.join(provider_names())}."
        )
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    _classes[name] = cls
    return cls


def _check_one(setting: str, name: str, kind: str) -> None:
    try:
        cls = get_provider_class(name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"MEDIPERSONA_{setting.upper()}: {exc}") from None
    if kind == "text" and not cls.supports_text:
        raise ConfigurationError(
            f"MEDIPERSONA_{setting.upper()}={name}: provider {name!r} cannot generate text."
        )
    if kind == "image" and not cls.supports_image:
        capable = [n for n in provider_names() if _supports(n, "image")]
        raise ConfigurationError(
            f"MEDIPERSONA_{setting.upper()}={name}: provider {name!r} cannot generate images "
            f"(image-capable providers: {', '.join(capable)})."
        )
    if cls.needs_key and not cls.api_key():
        variables = " or ".join(cls.key_variables()) or "an API key"
        raise ConfigurationError(
            f"MEDIPERSONA_{setting.upper()}={name}: no API key found; set {variables} in the environment"
            + (" (any non-empty value for a local OpenAI-compatible server via OPENAI_BASE_URL)."
               if name == "openai" else ".")
        )


def _supports(name: str, kind: str) -> bool:
    try:
        cls = get_provider_class(name)
    except (ConfigurationError, ImportError):
        return False
    return cls.supports_image if kind == "image" else cls.supports_text


def provider_problem(name: str, kind: str) -> str | None:
    """Why provider ``name`` cannot do ``kind`` (text | image) in this process, in Japanese; None when it can."""
    try:
        cls = get_provider_class(name)
    except (ConfigurationError, ImportError):
        return f"AIサービス「{name}」はありません。"
    if kind == "image" and not cls.supports_image:
        return f"AIサービス「{name}」は画像を生成できません。"
    if kind == "text" and not cls.supports_text:
        return f"AIサービス「{name}」は文章を生成できません。"
    if cls.needs_key and not cls.api_key():
        variables = "・".join(cls.key_variables()) or "APIキー"
        return f"AIサービス「{name}」のAPIキー（{variables}）がサーバーの環境変数に設定されていません。"
    return None


def usable_provider(name: str, settings: Settings, kind: str) -> Provider:
    """The provider for a call; ProviderError (not retryable, code ``not_configured``) when it cannot be used
    here, e.g. an admin picked a provider whose key this instance lacks."""
    problem = provider_problem(name, kind)
    if problem is not None:
        err = ProviderError(problem, code="not_configured")
        err.provider = name
        raise err
    return get_provider(name, settings)


def env_route(settings: Settings, kind: str) -> ProviderRoute:
    """The environment's provider and fallback for ``kind`` (the model is resolved per call)."""
    if kind == "image":
        return ProviderRoute(settings.image_provider, "", settings.fallback_image_provider.strip())
    return ProviderRoute(settings.text_provider, "", settings.fallback_text_provider.strip())


def check_configuration(settings: Settings) -> None:
    """Raise ConfigurationError for an unknown provider, a provider that cannot do its task, or a missing key.

    Called at start-up (``create_app``), so a bad configuration fails before the first request.
    """
    _check_one("text_provider", settings.text_provider, "text")
    _check_one("image_provider", settings.image_provider, "image")
    if settings.fallback_text_provider.strip():
        _check_one("fallback_text_provider", settings.fallback_text_provider, "text")
    if settings.fallback_image_provider.strip():
        _check_one("fallback_image_provider", settings.fallback_image_provider, "image")


def get_provider(name: str, settings: Settings) -> Provider:
    """The per-process instance of a provider for this configuration (one pooled client per worker)."""
    cls = get_provider_class(name)
    key = (cls.name, cls, cls.config_key(settings))
    instance = _instances.get(key)
    if instance is None:
        with _lock:
            instance = _instances.get(key)
            if instance is None:
                instance = cls.from_settings(settings)
                _instances[key] = instance
    return instance


def text_provider(settings: Settings) -> Provider:
    return get_provider(settings.text_provider, settings)


def image_provider(settings: Settings) -> Provider:
    return get_provider(settings.image_provider, settings)


def text_accepts_images(settings: Settings) -> bool:
    """Whether the configured text provider reads images sent with a prompt (``Provider.accepts_images``)."""
    return get_provider_class(settings.text_provider).accepts_images


def provider_label(name: str) -> str:
    """Human label of a provider (offline output is labelled as such)."""
    try:
        cls = get_provider_class(name)
    except ConfigurationError:
        return name
    return cls.label or cls.name


def configured_provider_names(settings: Settings, *extra: str) -> list[str]:
    """The providers this worker is configured to call: the environment's text and image providers and their
    fallbacks, plus ``extra`` (e.g. the providers an admin picked per task), each once, in order."""
    names = [settings.text_provider, settings.image_provider, settings.fallback_text_provider,
             settings.fallback_image_provider, *extra]
    out: list[str] = []
    for name in names:
        name = (name or "").strip().lower()
        if name and name not in out:
            out.append(name)
    return out


async def warm_providers(settings: Settings, names: list[str]) -> list[str]:
    """Import and build the clients of providers ``names`` now (worker start), so that their first call does not
    import an SDK on the event loop (~0.5-1 s for the openai SDK) inside its timeout. Providers that cannot be
    used here (unknown, no key) are skipped; a failure is logged, never raised: the call would load lazily.
    Returns the names warmed."""
    import logging

    log = logging.getLogger("medipersona.ai")
    warmed = []
    for name in names:
        if provider_problem(name, "text") is not None and provider_problem(name, "image") is not None:
            continue
        try:
            await get_provider(name, settings).warm()
        except Exception:  # noqa: BLE001 - a warm-up must not stop the worker; the first call loads lazily
            log.exception("warming the AI provider %s failed; its first call will load it", name)
            continue
        warmed.append(name)
    return warmed


async def aclose_providers() -> None:
    """Close every pooled client (worker shutdown) and forget the instances."""
    instances = list(_instances.values())
    _instances.clear()
    for instance in instances:
        try:
            await instance.aclose()
        except Exception:  # noqa: BLE001, S110 - shutdown must go on
            pass


def reset_providers() -> None:
    """Forget the cached instances without closing them (tests)."""
    _instances.clear()
