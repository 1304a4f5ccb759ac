"""Deterministic replies derived from the prompt, so tests can assert what the model "said".

- If the last user text contains `Reply with X` (up to the first `.`, newline or end; quotes
  stripped), the reply is exactly `X` (`Reply with OK. Do not use tools.` → `OK`).
- Otherwise the reply starts `Simulated reply to: "<first 12 words of the last user text>".`
  and continues with filler words chosen from the prompt's hash, up to `reply_tokens` output
  tokens in total.
- `stop_sequences` cut the text before the earliest match (`stop_reason: "stop_sequence"`);
  `max_tokens` cuts it at that many tokens (`stop_reason: "max_tokens"`, `output_tokens` equal
  to `max_tokens`); `max_tokens: 0` gives no content at all (cache pre-warming).
- `tool_choice` of type `tool` or `any` gives one `tool_use` block (the named or first custom
  tool) whose input fills the schema's required properties with placeholder values.
- Extended or adaptive thinking adds a short `thinking` block first.

Output tokens are counted with the shared tokenizer and the model's factor.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from clawdbot_nb.tokenizer import count_text, scale, split_tokens

__all__ = ["Reply", "generate_reply", "last_user_text"]

_REPLY_WITH = re.compile(r"\breply with(?: exactly)?:?\s+(.+?)(?:\.(?=\s|$)|\n|$)", re.IGNORECASE)
_FILLER_TEXT = (
    "the cached prefix is read back at a fraction of the price while new turns are written once "
    "and every later request reuses them so long as nothing earlier in the prompt changes"
)
_FILLER = tuple(_FILLER_TEXT.split())
_ECHO_WORDS = 12


@dataclass
class Reply:
    """The generated content and its accounting."""

    content: list[dict] = field(default_factory=list)
    stop_reason: str = "end_turn"
    stop_sequence: str | None = None
    output_tokens: int = 0
    thinking_tokens: int = 0
    # Per content block: the pieces a stream sends as deltas (text, thinking or JSON fragments).
    pieces: list[list[str]] = field(default_factory=list)


def last_user_text(params: dict) -> str:
    """The text of the last user message (tool-result text if it has no text block)."""
    for message in reversed(params.get("messages") or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        texts: list[str] = []
        results: list[str] = []
        for block in content or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                if isinstance(inner, str):
                    results.append(inner)
                elif isinstance(inner, list):
                    results.extend(
                        b["text"] for b in inner if isinstance(b, dict) and isinstance(b.get("text"), str)
                    )
        return "\n".join(texts or results)
    return ""


def _requested_reply(text: str) -> str | None:
    match = _REPLY_WITH.search(text)
    if match is None:
        return None
    answer = match.group(1).strip()
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'`":
        answer = answer[1:-1]
    return answer or None


def _echo(text: str) -> str:
    words = text.split()
    echo = " ".join(words[:_ECHO_WORDS])
    if len(words) > _ECHO_WORDS:
        echo += " …"
    return echo


def _compose(text: str, target_tokens: int, factor: float) -> str:
    """The default reply: the fixed opening, then filler up to `target_tokens` (scaled)."""
    reply = f'Simulated reply to: "{_echo(text)}".'
    used = count_text(reply)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    index = int.from_bytes(digest, "big") % len(_FILLER)
    words: list[str] = []
    while True:
        word = _FILLER[index % len(_FILLER)]
        cost = count_text(" " + word)
        if scale(used + cost, factor) > target_tokens:
            break
        words.append(word)
        used += cost
        index += 1
    if words:
        reply += " " + " ".join(words).capitalize()
    return reply


def _largest_within(limit: int, factor: float) -> int:
    """The most base tokens whose scaled count stays within `limit`."""
    count = int(limit / factor) + 1
    while count > 0 and scale(count, factor) > limit:
        count -= 1
    return count


def _placeholder(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "sim"
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        return {
            name: _placeholder(properties.get(name))
            for name in schema.get("required") or []
            if isinstance(name, str)
        }
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][0]
    return {"integer": 0, "number": 0, "boolean": False, "array": [], "null": None}.get(kind, "sim")


def _chunks(pieces: list[str], size: int) -> list[str]:
    return ["".join(pieces[i : i + size]) for i in range(0, len(pieces), size)]


def generate_reply(params: dict, *, reply_tokens: int, factor: float, id_seed: str) -> Reply:
    """The reply to a validated request; `id_seed` makes tool_use ids unique per response."""
    max_tokens = params.get("max_tokens", 0)
    if max_tokens == 0:
        return Reply(stop_reason="max_tokens")
    reply = Reply()
    budget = max_tokens
    user_text = last_user_text(params)

    thinking = params.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        thought = f"The user asks: {_echo(user_text)}"
        pieces = split_tokens(thought)
        tokens = scale(len(pieces), factor)
        if tokens >= budget:
            keep = _largest_within(budget, factor)
            block = {"type": "thinking", "thinking": "".join(pieces[:keep]), "signature": ""}
            reply.content.append(block)
            reply.pieces.append(_chunks(pieces[:keep], 3))
            reply.output_tokens = reply.thinking_tokens = max_tokens
            reply.stop_reason = "max_tokens"
            return reply
        signature = "sim-signature-" + hashlib.blake2b(thought.encode(), digest_size=12).hexdigest()
        reply.content.append({"type": "thinking", "thinking": thought, "signature": signature})
        reply.pieces.append(_chunks(pieces, 3))
        reply.thinking_tokens = tokens
        reply.output_tokens += tokens
        budget -= tokens

    choice = params.get("tool_choice")
    tools = [
        t for t in params.get("tools") or [] if isinstance(t, dict) and t.get("type") in (None, "custom")
    ]
    if isinstance(choice, dict) and choice.get("type") in ("tool", "any") and tools:
        name = choice.get("name") if choice["type"] == "tool" else tools[0]["name"]
        tool = next((t for t in tools if t.get("name") == name), tools[0])
        arguments = _placeholder(tool.get("input_schema") or {"type": "object"})
        encoded = json.dumps(arguments, separators=(",", ":"))
        tool_id = "toolu_01" + hashlib.blake2b(id_seed.encode(), digest_size=16).hexdigest()[:22]
        reply.content.append({"type": "tool_use", "id": tool_id, "name": name, "input": arguments})
        reply.pieces.append([encoded[i : i + 16] for i in range(0, len(encoded), 16)] or [""])
        reply.output_tokens += min(budget, scale(count_text(name) + count_text(encoded) + 3, factor))
        reply.stop_reason = "tool_use"
        return reply

    requested = _requested_reply(user_text)
    text = requested if requested is not None else _compose(user_text, reply_tokens, factor)
    stop = None
    for sequence in params.get("stop_sequences") or ():
        position = text.find(sequence)
        if position >= 0 and (stop is None or position < stop[0]):
            stop = (position, sequence)
    if stop is not None:
        text = text[: stop[0]]
    pieces = split_tokens(text)
    keep = _largest_within(budget, factor)
    if len(pieces) > keep:
        pieces = pieces[:keep]
        reply.stop_reason = "max_tokens"
        reply.output_tokens = max_tokens
    else:
        reply.output_tokens += scale(len(pieces), factor)
        if stop is not None:
            reply.stop_reason = "stop_sequence"
            reply.stop_sequence = stop[1]
    text = "".join(pieces)
    if text or not reply.content:
        reply.content.append({"type": "text", "text": text})
        reply.pieces.append(_chunks(pieces, 3))
    # The API bills at least one output token for any response, even an empty one.
    reply.output_tokens = max(reply.output_tokens, 1)
    return reply
