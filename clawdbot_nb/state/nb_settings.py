"""clawdbot_nb's own settings: `<stateDir>/clawdbot-nb/settings.json`, beside the usage ledger.

What the gateway's config cannot hold lives here, never in clawdbot.json (its strict schema
refuses unknown values). Today that is the cache TTL, which may be "auto" (chosen per call):

    {"cacheControlTtl": "auto",
     "models": {"anthropic/claude-opus-5-5": {"cacheControlTtl": "1h"}},
     "agents": {"research": {"cacheControlTtl": "5m"}}}

For one call the most specific entry wins: the model's, then the agent's, then the top level.
A call's own `ttl=` beats this file, and this file beats the gateway config's
`cacheRetention` / `cacheControlTtl`. Unknown fields are kept when the file is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clawdbot_nb.errors import ParseError, UsageError, command
from clawdbot_nb.state.config import CacheTtlSetting
from clawdbot_nb.state.jsonfile import (
    ParsedFileCache,
    ensure_private_dir,
    load_json_object,
    read_json_object,
    write_json_atomic,
    write_target,
)
from clawdbot_nb.state.lock import FileLock

SETTINGS_FILENAME = "settings.json"
SETTINGS_TTLS = ("5m", "1h", "auto")
_WHAT = "clawdbot_nb settings"


def settings_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / "clawdbot-nb" / SETTINGS_FILENAME


def _model_key(model: str) -> str:
    return model if "/" in model else f"anthropic/{model}"


#: Every call resolves its TTL here: the document is parsed again only when the file changed.
_loaded: ParsedFileCache[dict[str, Any]] = ParsedFileCache()


def read_settings(state_dir: str | Path) -> dict[str, Any]:
    """The settings document ({} when there is none). Shared: do not change it."""
    path = settings_path(state_dir)
    cached = _loaded.get(path)
    if cached is not None:
        return cached
    document = load_json_object(path, what=_WHAT)
    if document is None:
        return {}
    _loaded.put(path, document.raw, document.data)
    return document.data


def _field(keys: tuple[str, ...]) -> str:
    """`models["anthropic/claude-opus-5-5"].cacheControlTtl`: a field as the errors name it."""
    name = keys[0]
    for key in keys[1:]:
        name += f'["{key}"]' if "/" in key or "." in key else f".{key}"
    return name


def _ttl_at(data: dict[str, Any], keys: tuple[str, ...], path: Path) -> CacheTtlSetting | None:
    node: Any = data
    for depth, key in enumerate(keys[:-1], start=1):
        node = node.get(key)
        if node is None:
            return None
        if not isinstance(node, dict):
            field = _field(keys[:depth])
            raise ParseError(f"{path}: {field} must be an object.", fix=f"correct or remove {field}")
    value = node.get(keys[-1])
    if value is None:
        return None
    field = _field(keys)
    if value not in SETTINGS_TTLS:
        raise ParseError(
            f"{path}: {field} is {value!r}; it must be one of {', '.join(SETTINGS_TTLS)}.",
            fix=f'set it to "auto", "5m" or "1h", or remove it ({command("cache ttl --clear")})',
        )
    return CacheTtlSetting(value, f"clawdbot-nb settings {field}")


def cache_ttl(state_dir: str | Path, model: str, agent_id: str | None = None) -> CacheTtlSetting | None:
    """The TTL this file sets for `model` (and agent), or None."""
    path = settings_path(state_dir)
    data = read_settings(state_dir)
    if not data:
        return None
    candidates = [("models", _model_key(model), "cacheControlTtl")]
    if agent_id:
        candidates.append(("agents", agent_id, "cacheControlTtl"))
    candidates.append(("cacheControlTtl",))
    for keys in candidates:
        found = _ttl_at(data, keys, path)
        if found is not None:
            return found
    return None


def set_cache_ttl(
    state_dir: str | Path, ttl: str | None, *, model: str | None = None, agent_id: str | None = None
) -> Path:
    """Write (or with `ttl=None` remove) the TTL for everything, one model, or one agent."""
    if ttl is not None and ttl not in SETTINGS_TTLS:
        raise UsageError(f"Invalid TTL {ttl!r}.", fix='use "auto", "5m" or "1h"')
    if model is not None and agent_id is not None:
        raise UsageError("Set the TTL for a model or for an agent, not both at once.", fix="drop one")
    path = settings_path(state_dir)
    target = write_target(path, what=_WHAT)
    ensure_private_dir(target.parent)
    with FileLock(target):
        data = read_json_object(target, what=_WHAT) or {}
        if model is not None:
            node = data.setdefault("models", {}).setdefault(_model_key(model), {})
        elif agent_id is not None:
            node = data.setdefault("agents", {}).setdefault(agent_id, {})
        else:
            node = data
        if not isinstance(node, dict):
            raise ParseError(f"{path}: the entry to change is not an object.", fix="correct the file by hand")
        if ttl is None:
            node.pop("cacheControlTtl", None)
        else:
            node["cacheControlTtl"] = ttl
        write_json_atomic(target, data)
    return path
