"""Model references as the gateway reads them: `provider/model`, aliases, and a bare id.

Pure functions over config values, so `models status` names the same default model,
fallbacks and providers in use as the gateway does for the same config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The gateway's `DEFAULT_PROVIDER` / `DEFAULT_MODEL`: what it uses when none is configured.
GATEWAY_DEFAULT_PROVIDER = "anthropic"
GATEWAY_DEFAULT_MODEL = "claude-opus-4-5"

_PROVIDER_ALIASES = {"z.ai": "zai", "z-ai": "zai", "opencode-zen": "opencode", "qwen": "qwen-portal"}
_ANTHROPIC_SHORTHANDS = {"opus-4.5": "claude-opus-4-5", "sonnet-4.5": "claude-sonnet-4-5"}
_GOOGLE_PREVIEWS = {"gemini-3-pro": "gemini-3-pro-preview", "gemini-3-flash": "gemini-3-flash-preview"}


def normalize_provider_id(provider: str) -> str:
    """Lowercase, trimmed, with the gateway's aliases (`z.ai` → `zai`, `qwen` → `qwen-portal`)."""
    normalized = provider.strip().lower()
    return _PROVIDER_ALIASES.get(normalized, normalized)


def _normalize_model_id(provider: str, model: str) -> str:
    if provider == "anthropic":
        return _ANTHROPIC_SHORTHANDS.get(model.strip().lower(), model.strip())
    if provider == "google":
        return _GOOGLE_PREVIEWS.get(model, model)
    return model


@dataclass(frozen=True)
class ModelRef:
    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.model}"


def parse_model_ref(raw: object, default_provider: str = GATEWAY_DEFAULT_PROVIDER) -> ModelRef | None:
    """`anthropic/claude-opus-4-5` → (anthropic, claude-opus-4-5); a bare id takes the default
    provider; None for an empty or half reference."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if "/" not in text:
        provider = normalize_provider_id(default_provider)
        return ModelRef(provider, _normalize_model_id(provider, text))
    head, _, tail = text.partition("/")
    provider, model = normalize_provider_id(head), tail.strip()
    if not provider or not model:
        return None
    return ModelRef(provider, _normalize_model_id(provider, model))


def alias_index(models_section: Mapping[str, Any]) -> dict[str, ModelRef]:
    """`agents.defaults.models[key].alias` (lowercased) → the key's reference."""
    index: dict[str, ModelRef] = {}
    for key, entry in models_section.items():
        ref = parse_model_ref(key)
        alias = entry.get("alias") if isinstance(entry, Mapping) else None
        if ref is not None and isinstance(alias, str) and alias.strip():
            index[alias.strip().lower()] = ref
    return index


def resolve_model_ref(raw: object, aliases: Mapping[str, ModelRef]) -> ModelRef | None:
    """A configured model string: an alias when it has no `/`, else a reference."""
    if isinstance(raw, str) and raw.strip() and "/" not in raw:
        match = aliases.get(raw.strip().lower())
        if match is not None:
            return match
    return parse_model_ref(raw)


def resolve_default_model(raw_primary: str, aliases: Mapping[str, ModelRef]) -> ModelRef:
    """The gateway's `resolveConfiguredModelRef`: an alias, a bare id (taken as anthropic's),
    a reference, else the gateway's own default."""
    text = raw_primary.strip()
    if text:
        if "/" not in text:
            return aliases.get(text.lower()) or ModelRef(GATEWAY_DEFAULT_PROVIDER, text)
        resolved = parse_model_ref(text)
        if resolved is not None:
            return resolved
    return ModelRef(GATEWAY_DEFAULT_PROVIDER, GATEWAY_DEFAULT_MODEL)
