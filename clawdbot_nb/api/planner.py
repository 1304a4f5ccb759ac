"""Where `cache_control` goes and with which TTL: a pure function of the request, the TTL
policy and the credential's wire path.

The rule: a breakpoint goes where the next call will read it back, and nowhere else, because a
breakpoint makes its prefix a cache write (1.25x input at 5m, 2x at 1h) that pays only when read.

- The stable prefix is always marked: the last tool, the last system block and the last
  document block (unless it ends the prompt), so one-shot questions over the same material
  read it.
- The last user turn is marked only when the call continues a conversation (the request
  carries earlier turns) or the caller asks for it (`last_turn=True`, as `Workspace.chat`
  does: the next turn will read it). A one-shot question is not marked: its 50-300 tokens
  would be written at the write premium and never read (2-3% more input cost per hit at 5m,
  9-13% at 1h over a 20k-token document). `last_turn=False` never marks it.
- As a conversation grows the history breakpoint moves with it to the new last turn; the entry
  written last turn is found by the API's 20-block lookback. When the new turn puts 20 or more
  blocks between them, the previous turn is marked too, so that entry is still read.
- Never more than 4 (the caller's own and a top-level automatic one count); when slots run
  out, the history breakpoints come first, then system, document, tools (the tools' prefix is
  part of the system entry). One TTL for all of ours, so 1h never follows 5m.

A breakpoint whose prefix is under the model's minimum cacheable length is reported instead of
silently caching nothing; `CachePlan.placement` says what was marked and why, in a few words.

Prefix sizes are the client's estimate (`tokenizer`), not exact counts. A breakpoint counts as
cacheable only when the estimate, less its measured error bound, still reaches the minimum
(`tokenizer.minimum_verdict`); near the minimum it is marked below it and the plan says the
prefix "may not be cached", so the plan never promises a write the server refuses. "Nothing
will be cached" is said only when even the estimate plus its bound stays under the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clawdbot_nb import catalog, tokenizer
from clawdbot_nb.api.cache_rules import DEFAULT_TTL, LOOKBACK_BLOCKS, MAX_BREAKPOINTS, TTLS
from clawdbot_nb.errors import UsageError
from clawdbot_nb.state.config import CacheTtlSetting

#: Blocks the API lets carry `cache_control` in a user turn (thinking blocks never can).
_MARKABLE = {"text", "image", "document", "tool_result", "tool_use", "search_result"}

OAUTH_TTL_NOTE = "TTL ignored for OAuth/setup-token credentials: Anthropic's default 5m applies"


#: What each kind of breakpoint is called in `CachePlan.placement`.
_SHORT_NAMES = {
    "tools": "tools",
    "system": "system",
    "document": "document",
    "last user turn": "turn",
    "previous turn": "previous",
    "yours": "yours",
}


@dataclass(frozen=True)
class Breakpoint:
    where: str  # "tools" | "system" | "document" | "last user turn" | "previous turn" | "yours"
    path: tuple
    ttl: str | None  # "5m" | "1h"; None = plain ephemeral (the API's 5m default)
    prefix_tokens: int
    below_minimum: bool


@dataclass(frozen=True)
class CachePlan:
    """The request to send, and what the plan decided about caching."""

    params: dict[str, Any]
    ttl_requested: str | None  # what the call or the config asked for
    ttl_applied: str  # "5m" | "1h" | "none"
    ttl_source: str  # "call", a config field, or "default"
    ttl_note: str | None
    breakpoints: tuple[Breakpoint, ...]
    min_cacheable_tokens: int | None
    warnings: tuple[str, ...]
    #: What was marked and why, in a few words ("" when caching is off).
    placement: str = ""

    @property
    def cacheable(self) -> bool:
        return any(not b.below_minimum for b in self.breakpoints)


#: `ttl="auto"`: the cache watch picks 5m or 1h per call (`ttl_policy`); the planner itself only
#: ever sees the chosen TTL.
AUTO_TTL = "auto"


def check_ttl(ttl: str | None, argument: str = "ttl") -> str | None:
    if ttl is None:
        return None
    if ttl not in (*TTLS, "none", AUTO_TTL):
        raise UsageError(
            f"Invalid {argument} {ttl!r}: prompt caching offers 5m or 1h.",
            fix='use ttl="5m" (cheaper writes), ttl="1h" (pays off from the 3rd call), "auto" '
            '(chosen per call from your pauses), or "none"',
        )
    return ttl


def resolve_ttl(call_ttl: str | None, configured: CacheTtlSetting | None) -> tuple[str, str]:
    """(ttl, source): the call's argument, else the config's setting for the model, else 5m."""
    if call_ttl is not None:
        return check_ttl(call_ttl) or DEFAULT_TTL, "call"
    if configured is not None:
        return configured.ttl, configured.source
    return DEFAULT_TTL, "default"


def normalize_request(params: dict[str, Any]) -> dict[str, Any]:
    """A copy with `system` and string message contents in block form, so blocks can be marked."""
    params = dict(params)
    system = params.get("system")
    if isinstance(system, str):
        params["system"] = [{"type": "text", "text": system}] if system else []
        if not system:
            del params["system"]
    elif isinstance(system, list):
        params["system"] = [dict(b) if isinstance(b, dict) else b for b in system]
    messages = []
    for message in params.get("messages", []):
        message = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = [{"type": "text", "text": content}]
        elif isinstance(content, list):
            message["content"] = [dict(b) if isinstance(b, dict) else b for b in content]
        messages.append(message)
    params["messages"] = messages
    if isinstance(params.get("tools"), list):
        params["tools"] = [dict(t) if isinstance(t, dict) else t for t in params["tools"]]
    return params


def _block_at(params: dict[str, Any], path: tuple) -> dict[str, Any]:
    if path[0] == "tools":
        return params["tools"][path[1]]
    if path[0] == "system":
        return params["system"][path[1]]
    return params["messages"][path[1]]["content"][path[2]]


def _last_markable_in(blocks: list[tokenizer.Block], message_index: int) -> int | None:
    """Index (into `blocks`) of the last markable block of message `message_index`."""
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if block.section == "messages" and block.path[1] == message_index:
            if block.cacheable and block.type in _MARKABLE:
                return i
        elif block.section == "messages" and block.path[1] < message_index:
            break
    return None


def _previous_user(messages: list[dict[str, Any]], before: int) -> int | None:
    return next((i for i in range(before - 1, -1, -1) if messages[i].get("role") == "user"), None)


def _last_document(blocks: list[tokenizer.Block], last_index: int | None) -> int | None:
    """The last markable document block of the messages, unless it ends the prompt (a document
    sent after nothing else is part of this one question, not material later calls share)."""
    for i in range(len(blocks) - 1, -1, -1):
        block = blocks[i]
        if block.section == "messages" and block.type == "document" and block.cacheable:
            return None if i == last_index else i
    return None


def _last_turn_reason(messages: list[dict[str, Any]], last_user: int | None, last_turn: bool | None) -> str:
    """Why the last user turn is (or is not) marked: "conversation", "next turn", "one-shot" or
    "asked not to"."""
    has_history = last_user is not None and any(m.get("role") == "assistant" for m in messages[:last_user])
    if last_turn is False:
        return "asked not to"
    if has_history:
        return "conversation"
    return "next turn" if last_turn else "one-shot"


def _placement(wheres: list[str], reason: str) -> str:
    """`marked system + turn (conversation)` and the like: what the footer shows."""
    marked = " + ".join(dict.fromkeys(_SHORT_NAMES[w] for w in wheres))
    if not marked:
        return "nothing marked (one-shot)" if reason == "one-shot" else "nothing marked"
    if reason == "one-shot":
        return f"marked {marked} (one-shot)"
    if reason == "asked not to":
        return f"marked {marked} (last turn off)"
    if "previous turn" in wheres:
        return f"marked {marked} (long turn)"
    if "last user turn" not in wheres:
        return f"marked {marked}"
    return f"marked {marked} (" + ("conversation" if reason == "conversation" else "kept for next turn") + ")"


def plan_cache(
    params: dict[str, Any],
    *,
    ttl: str | None = None,
    configured: CacheTtlSetting | None = None,
    oauth_wire: bool = False,
    cache: bool = True,
    min_cacheable_tokens: int | None = None,
    last_turn: bool | None = None,
) -> CachePlan:
    """Place breakpoints on a copy of `params` (a Messages request body), by the rule of this
    module's docstring.

    `ttl` is the call's choice, `configured` the config's for this model, `oauth_wire` whether
    the request goes out with an OAuth/setup-token credential (the TTL is then ignored and plain
    ephemeral breakpoints are sent, as Clawdbot does). `cache=False` sends no breakpoints.
    `last_turn`: None marks the last user turn when the request continues a conversation,
    True marks it anyway (the next call will read it), False never. Breakpoints the caller
    already placed are kept and count toward the limit of 4.
    """
    check_ttl(ttl)
    params = normalize_request(params)
    info = catalog.lookup(str(params.get("model", "")))
    minimum = (
        min_cacheable_tokens
        if min_cacheable_tokens is not None
        else (info.min_cacheable_tokens if info else None)
    )
    chosen, source = resolve_ttl(ttl, configured)
    warnings: list[str] = []

    if not cache or chosen == "none":
        reason = "caching off for this call" if not cache else f"caching off ({source})"
        return CachePlan(
            params, ttl or (configured.ttl if configured else None), "none", source, reason, (), minimum, ()
        )

    note = None
    marker: dict[str, Any] = {"type": "ephemeral", "ttl": chosen}
    applied = chosen
    if oauth_wire:
        marker = {"type": "ephemeral"}
        applied = DEFAULT_TTL
        if chosen != DEFAULT_TTL:
            note = OAUTH_TTL_NOTE
    blocks = tokenizer.request_blocks(params)
    existing = [i for i, b in enumerate(blocks) if b.cache_control is not None]
    if params.get("cache_control") is not None:
        warnings.append("the request already has top-level (automatic) cache_control; it uses one slot")
    budget = MAX_BREAKPOINTS - len(existing) - (1 if params.get("cache_control") is not None else 0)

    # In order of priority: what a conversation reads back first, then the stable prefix.
    wanted: list[tuple[str, int]] = []
    messages = params["messages"]
    last_user = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), None)
    reason = _last_turn_reason(messages, last_user, last_turn)
    last_index = None
    if last_user is not None and last_user == len(messages) - 1:
        last_index = _last_markable_in(blocks, last_user)
    if last_index is not None and reason in ("conversation", "next turn"):
        wanted.append(("last user turn", last_index))
        previous_user = _previous_user(messages, last_user)
        if previous_user is not None:
            previous = _last_markable_in(blocks, previous_user)
            if previous is not None and last_index - previous >= LOOKBACK_BLOCKS:
                wanted.append(("previous turn", previous))
    system_blocks = [i for i, b in enumerate(blocks) if b.section == "system" and b.cacheable]
    if system_blocks:
        wanted.append(("system", system_blocks[-1]))
    document = _last_document(blocks, last_index)
    if document is not None:
        wanted.append(("document", document))
    tool_blocks = [i for i, b in enumerate(blocks) if b.section == "tools"]
    if tool_blocks:
        wanted.append(("tools", tool_blocks[-1]))

    chosen_points: list[tuple[str, int]] = []
    for where, index in wanted:
        if index in existing or any(index == i for _, i in chosen_points):
            continue
        if len(chosen_points) >= budget:
            warnings.append(f"no breakpoint slot left for the {where} (4 at most per request)")
            continue
        chosen_points.append((where, index))

    for _, index in chosen_points:
        _block_at(params, blocks[index].path)["cache_control"] = dict(marker)

    # The API refuses a 1h breakpoint after a 5m one; ours share one TTL, but breakpoints the
    # caller placed may not. Ours after a caller's 5m are lowered to 5m; ours before a caller's
    # 1h are raised to 1h, which costs nothing: the A/B/C rule charges everything up to the last
    # 1h breakpoint as a 1h write anyway.
    def caller_ttl(i: int) -> str:
        return (blocks[i].cache_control or {}).get("ttl", "5m")

    first_5m = min((i for i in existing if caller_ttl(i) == "5m"), default=None)
    last_1h = max((i for i in existing if caller_ttl(i) == "1h"), default=None)
    if (
        not oauth_wire
        and chosen == "1h"
        and first_5m is not None
        and any(i > first_5m for _, i in chosen_points)
    ):
        for _, index in chosen_points:
            if index > first_5m:
                _block_at(params, blocks[index].path)["cache_control"] = {
                    "type": "ephemeral",
                    "ttl": "5m",
                }
        warnings.append("some 1h breakpoints were lowered to 5m: a 1h breakpoint may not follow a 5m one")
    elif (
        (oauth_wire or chosen == "5m") and last_1h is not None and any(i < last_1h for _, i in chosen_points)
    ):
        for _, index in chosen_points:
            if index < last_1h:
                _block_at(params, blocks[index].path)["cache_control"] = {
                    "type": "ephemeral",
                    "ttl": "1h",
                }
        warnings.append(
            "some breakpoints before one of yours at 1h were raised to 1h: a 1h breakpoint may not "
            "follow a 5m one (this costs nothing more)"
        )

    cumulative = []
    total = 0
    for block in blocks:
        total += block.tokens
        cumulative.append(total)
    points = []
    for where, index in sorted([*chosen_points, *(("yours", i) for i in existing)], key=lambda p: p[1]):
        prefix = cumulative[index]
        control = _block_at(params, blocks[index].path).get("cache_control") or {}
        below = minimum is not None and tokenizer.minimum_verdict(prefix, minimum) != "cached"
        points.append(Breakpoint(where, blocks[index].path, control.get("ttl"), prefix, below))
    if points and minimum is not None and all(p.below_minimum for p in points):
        largest = max(p.prefix_tokens for p in points)
        model = params.get("model")
        if tokenizer.minimum_verdict(largest, minimum) == "not cached":
            warnings.append(
                f"nothing will be cached: the longest marked prefix is about {largest:,} tokens, under the "
                f"{minimum:,}-token minimum of {model}; a longer system prompt or context fixes it"
            )
        else:
            warnings.append(
                f"may not be cached: the longest marked prefix is about {largest:,} tokens by the local "
                f"estimate, too close to the {minimum:,}-token minimum of {model} to be sure "
                "(count_tokens gives the exact size)"
            )
    return CachePlan(
        params,
        ttl if ttl is not None else (configured.ttl if configured else None),
        applied,
        source,
        note,
        tuple(points),
        minimum,
        tuple(warnings),
        _placement([p.where for p in points], reason),
    )
