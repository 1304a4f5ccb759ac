"""Deterministic replies derived from the prompt, so tests can assert what the model "said".

- Tool use follows `tool_use`'s rules: a reply that calls tools has, with `tool_choice` auto, a
  short text block (`I'll use get_weather.`) then one `tool_use` block per tool, and
  `stop_reason: "tool_use"`; forced choices (`any`, `tool`) have the `tool_use` blocks only.
- With `output_config.format` of type `json_schema`, the text is JSON that validates against the
  schema (`json_schema.instance`, hints from `name: value` in the last user text); `Reply with X`
  is used instead when X is JSON that validates.
- Otherwise, if the last user text contains `Reply with X` (up to the first `.`, newline or end;
  quotes stripped), the reply is exactly `X` (`Reply with OK. Do not use tools.` → `OK`).
- Otherwise, after `tool_result` turns, the reply answers from them: `Based on get_weather: The
  weather is 73f.` (`... failed: ...` for an `is_error` result).
- Otherwise the reply starts `Simulated reply to: "<first 12 words of the last user text>".`
  and continues with filler words chosen from the prompt's hash, up to `reply_tokens` output
  tokens in total.
- `stop_sequences` cut the text before the earliest match (`stop_reason: "stop_sequence"`);
  `max_tokens` cuts it at that many tokens (`stop_reason: "max_tokens"`, `output_tokens` equal
  to `max_tokens`); `max_tokens: 0` gives no content at all (cache pre-warming).
- Extended or adaptive thinking adds a short `thinking` block first.

Output tokens are the simulator's BPE tokens of the reply (`bpe`), scaled by the model's factor;
a `tool_use` block costs its name, its JSON input and 3 more.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from clawdbot_nb.sim.bpe import count_text, token_pieces
from clawdbot_nb.sim.json_schema import conforms, instance
from clawdbot_nb.sim.positions import scale
from clawdbot_nb.sim.tool_use import called_tools, tool_arguments, user_request_text

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
    """The default reply: the fixed opening, then filler words while it stays within
    `target_tokens` (scaled). The vocabulary splits words at spaces before merging, so the
    count of the whole is the sum of its words' counts."""
    reply = f'Simulated reply to: "{_echo(text)}".'
    used = count_text(reply)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    index = int.from_bytes(digest, "big") % len(_FILLER)
    words: list[str] = []
    while True:
        word = _FILLER[(index + len(words)) % len(_FILLER)]
        if not words:
            word = word.capitalize()
        cost = count_text(" " + word)
        if scale(used + cost, factor) > target_tokens:
            break
        words.append(word)
        used += cost
    if words:
        reply += " " + " ".join(words)
    return reply


def _largest_within(limit: int, factor: float) -> int:
    """The most base tokens whose scaled count stays within `limit`."""
    count = int(limit / factor) + 1
    while count > 0 and scale(count, factor) > limit:
        count -= 1
    return count


def _chunks(pieces: list[tuple[str, int]], size: int) -> list[str]:
    return ["".join(piece for piece, _ in pieces[i : i + size]) for i in range(0, len(pieces), size)]


def _within(pieces: list[tuple[str, int]], tokens: int) -> list[tuple[str, int]]:
    """The leading pieces that hold at most `tokens` tokens."""
    kept: list[tuple[str, int]] = []
    used = 0
    for piece in pieces:
        if used + piece[1] > tokens:
            break
        kept.append(piece)
        used += piece[1]
    return kept


def _tokens(pieces: list[tuple[str, int]]) -> int:
    return sum(count for _, count in pieces)


def _tool_results_answer(params: dict) -> str | None:
    """`Based on <tool>: <result>.` for the tool results of the last user turn, or None."""
    messages = params.get("messages") or []
    if not messages or not isinstance(messages[-1], dict) or messages[-1].get("role") != "user":
        return None
    names: dict[str, str] = {}
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else ():
            if isinstance(block, dict) and block.get("type") == "tool_use":
                names[str(block.get("id"))] = str(block.get("name"))
    parts = []
    content = messages[-1].get("content")
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            continue
        inner = block.get("content")
        if isinstance(inner, list):
            inner = " ".join(
                b.get("text", "") for b in inner if isinstance(b, dict) and b.get("type") == "text"
            )
        result = _echo(str(inner or "").strip()) or "(no content)"
        name = names.get(str(block.get("tool_use_id")), "the tool")
        parts.append(f"{name} failed: {result}" if block.get("is_error") else f"{name}: {result}")
    if not parts:
        return None
    return "Based on " + "; ".join(parts).rstrip(".") + "."


def _output_schema(params: dict) -> dict | None:
    config = params.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        return fmt["schema"]
    return None


def _structured(schema: dict, text: str) -> str:
    requested = _requested_reply(text)
    if requested is not None:
        try:
            value = json.loads(requested)
        except ValueError:
            value = None
        if value is not None and conforms(value, schema):
            return json.dumps(value, ensure_ascii=False)
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    hints = {}
    for name in properties:
        match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}\s*(?::|=)\s*([^,;\n]+)", text, re.I)
        if match:
            raw = match.group(1).strip().strip("\"'`")
            try:
                hints[name] = json.loads(raw)
            except ValueError:
                hints[name] = raw
    return json.dumps(instance(schema, hints), ensure_ascii=False)


def _add_text(reply: Reply, text: str, budget: int, factor: float) -> bool:
    """Append a text block cut to `budget` tokens; False when it had to be cut."""
    pieces = token_pieces(text)
    keep = _largest_within(budget, factor)
    cut = _tokens(pieces) > keep
    if cut:
        pieces = _within(pieces, keep)
    text = "".join(piece for piece, _ in pieces)
    if text:
        reply.content.append({"type": "text", "text": text})
        reply.pieces.append(_chunks(pieces, 3))
        reply.output_tokens += scale(_tokens(pieces), factor)
    return not cut


def _call_tools(
    reply: Reply, params: dict, tools: list[dict], budget: int, factor: float, id_seed: str
) -> None:
    request = user_request_text(params)
    forced = isinstance(params.get("tool_choice"), dict) and params["tool_choice"].get("type") in (
        "any",
        "tool",
    )
    spent = reply.output_tokens
    if not forced:
        names = [tool["name"] for tool in tools]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        if not _add_text(reply, f"I'll use {listed}.", budget, factor):
            reply.stop_reason = "max_tokens"
            reply.output_tokens = spent + budget
            return
    for index, tool in enumerate(tools):
        arguments = tool_arguments(tool, request)
        encoded = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
        cost = scale(count_text(tool["name"]) + count_text(encoded) + 3, factor)
        if reply.output_tokens - spent + cost > budget:
            reply.stop_reason = "max_tokens"
            reply.output_tokens = spent + budget
            return
        digest = hashlib.blake2b(f"{id_seed}:{index}".encode(), digest_size=16).hexdigest()[:22]
        reply.content.append(
            {"type": "tool_use", "id": "toolu_01" + digest, "name": tool["name"], "input": arguments}
        )
        reply.pieces.append(_chunks(token_pieces(encoded), 3) or [""])
        reply.output_tokens += cost
    reply.stop_reason = "tool_use"


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
        pieces = token_pieces(thought)
        tokens = scale(_tokens(pieces), factor)
        if tokens >= budget:
            kept = _within(pieces, _largest_within(budget, factor))
            block = {"type": "thinking", "thinking": "".join(piece for piece, _ in kept), "signature": ""}
            reply.content.append(block)
            reply.pieces.append(_chunks(kept, 3))
            reply.output_tokens = reply.thinking_tokens = max_tokens
            reply.stop_reason = "max_tokens"
            return reply
        signature = "sim-signature-" + hashlib.blake2b(thought.encode(), digest_size=12).hexdigest()
        reply.content.append({"type": "thinking", "thinking": thought, "signature": signature})
        reply.pieces.append(_chunks(pieces, 3))
        reply.thinking_tokens = tokens
        reply.output_tokens += tokens
        budget -= tokens

    tools = called_tools(params)
    if tools:
        _call_tools(reply, params, tools, budget, factor, id_seed)
        return reply

    schema = _output_schema(params)
    requested = _requested_reply(user_text)
    if schema is not None:
        text = _structured(schema, user_request_text(params) or user_text)
    elif requested is not None:
        text = requested
    else:
        text = _tool_results_answer(params) or _compose(user_text, reply_tokens, factor)
    stop = None
    for sequence in params.get("stop_sequences") or ():
        position = text.find(sequence)
        if position >= 0 and (stop is None or position < stop[0]):
            stop = (position, sequence)
    if stop is not None:
        text = text[: stop[0]]
    if not _add_text(reply, text, budget, factor):
        reply.stop_reason = "max_tokens"
        reply.output_tokens = max_tokens
    elif stop is not None:
        reply.stop_reason = "stop_sequence"
        reply.stop_sequence = stop[1]
    if not any(block["type"] == "text" for block in reply.content) and not reply.content:
        reply.content.append({"type": "text", "text": ""})
        reply.pieces.append([])
    # The API bills at least one output token for any response, even an empty one.
    reply.output_tokens = max(reply.output_tokens, 1)
    return reply
