"""Fingerprints of a planned request as the prompt cache sees it, and where two of them differ.

A `RequestPrint` holds, per block in prefix order (tools → system → messages), the hash of the
cumulative prefix through that block (what a cache entry is keyed by), the block's own hash and
token count, and which blocks are breakpoints with which TTL. Request settings are mixed into
the chain where the invalidation table says they act (reference §3.2): web search, citations
and `speed` at the start of `system`; `tool_choice`, images and `thinking` at the start of
`messages`. `cache_control` itself is never hashed: moving a breakpoint changes no prefix.

Prompt text is never kept. To say *where* a block changed, each block keeps a `TextPrint`:
digests of fixed-size chunks of its text (which locate the first difference to one chunk), a few
digests of its tail (to tell an edit from a replacement), and the offsets of up to
`MAX_MARKS` short "volatile" spans — digit-bearing words such as a timestamp or a counter —
with a redacted excerpt, so a changed clock in a system prompt can be named exactly. A span that
looks like a secret (`state.redaction`) is never kept. Hashes are keyed with a per-tracker key,
so digests of short chunks cannot be looked up in a table of common texts.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from clawdbot_nb import tokenizer
from clawdbot_nb.state.redaction import contains_secret, redact_line

#: Digest length of every hash kept (bytes); collisions are irrelevant at this size.
DIGEST_BYTES = 12
#: At most this many chunk digests per block: the chunk size grows with the text.
MAX_CHUNKS = 256
MIN_CHUNK_CHARS = 16
#: Tail digests cover the last 16, 64, 256, … characters.
TAIL_BASE, TAIL_GROWTH = 16, 4
#: Volatile spans kept per block, and their longest excerpt.
MAX_MARKS = 32
MARK_MAX_CHARS = 40
#: Two versions of a block count as one block edited (not replaced) when at least this share of
#: the longer one is a common beginning or end, or when they agree on the first
#: `EDIT_MIN_COMMON_CHARS` characters.
EDIT_MIN_SHARE = 0.5
EDIT_MIN_COMMON_CHARS = 64
_EXCERPT_BEFORE, _EXCERPT_AFTER = 12, 24

# A word with a digit in it: timestamps, dates, counters, versions, ids.
_VOLATILE = re.compile(r"[0-9A-Za-z:.\-/+_]*[0-9][0-9A-Za-z:.\-/+_]*")


def _digest(key: bytes, data: bytes) -> bytes:
    return hashlib.blake2b(data, key=key, digest_size=DIGEST_BYTES).digest()


def _dump(value: Any) -> bytes:
    # Key order as sent: the API keys its cache on the serialised request (reference §3.1).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode(
        "utf-8", "surrogatepass"
    )


def _without_cache_control(block: Any) -> Any:
    if isinstance(block, dict) and "cache_control" in block:
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


# ---------------------------------------------------------------------------------------------
# Text prints


@dataclass(frozen=True, slots=True)
class Mark:
    """A short volatile span of a block's text: where it starts, its (redacted) text, and the
    digest of the text between the start of its chunk and the span."""

    offset: int
    text: str
    lead: bytes


@dataclass(frozen=True, slots=True)
class TextPrint:
    length: int
    chunk: int
    chunks: tuple[bytes, ...]
    tails: tuple[tuple[int, bytes], ...]
    marks: tuple[Mark, ...] = ()

    def without_marks(self) -> TextPrint:
        """The same print with no excerpt at all (what may be stored on disk)."""
        return TextPrint(self.length, self.chunk, self.chunks, self.tails, ())


def chunk_size(length: int) -> int:
    return max(MIN_CHUNK_CHARS, -(-length // MAX_CHUNKS))


@lru_cache(maxsize=256)
def text_print(text: str, key: bytes) -> TextPrint:
    """The print of one block's text (memoised: a system prompt sent on every call is printed
    once)."""
    size = chunk_size(len(text))
    chunks = tuple(
        _digest(key, text[i : i + size].encode("utf-8", "surrogatepass")) for i in range(0, len(text), size)
    )
    tails = []
    k = TAIL_BASE
    while k < len(text):
        tails.append((k, _digest(key, text[-k:].encode("utf-8", "surrogatepass"))))
        k *= TAIL_GROWTH
    marks = []
    for match in _VOLATILE.finditer(text):
        if len(marks) >= MAX_MARKS:
            break
        span = match.group(0)
        # The whole whitespace-delimited word decides: half a key is still a key.
        start = text.rfind(" ", 0, match.start()) + 1
        end = text.find(" ", match.end())
        word = text[start : end if end >= 0 else len(text)]
        if len(span) > MARK_MAX_CHARS or contains_secret(word) or contains_secret(span):
            continue
        chunk_start = match.start() - match.start() % size
        lead = _digest(key, text[chunk_start : match.start()].encode("utf-8", "surrogatepass"))
        marks.append(Mark(match.start(), span, lead))
    return TextPrint(len(text), size, chunks, tuple(tails), tuple(marks))


@dataclass(frozen=True, slots=True)
class TextDifference:
    """Where a new version of a block's text first differs from the printed old one."""

    offset: int  # first differing character (exact) or the start of the differing chunk
    exact: bool
    old_excerpt: str | None  # the old volatile span, when one explains the change
    new_excerpt: str | None  # the new text around `offset`, redacted; None if it holds a secret
    edited: bool  # mostly the same text (an edit), rather than a different text


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _excerpt(text: str, offset: int) -> str | None:
    """A short, single-line, redacted view of `text` around `offset`; None near a secret."""
    start = max(0, offset - _EXCERPT_BEFORE)
    end = min(len(text), offset + _EXCERPT_AFTER)
    # Judge whole words, so a secret cut by the window is still recognised.
    word_start = text.rfind(" ", 0, start) + 1 if start > 0 else 0
    word_end = text.find(" ", end)
    context = text[word_start : word_end if word_end >= 0 else len(text)]
    if contains_secret(context):
        return None
    piece = redact_line(text[start:end])
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")


def compare_text(old: TextPrint, new_text: str, key: bytes) -> TextDifference | None:
    """The first difference of `new_text` from the text `old` was printed from; None if equal."""
    size = old.chunk
    first = None
    for index, digest in enumerate(old.chunks):
        # The last old chunk may be short: compare as much of the new text.
        piece = new_text[index * size : min((index + 1) * size, old.length)]
        if _digest(key, piece.encode("utf-8", "surrogatepass")) != digest:
            first = index
            break
    if first is None:
        if len(new_text) == old.length:
            return None
        # Every old chunk still matches: the new text only adds to the end.
        offset = old.length
        return TextDifference(offset, True, None, _excerpt(new_text, offset), True)

    start = first * size
    offset, exact, old_span = start, False, None
    if start >= len(new_text):
        offset, exact = len(new_text), True
    else:
        for mark in old.marks:
            mark_end = mark.offset + len(mark.text)
            if mark_end <= start or mark.offset >= start + size:
                continue
            if mark.offset >= start:
                lead = new_text[start : mark.offset].encode("utf-8", "surrogatepass")
                if _digest(key, lead) != mark.lead:
                    break  # the text changed before this span: it cannot say where
            from_offset = max(mark.offset, start)
            common = _common_prefix(mark.text[from_offset - mark.offset :], new_text[from_offset:])
            if from_offset + common < mark_end:
                offset, exact, old_span = from_offset + common, True, mark.text
                break
    common_start = start if not exact else offset
    common_end = 0
    for k, digest in old.tails:
        if k <= len(new_text) and _digest(key, new_text[-k:].encode("utf-8", "surrogatepass")) == digest:
            common_end = k
        else:
            break
    longer = max(old.length, len(new_text)) or 1
    edited = common_start >= EDIT_MIN_COMMON_CHARS or (common_start + common_end) / longer >= EDIT_MIN_SHARE
    new_excerpt = _new_span(new_text, offset) if old_span is not None else None
    return TextDifference(
        offset, exact, old_span, new_excerpt if new_excerpt else _excerpt(new_text, offset), edited
    )


def _new_span(text: str, offset: int) -> str | None:
    """The volatile word of `text` covering `offset` (the new value of a changed span)."""
    for match in _VOLATILE.finditer(text, max(0, offset - MARK_MAX_CHARS), offset + MARK_MAX_CHARS):
        if match.start() <= offset <= match.end():
            span = match.group(0)
            start = text.rfind(" ", 0, match.start()) + 1
            end = text.find(" ", match.end())
            if contains_secret(text[start : end if end >= 0 else len(text)]):
                return None
            return span[:MARK_MAX_CHARS]
    return None


# ---------------------------------------------------------------------------------------------
# Request prints


@dataclass(frozen=True, slots=True)
class BlockPrint:
    position: int
    section: str  # tools | system | messages
    path: tuple
    kind: str
    location: str  # "tool 0 (search)", "system block 1", "message 2", "message 2 block 1"
    area: str  # what a breakpoint here is called: "tools", "system", "message 2"
    digest: bytes  # this block alone
    prefix: bytes  # the cumulative prefix through this block
    tokens: int
    cumulative_tokens: int
    text: TextPrint


@dataclass(frozen=True, slots=True)
class BreakpointPrint:
    position: int
    ttl: str  # "5m" | "1h" (a plain ephemeral marker is 5m)
    automatic: bool = False


@dataclass(frozen=True, slots=True)
class RequestPrint:
    """A planned request without its text: see the module docstring."""

    model: str
    blocks: tuple[BlockPrint, ...]
    breakpoints: tuple[BreakpointPrint, ...]
    #: Readable request settings that invalidate part of the prefix, by where they act.
    system_settings: tuple[tuple[str, Any], ...]
    message_settings: tuple[tuple[str, Any], ...]
    #: Position of the first block of the last user turn (len(blocks) when there is none).
    last_turn_start: int
    total_tokens: int

    def cumulative(self, position: int) -> int:
        return self.blocks[position].cumulative_tokens if position >= 0 else 0

    def position_of_tokens(self, tokens: int) -> int:
        """The position whose cumulative prefix holds `tokens` (the closest one); -1 for 0."""
        if tokens <= 0 or not self.blocks:
            return -1
        return min(range(len(self.blocks)), key=lambda p: abs(self.blocks[p].cumulative_tokens - tokens))

    def with_counts(self, counts: Sequence[int], total: int) -> RequestPrint:
        """This print with the cumulative counts per position (and the total) replaced, e.g. by
        what the API counted (`token_counts.anchored`)."""
        if total == self.total_tokens and all(
            b.cumulative_tokens == c for b, c in zip(self.blocks, counts, strict=True)
        ):
            return self
        blocks, previous = [], 0
        for block, count in zip(self.blocks, counts, strict=True):
            blocks.append(replace(block, tokens=count - previous, cumulative_tokens=count))
            previous = count
        return replace(self, blocks=tuple(blocks), total_tokens=total)

    def without_marks(self) -> RequestPrint:
        return replace(self, blocks=tuple(replace(b, text=b.text.without_marks()) for b in self.blocks))


def _is_web_search(tool: Any) -> bool:
    return isinstance(tool, dict) and str(tool.get("type") or "").startswith("web_search")


def _has_image(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get("type") == "image":
            return True
        content = value.get("content")
        return isinstance(content, list) and any(_has_image(item) for item in content)
    return False


def _settings(params: dict[str, Any]) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]]:
    messages = params.get("messages") or []
    images = citations = False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for block in content:
            images = images or _has_image(block)
            if isinstance(block, dict) and block.get("type") == "document":
                config = block.get("citations")
                citations = citations or (isinstance(config, dict) and bool(config.get("enabled")))
    web_search = any(_is_web_search(t) for t in params.get("tools") or ())
    system = (("speed", params.get("speed")), ("web search", web_search), ("citations", citations))
    # Absent settings mean their defaults: spelling a default out changes nothing.
    tool_choice = params.get("tool_choice") or {"type": "auto"}
    thinking = params.get("thinking") or {"type": "disabled"}
    message = (
        ("tool_choice", _plain(tool_choice)),
        ("images", images),
        ("thinking", _plain(thinking)),
    )
    return system, message


def _plain(value: Any) -> Any:
    """A hashable, comparable copy of a small settings value."""
    if isinstance(value, dict):
        return tuple((k, _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def block_text(params: dict[str, Any], path: tuple) -> str | None:
    """The text of the block at `path` of a request body (see `_block_text`); None if absent."""
    try:
        if path[0] == "tools":
            raw = params["tools"][path[1]]
        elif path[0] == "system":
            system = params["system"]
            raw = {"type": "text", "text": system} if isinstance(system, str) else system[path[1]]
        else:
            content = params["messages"][path[1]]["content"]
            raw = {"type": "text", "text": content} if isinstance(content, str) else content[path[2]]
    except (KeyError, IndexError, TypeError):
        return None
    return _block_text(raw)


def _block_text(raw: Any) -> str:
    """The text offsets refer to: a text block's text, otherwise its JSON (cache_control left out)."""
    if isinstance(raw, dict) and raw.get("type") == "text" and isinstance(raw.get("text"), str):
        return raw["text"]
    return _dump(_without_cache_control(raw)).decode("utf-8", "surrogatepass")


@lru_cache(maxsize=256)
def _text_block_digest(text: str, key: bytes) -> bytes:
    return _digest(key, _dump({"type": "text", "text": text}))


def _block_digest(raw: Any, key: bytes) -> bytes:
    """The digest of one block as sent, `cache_control` left out; a plain text block (the
    usual long system prompt) is digested once per text."""
    plain_text = (
        isinstance(raw, dict)
        and next(iter(raw), None) == "type"  # the key order is part of what the API sees
        and raw.get("type") == "text"
        and isinstance(raw.get("text"), str)
        and (len(raw) == 2 or (len(raw) == 3 and "cache_control" in raw))
    )
    if plain_text:
        return _text_block_digest(raw["text"], key)
    return _digest(key, _dump(_without_cache_control(raw)))


def _locations(blocks: Sequence[tokenizer.Block], params: dict[str, Any]) -> list[tuple[str, str]]:
    messages = params.get("messages") or []
    out = []
    for block in blocks:
        if block.section == "tools":
            name = block.raw.get("name") if isinstance(block.raw, dict) else None
            label = f"tool {block.path[1]}" + (f" ({name})" if isinstance(name, str) and name else "")
            out.append((label, "tools"))
        elif block.section == "system":
            out.append((f"system block {block.path[1]}", "system"))
        else:
            m_index, b_index = block.path[1], block.path[2]
            content = messages[m_index].get("content") if m_index < len(messages) else None
            several = isinstance(content, list) and len(content) > 1
            area = f"message {m_index}"
            out.append((f"{area} block {b_index}" if several else area, area))
    return out


def fingerprint(params: dict[str, Any], key: bytes) -> RequestPrint:
    """The print of a Messages request body as it will be sent (with its `cache_control` marks)."""
    blocks = tokenizer.request_blocks(params)
    system_settings, message_settings = _settings(params)
    state = _digest(key, b"prefix-v1")
    section = "tools"
    prints: list[BlockPrint] = []
    cumulative = 0
    messages = params.get("messages") or []
    for (location, area), block in zip(_locations(blocks, params), blocks, strict=True):
        if block.section != section:
            if section == "tools":
                state = _digest(key, state + b"S" + _dump(system_settings))
                section = "system"
            if block.section == "messages" and section == "system":
                state = _digest(key, state + b"M" + _dump(message_settings))
                section = "messages"
        digest = _block_digest(block.raw, key)
        if block.section == "tools" and _is_web_search(block.raw):
            # A web-search tool acts as a setting of system and messages (§3.2): it leaves the
            # tools prefix alone, and its own position gets a hash no other shares.
            prefix = _digest(key, state + b"W" + digest)
        else:
            if block.section == "messages" and block.path[2] == 0:
                role = messages[block.path[1]].get("role", "")
                marker = f"m{role}|".encode()
            else:
                marker = block.section[:1].encode()
            state = _digest(key, state + marker + digest)
            prefix = state
        cumulative += block.tokens
        prints.append(
            BlockPrint(
                position=len(prints),
                section=block.section,
                path=block.path,
                kind=block.type,
                location=location,
                area=area,
                digest=digest,
                prefix=prefix,
                tokens=block.tokens,
                cumulative_tokens=cumulative,
                text=text_print(_block_text(block.raw), key),
            )
        )

    points = [
        BreakpointPrint(i, str(b.cache_control.get("ttl") or "5m"))
        for i, b in enumerate(blocks)
        if b.cache_control is not None
    ]
    top = params.get("cache_control")
    if isinstance(top, dict):
        target = next((i for i in range(len(blocks) - 1, -1, -1) if blocks[i].cacheable), None)
        if target is not None and all(p.position != target for p in points):
            points.append(BreakpointPrint(target, str(top.get("ttl") or "5m"), automatic=True))
            points.sort(key=lambda p: p.position)

    last_user = next(
        (
            i
            for i in range(len(messages) - 1, -1, -1)
            if isinstance(messages[i], dict) and messages[i].get("role") == "user"
        ),
        None,
    )
    last_turn_start = next(
        (p.position for p in prints if p.section == "messages" and p.path[1] == last_user), len(prints)
    )
    trailing = tokenizer.scale(tokenizer.TRAILING_TOKENS, tokenizer.model_factor(params.get("model")))
    return RequestPrint(
        model=str(params.get("model") or ""),
        blocks=tuple(prints),
        breakpoints=tuple(points),
        system_settings=system_settings,
        message_settings=message_settings,
        last_turn_start=last_turn_start,
        total_tokens=cumulative + trailing,
    )


# ---------------------------------------------------------------------------------------------
# Where two prints part


@dataclass(frozen=True, slots=True)
class PrefixDivergence:
    """Where the new request's prefix first differs from an earlier one's."""

    position: int  # first position (in the new request) whose prefix hash differs
    common_tokens: int  # tokens of the prefix both share
    what: str  # "block" | "settings" | "inserted" | "removed" | "moved"
    location: str  # "system block 0", "tools", "message 2", "request settings"
    setting: str | None = None  # the changed setting, e.g. "tool_choice"
    old_value: Any = None
    new_value: Any = None


_SECTION_ORDER = {"tools": 0, "system": 1, "messages": 2}


def common_positions(a: RequestPrint, b: RequestPrint) -> int:
    """How many leading positions two prints share (equal cumulative prefix hashes)."""
    n = min(len(a.blocks), len(b.blocks))
    i = 0
    while i < n and a.blocks[i].prefix == b.blocks[i].prefix:
        i += 1
    return i


def divergence(old: RequestPrint, new: RequestPrint) -> PrefixDivergence | None:
    """How `new` parts from `old` (None when one's prefix contains the other's entirely)."""
    k = common_positions(old, new)
    if k >= len(new.blocks) or k >= len(old.blocks):
        return None
    common = new.cumulative(k - 1)
    nb, ob = new.blocks[k], old.blocks[k]
    # A setting mixed in at the start of this section changed, while the blocks did not.
    first_of_section = k == 0 or new.blocks[k - 1].section != nb.section
    if nb.section == ob.section and nb.digest == ob.digest and first_of_section:
        pairs: list[tuple[tuple[str, Any], tuple[str, Any]]] = []
        if nb.section in ("system", "messages"):
            pairs += zip(old.system_settings, new.system_settings, strict=True)
        if nb.section == "messages":
            pairs += zip(old.message_settings, new.message_settings, strict=True)
        for (name, before), (_, after) in pairs:
            if before != after:
                return PrefixDivergence(k, common, "settings", "request settings", name, before, after)
    old_rest = [b.digest for b in old.blocks[k:]]
    new_rest = [b.digest for b in new.blocks[k:]]
    if nb.digest in old_rest[1:] and old_rest.index(nb.digest) > 0:
        # The new block exists further on in the old request: something before it went away,
        # or the blocks were reordered.
        gone = old_rest.index(nb.digest)
        if old_rest[gone:] == new_rest[: len(old_rest) - gone]:
            return PrefixDivergence(k, common, "removed", ob.location)
        return PrefixDivergence(k, common, "moved", nb.location)
    if ob.digest in new_rest[1:]:
        return PrefixDivergence(k, common, "inserted", nb.location)
    if nb.section != ob.section:
        added = _SECTION_ORDER[nb.section] < _SECTION_ORDER[ob.section]
        return PrefixDivergence(k, common, "inserted" if added else "removed", nb.location)
    return PrefixDivergence(k, common, "block", nb.location)
