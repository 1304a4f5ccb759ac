"""Cache diagnostics (reference §3.6): why a request could not reuse the previous one's prefix.

A request carrying `diagnostics` stores a fingerprint under its response id; a later request
naming it in `diagnostics.previous_message_id` gets `diagnostics.cache_miss_reason`:
`model_changed` (model or `speed`), `tools_changed`, `system_changed`, `messages_changed` (an
earlier message differs or is missing), `previous_message_not_found`, or `unavailable` (model,
system, tools and messages match but e.g. `thinking`, `tool_choice` or `output_config.effort`
differ); `null` when the
prefix was fully reusable. The first four carry `cache_missed_input_tokens`: the previous
request's cached prefix minus the part that still matches (an approximation, as on the API).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from clawdbot_nb.sim.positions import Position

__all__ = ["DiagnosticsStore", "Fingerprint", "fingerprint_request"]

_MAX_STORED = 10_000


def _digest(value: Any) -> bytes:
    encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str, sort_keys=False)
    return hashlib.blake2b(encoded.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


@dataclass(frozen=True)
class Fingerprint:
    scope: tuple
    model: str
    speed: Any
    tools: bytes
    system: bytes
    messages: tuple[bytes, ...]
    others: bytes
    tools_tokens: int
    system_tokens: int
    message_tokens: tuple[int, ...]
    cached_tokens: int


def fingerprint_request(
    params: dict,
    blocks: list[Position],
    *,
    scope: tuple,
    model: str,
    cached_tokens: int,
    default_effort: str | None = None,
) -> Fingerprint:
    messages = params.get("messages") or []
    per_message = [0] * len(messages)
    tools_tokens = system_tokens = 0
    for block in blocks:
        if block.section == "tools":
            tools_tokens += block.tokens
        elif block.section == "system":
            system_tokens += block.tokens
        else:
            per_message[block.path[1]] += block.tokens
    system = params.get("system")
    return Fingerprint(
        scope=scope,
        model=model,
        speed=params.get("speed"),
        tools=_digest(_strip(params.get("tools") or [])),
        system=_digest(
            _strip([{"type": "text", "text": system}] if isinstance(system, str) else system or [])
        ),
        messages=tuple(_digest(_strip(m)) for m in messages),
        others=_digest(
            [
                params.get("tool_choice") or {"type": "auto"},
                params.get("thinking") or {"type": "disabled"},
                _effort(params) or default_effort,
            ]
        ),
        tools_tokens=tools_tokens,
        system_tokens=system_tokens,
        message_tokens=tuple(per_message),
        cached_tokens=cached_tokens,
    )


def _effort(params: dict) -> str | None:
    config = params.get("output_config")
    return config.get("effort") if isinstance(config, dict) else None


def _reason(kind: str, missed: int | None = None) -> dict:
    reason: dict = {"type": kind}
    if missed is not None:
        reason["cache_missed_input_tokens"] = max(0, missed)
    return reason


def diagnose(previous: Fingerprint | None, current: Fingerprint) -> dict | None:
    """The `cache_miss_reason` of `current` against `previous`; None when nothing diverged."""
    if previous is None or previous.scope != current.scope:
        return _reason("previous_message_not_found")
    cached = previous.cached_tokens
    if previous.model != current.model or previous.speed != current.speed:
        return _reason("model_changed", cached)
    if previous.tools != current.tools:
        return _reason("tools_changed", cached)
    if previous.system != current.system:
        return _reason("system_changed", cached - previous.tools_tokens)
    matched = previous.tools_tokens + previous.system_tokens
    for index, digest in enumerate(previous.messages):
        if index >= len(current.messages) or current.messages[index] != digest:
            return _reason("messages_changed", cached - matched)
        matched += previous.message_tokens[index]
    if previous.others != current.others:
        return _reason("unavailable")
    return None


class DiagnosticsStore:
    """Fingerprints by response id (bounded, oldest dropped first); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored: OrderedDict[str, Fingerprint] = OrderedDict()

    def remember(self, message_id: str, fingerprint: Fingerprint) -> None:
        with self._lock:
            self._stored[message_id] = fingerprint
            while len(self._stored) > _MAX_STORED:
                self._stored.popitem(last=False)

    def get(self, message_id: Any) -> Fingerprint | None:
        if not isinstance(message_id, str):
            return None
        with self._lock:
            return self._stored.get(message_id)
