"""The gateway's config file (`clawdbot.json`, JSON5): typed reads, locked atomic writes.

Only the keys clawdbot_nb uses are interpreted; everything else is kept as it was. A value
of the wrong type is reported with its dotted path and the fix.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from clawdbot_nb.errors import ClawdbotError, ParseError
from clawdbot_nb.state.cooldown import CooldownPolicy
from clawdbot_nb.state.jsonfile import (
    ParsedFileCache,
    check_structure,
    ensure_private_dir,
    load_json_object,
    write_json_atomic,
    write_target,
)
from clawdbot_nb.state.lock import FileLock
from clawdbot_nb.state.paths import DEFAULT_AGENT_ID

CONFIG_BACKUP_COUNT = 5
#: A cooldown setting beyond ten years is a typo (and far beyond what a timestamp can hold).
MAX_COOLDOWN_HOURS = 87_600
PROFILE_MODES = ("api_key", "oauth", "token")
CACHE_TTLS = ("5m", "1h")
#: OpenClaw's `cacheRetention` words and the TTL each means (`none`: no cache_control at all).
CACHE_RETENTION_TTL = {"none": "none", "short": "5m", "long": "1h"}

T = TypeVar("T")

#: Parsed configs by path, re-parsed only when the file changed.
_loaded: ParsedFileCache[ClawdbotConfig] = ParsedFileCache()


@dataclass(frozen=True)
class ProfileConfig:
    """`auth.profiles[id]`: metadata only, never a secret."""

    provider: str
    mode: str
    email: str | None = None

    def accepts(self, credential_type: str) -> bool:
        """Config mode must equal the stored type; mode `oauth` also accepts a `token`."""
        return self.mode == credential_type or (self.mode == "oauth" and credential_type == "token")


@dataclass(frozen=True)
class CacheTtlSetting:
    """The configured TTL for a model and which key it came from."""

    ttl: str  # "5m" | "1h" | "none"
    source: str  # e.g. 'agents.defaults.models["anthropic/claude-opus-4-5"].params.cacheControlTtl'


def _validate_document(path: Path) -> Callable[[dict[str, Any]], None]:
    def validate(data: dict[str, Any]) -> None:
        # JSON5 allows Infinity and NaN; they are refused where a number is read, not here.
        check_structure(data, path=path, what="config", finite_numbers=False)

    return validate


def _model_key(model: str) -> str:
    return model if "/" in model else f"anthropic/{model}"


class ClawdbotConfig:
    """A parsed config. `data` is the whole document; the properties read parts of it."""

    def __init__(self, data: dict[str, Any], path: Path, *, exists: bool = True) -> None:
        self.data = data
        self.path = path
        self.exists = exists
        # A config object is never changed after loading, so derived values are kept.
        self._ttl_cache: dict[tuple[str, str | None], CacheTtlSetting | None] = {}

    @classmethod
    def load(cls, path: Path) -> ClawdbotConfig:
        """The config at `path`; re-parsed only when the file changed (a config is read-only)."""
        cached = _loaded.get(path)
        if cached is not None:
            return cached
        document = load_json_object(path, what="config", validate=_validate_document(path))
        if document is None:
            return cls({}, path, exists=False)
        config = cls(document.data, path)
        _loaded.put(path, document.raw, config)
        return config

    # -- typed access -------------------------------------------------------------------------

    def _error(self, field: str, expected: str) -> ParseError:
        return ParseError(
            f"config field {field} must be {expected}",
            path=self.path,
            fix=f"correct {field} in {self.path.name} (or remove it to use the default)",
        )

    def _object(self, *keys: str) -> dict[str, Any]:
        node: Any = self.data
        walked: list[str] = []
        for key in keys:
            walked.append(key)
            node = node.get(key) if isinstance(node, dict) else None
            if node is None:
                return {}
            if not isinstance(node, dict):
                raise self._error(".".join(walked), "an object")
        return node

    @cached_property
    def env(self) -> dict[str, str]:
        """`env`: plain string entries and `env.vars`, as the gateway applies them."""
        section = self._object("env")
        values = {k: v for k, v in section.items() if isinstance(v, str)}
        values.update({k: v for k, v in self._object("env", "vars").items() if isinstance(v, str)})
        return values

    @cached_property
    def primary_model(self) -> str | None:
        """`agents.defaults.model.primary`, e.g. `anthropic/claude-opus-4-5`."""
        model = self._object("agents", "defaults").get("model")
        if isinstance(model, str):  # the gateway also accepts the short form `model: "p/m"`
            return model or None
        if model is None:
            return None
        if not isinstance(model, dict):
            raise self._error("agents.defaults.model", "an object like {primary: 'anthropic/<model>'}")
        primary = model.get("primary")
        if primary is not None and not isinstance(primary, str):
            raise self._error("agents.defaults.model.primary", "a string like 'anthropic/claude-opus-4-5'")
        return primary or None

    def agent_entry(self, agent_id: str) -> dict[str, Any] | None:
        """The `agents.list[]` entry whose `id` is `agent_id`."""
        entries = self._object("agents").get("list")
        if entries is None:
            return None
        if not isinstance(entries, list):
            raise self._error("agents.list", "a list of agent objects")
        for entry in entries:
            if isinstance(entry, dict) and str(entry.get("id", "")).strip().lower() == agent_id:
                return entry
        return None

    @cached_property
    def default_agent_id(self) -> str:
        """The agent marked `default: true` in `agents.list`, else `main`."""
        entries = self._object("agents").get("list")
        if isinstance(entries, list):
            for entry in entries:
                if (
                    isinstance(entry, dict)
                    and entry.get("default") is True
                    and isinstance(entry.get("id"), str)
                ):
                    return entry["id"].strip().lower() or DEFAULT_AGENT_ID
        return DEFAULT_AGENT_ID

    def agent_dir_override(self, agent_id: str) -> str | None:
        entry = self.agent_entry(agent_id)
        value = entry.get("agentDir") if entry else None
        return value if isinstance(value, str) and value.strip() else None

    def model_params(self, model: str, agent_id: str | None = None) -> dict[str, Any]:
        """Merged params: `agents.defaults.params` → the model's params → the agent's params."""
        key = _model_key(model)
        merged: dict[str, Any] = {}
        defaults = self._object("agents", "defaults")
        for field, node in (
            ("agents.defaults.params", defaults.get("params")),
            (f'agents.defaults.models["{key}"].params', self._model_entry(key).get("params")),
        ):
            if node is None:
                continue
            if not isinstance(node, dict):
                raise self._error(field, "an object")
            merged.update(node)
        entry = self.agent_entry(agent_id) if agent_id else None
        if entry and isinstance(entry.get("params"), dict):
            merged.update(entry["params"])
        return merged

    def _model_entry(self, key: str) -> dict[str, Any]:
        models = self._object("agents", "defaults", "models")
        entry = models.get(key)
        if entry is None:
            from clawdbot_nb import catalog

            info = catalog.lookup(key)
            if info is not None:  # a dated alias configured under its short id, or the reverse
                for candidate in (info.id, *info.aliases):
                    entry = models.get(f"anthropic/{candidate}")
                    if entry is not None:
                        break
        if entry is None:
            return {}
        if not isinstance(entry, dict):
            raise self._error(f'agents.defaults.models["{key}"]', "an object")
        return entry

    def cache_ttl(self, model: str, agent_id: str | None = None) -> CacheTtlSetting | None:
        """The configured TTL for `model`: `cacheRetention` wins over `cacheControlTtl`."""
        key = (model, agent_id)
        if key not in self._ttl_cache:
            self._ttl_cache[key] = self._cache_ttl(model, agent_id)
        return self._ttl_cache[key]

    def _cache_ttl(self, model: str, agent_id: str | None) -> CacheTtlSetting | None:
        params = self.model_params(model, agent_id)
        field_base = f'agents.defaults.models["{_model_key(model)}"].params'
        retention = params.get("cacheRetention")
        if retention is not None:
            if retention not in CACHE_RETENTION_TTL:
                raise self._error(f"{field_base}.cacheRetention", '"none", "short" or "long"')
            return CacheTtlSetting(CACHE_RETENTION_TTL[retention], f"{field_base}.cacheRetention")
        ttl = params.get("cacheControlTtl")
        if ttl is not None:
            if ttl not in CACHE_TTLS:
                raise self._error(f"{field_base}.cacheControlTtl", '"5m" or "1h"')
            return CacheTtlSetting(ttl, f"{field_base}.cacheControlTtl")
        return None

    @cached_property
    def auth_profiles(self) -> dict[str, ProfileConfig]:
        result: dict[str, ProfileConfig] = {}
        for profile_id, entry in self._object("auth", "profiles").items():
            field = f'auth.profiles["{profile_id}"]'
            if not isinstance(entry, dict):
                raise self._error(field, "an object like {provider: 'anthropic', mode: 'api_key'}")
            provider, mode = entry.get("provider"), entry.get("mode")
            if not isinstance(provider, str) or not provider.strip():
                raise self._error(f"{field}.provider", "a provider id such as 'anthropic'")
            if mode not in PROFILE_MODES:
                raise self._error(f"{field}.mode", '"api_key", "oauth" or "token"')
            email = entry.get("email")
            result[profile_id] = ProfileConfig(
                provider.strip().lower(), mode, email if isinstance(email, str) else None
            )
        return result

    @cached_property
    def auth_order(self) -> dict[str, list[str]]:
        result: dict[str, list[str]] = {}
        for provider, ids in self._object("auth", "order").items():
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise self._error(f"auth.order.{provider}", "a list of profile ids")
            cleaned = [i.strip() for i in ids if i.strip()]
            if cleaned:
                result[provider.strip().lower()] = cleaned
        return result

    @cached_property
    def cooldown_policy(self) -> CooldownPolicy:
        section = self._object("auth", "cooldowns")

        def positive_hours(value: Any, field: str) -> float:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not 0 < value <= MAX_COOLDOWN_HOURS
            ):
                raise self._error(field, f"a positive number of hours (at most {MAX_COOLDOWN_HOURS:,})")
            return float(value)

        def hours(name: str, default: float) -> float:
            return positive_hours(section.get(name, default), f"auth.cooldowns.{name}")

        by_provider = section.get("billingBackoffHoursByProvider") or {}
        if not isinstance(by_provider, dict):
            raise self._error(
                "auth.cooldowns.billingBackoffHoursByProvider", "an object of hours per provider"
            )
        return CooldownPolicy(
            billing_backoff_hours=hours("billingBackoffHours", 5.0),
            billing_backoff_hours_by_provider={
                k.strip().lower(): positive_hours(v, f"auth.cooldowns.billingBackoffHoursByProvider.{k}")
                for k, v in by_provider.items()
            },
            billing_max_hours=hours("billingMaxHours", 24.0),
            failure_window_hours=hours("failureWindowHours", 24.0),
        )


def update_config(path: Path, mutate: Callable[[dict[str, Any]], T]) -> T:
    """Read-modify-write the config under its lock, keeping 5 rotating `.bak` copies.

    `mutate` changes the document in place. Nothing is written when it leaves the document
    unchanged or raises, and a config that cannot be parsed is never written over. A
    symlinked config is written through to its target.
    """
    target = write_target(path, what="config")
    ensure_private_dir(target.parent)
    with FileLock(target):
        document = load_json_object(target, what="config", validate=_validate_document(path))
        data = document.data if document is not None else {}
        before = copy.deepcopy(data)
        try:
            result = mutate(data)
        except ClawdbotError as error:
            if error.path is None:  # say which file the complaint is about
                error.path = str(path)
            raise
        if data != before or document is None:
            write_json_atomic(target, data, backups=CONFIG_BACKUP_COUNT)
    return result


def record_profile_metadata(
    data: dict[str, Any], profile_id: str, *, provider: str, mode: str, email: str | None = None
) -> None:
    """The gateway's `applyAuthProfileConfig`: set `auth.profiles[id]`; if an
    `auth.order[provider]` list exists, move the id to its front (never create the list)."""
    auth = data.setdefault("auth", {})
    if not isinstance(auth, dict):
        raise ParseError("config field auth must be an object", fix="correct or remove `auth` in the config")
    profiles = auth.setdefault("profiles", {})
    if not isinstance(profiles, dict):
        raise ParseError("config field auth.profiles must be an object", fix="correct auth.profiles")
    entry: dict[str, Any] = {"provider": provider, "mode": mode}
    if email:
        entry["email"] = email
    previous = profiles.get(profile_id)
    if isinstance(previous, dict):  # keep fields a newer gateway may have added
        entry = {**previous, **entry}
    profiles[profile_id] = entry
    order = auth.get("order")
    if isinstance(order, dict) and isinstance(order.get(provider), list):
        order[provider] = [profile_id, *(i for i in order[provider] if i != profile_id)]
