"""A request as the prompt cache sees it: positions, cumulative hashes and the breakpoints.

Positions are those of `positions.request_positions` (tools, system, messages; reference §2.3).
Each position's hash covers everything before it, so an edit invalidates every later position.
Request-level settings are mixed in where the reference's invalidation table (§3.2) says they
act: web search and citations toggles and `speed` at the start of `system` (system and
messages invalidated, tools kept); `tool_choice`, whether any image is present, the
`thinking` settings and `output_config.effort` at the start of `messages` (messages
invalidated only). An absent setting counts as its default (the model's default effort), so
spelling a default out changes nothing. `cache_control` itself is never hashed: moving a
breakpoint does not change the prefix.

Breakpoints are the blocks carrying `cache_control` plus the automatic one placed by a top-level
`cache_control` on the last cacheable block (§2.5); the 4-slot limit and the 1h-before-5m rule
are enforced here with the live API's 400 texts (§2.3).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from clawdbot_nb.sim.api_errors import invalid_request
from clawdbot_nb.sim.positions import Position

__all__ = ["MAX_BREAKPOINTS", "Breakpoint", "PrefixPlan", "build_plan"]

MAX_BREAKPOINTS = 4

TTL_ORDER_MESSAGE = (
    "Blocks are processed in the following order: `tools`, `system`, `messages`. "
    "A `ttl='1h'` cache_control block must not come after a `ttl='5m'` cache_control block."
)


@dataclass(frozen=True, slots=True)
class Breakpoint:
    position: int
    ttl: str  # "5m" | "1h"
    automatic: bool = False


@dataclass
class PrefixPlan:
    """Cumulative hash and token count per position, the total `T`, and the breakpoints."""

    blocks: list[Position]
    hashes: list[bytes]
    cumulative: list[int]
    total: int
    breakpoints: list[Breakpoint]


def _dump(value: Any) -> bytes:
    # Key order is kept as received: the real cache keys on the serialised request, so a
    # client that reorders `tool_use.input` keys misses (reference §3.1).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode(
        "utf-8", "surrogatepass"
    )


def _without_cache_control(block: Any) -> Any:
    if isinstance(block, dict) and "cache_control" in block:
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def _has_image(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get("type") == "image":
            return True
        content = value.get("content")
        return isinstance(content, list) and any(_has_image(item) for item in content)
    return False


def _effort(params: dict, default: str | None) -> str | None:
    config = params.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    return effort if effort is not None else default


def _messages_flags(params: dict, default_effort: str | None) -> bytes:
    images = False
    for message in params.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(_has_image(block) for block in content):
            images = True
            break
    # Absent settings mean their defaults, so spelling a default out does not invalidate anything.
    tool_choice = params.get("tool_choice") or {"type": "auto"}
    thinking = params.get("thinking") or {"type": "disabled"}
    return _dump([tool_choice, images, thinking, _effort(params, default_effort)])


def _system_flags(params: dict, web_search: bool) -> bytes:
    citations = False
    for message in params.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "document":
                    config = block.get("citations")
                    if isinstance(config, dict) and config.get("enabled"):
                        citations = True
    return _dump([params.get("speed"), web_search, citations])


def _is_web_search(tool: Any) -> bool:
    return isinstance(tool, dict) and str(tool.get("type") or "").startswith("web_search")


def _chain(state: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(state + data, digest_size=16).digest()


def _hashes(params: dict, blocks: list[Position], default_effort: str | None) -> list[bytes]:
    messages = params.get("messages") or []
    web_search = any(_is_web_search(t) for t in params.get("tools") or ())
    state = b"prefix-v1"
    hashes: list[bytes] = []
    section = "tools"
    for block in blocks:
        if block.section != section:
            if section == "tools":
                state = _chain(state, b"S" + _system_flags(params, web_search))
                section = "system"
            if block.section == "messages" and section == "system":
                state = _chain(state, b"M" + _messages_flags(params, default_effort))
                section = "messages"
        if block.section == "tools":
            if _is_web_search(block.raw):
                # A web search tool toggles like a flag: it leaves the tools prefix alone (§3.2),
                # yet its own position gets a hash no other position shares.
                hashes.append(_chain(state, b"W" + _dump(_without_cache_control(block.raw))))
                continue
            state = _chain(state, b"T" + _dump(_without_cache_control(block.raw)))
        elif block.section == "system":
            state = _chain(state, b"s" + _dump(_without_cache_control(block.raw)))
        else:
            m_index, b_index = block.path[1], block.path[2]
            role = messages[m_index].get("role", "") if b_index == 0 else ""
            marker = f"m{role}|".encode() if b_index == 0 else b"b"
            state = _chain(state, marker + _dump(_without_cache_control(block.raw)))
        hashes.append(state)
    return hashes


def _breakpoints(params: dict, blocks: list[Position]) -> list[Breakpoint]:
    explicit = [
        Breakpoint(index, block.cache_control.get("ttl", "5m"))
        for index, block in enumerate(blocks)
        if block.cache_control is not None
    ]
    points = list(explicit)
    top = params.get("cache_control")
    if isinstance(top, dict):
        ttl = top.get("ttl", "5m")
        target = next((i for i in range(len(blocks) - 1, -1, -1) if blocks[i].cacheable), None)
        if target is not None:
            existing = next((bp for bp in explicit if bp.position == target), None)
            if existing is not None:
                if existing.ttl != ttl:
                    raise invalid_request(
                        f"cache_control: the top-level cache_control (ttl='{ttl}') conflicts with the "
                        f"cache_control (ttl='{existing.ttl}') already set on the last cacheable block"
                    )
            else:
                points.append(Breakpoint(target, ttl, automatic=True))
                points.sort(key=lambda bp: bp.position)
    if len(points) > MAX_BREAKPOINTS:
        raise invalid_request(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(points)}."
        )
    seen_5m = False
    for bp in points:
        if bp.ttl == "5m":
            seen_5m = True
        elif seen_5m:
            raise invalid_request(TTL_ORDER_MESSAGE)
    return points


def build_plan(
    params: dict, blocks: list[Position], trailing_tokens: int, default_effort: str | None = None
) -> PrefixPlan:
    """The cache view of a validated request; 400 on breakpoint rules. `default_effort` is the
    model's effort when the request sets none."""
    breakpoints = _breakpoints(params, blocks)
    cumulative: list[int] = []
    running = 0
    for block in blocks:
        running += block.tokens
        cumulative.append(running)
    # Hashing is only needed when something can be cached.
    hashes = _hashes(params, blocks, default_effort) if breakpoints else []
    return PrefixPlan(blocks, hashes, cumulative, running + trailing_tokens, breakpoints)
