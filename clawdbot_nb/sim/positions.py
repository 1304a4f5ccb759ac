"""A request as the simulator counts it: prefix positions in order, each with its BPE tokens.

The request is flattened in cache-prefix order (tools, system, messages; reference §2.3) into one
`Position` per block. Counts are `bpe.count_text` of the block's content plus framing, scaled by
the model's tokenizer factor and rounded half up, per position:

- tool definition: its compact JSON (name, description, schema, without `cache_control`) + 4;
- system text: its text, + 2 on the first system block; a string system prompt is one block;
- message blocks: their content, + 3 on the first block of each message (the role marker);
  text: its text; tool_use: name + compact JSON input; tool_result: its text or nested blocks
  + 1; thinking: its text; redacted_thinking: 1 per 4 characters of data;
- image: `ceil(width * height / 750)`, at most 1,600, from the PNG, GIF or JPEG header of
  base64 data; 1,600 when the size is unknown (a URL, unreadable data);
- document: a text source as text, a content source as its blocks, a base64 PDF 1,500 per
  page (its page objects, at least one), a URL PDF 1,500; title and context as text;
- any other block: the compact JSON of the block.

A request's total adds 4 trailing tokens (the assistant turn opener), never part of a cached
prefix: the small constant `input_tokens` of a fully cached turn, as in the cookbook.

Lookback slots (reference §2.4, prompt-caching docs): the 20-block lookback counts a run of
consecutive `tool_use` blocks, or of consecutive `tool_result` blocks, as one position, so ten
parallel tool calls and their ten results take two slots. `Position.slot` is that index; every
other block is a slot of its own. Nothing here raises on odd input: unknown shapes count as
their JSON text.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

from clawdbot_nb.sim.bpe import count_text

__all__ = [
    "IMAGE_MAX_TOKENS",
    "PDF_PAGE_TOKENS",
    "TRAILING_TOKENS",
    "Position",
    "count_request",
    "request_positions",
    "scale",
    "trailing_tokens",
]

TOOL_FRAMING = 4
SYSTEM_FRAMING = 2
MESSAGE_FRAMING = 3
TRAILING_TOKENS = 4
IMAGE_MAX_TOKENS = 1_600
PDF_PAGE_TOKENS = 1_500

_NEVER_CACHEABLE = frozenset({"thinking", "redacted_thinking"})
#: Block types whose consecutive runs share one lookback slot.
_RUN_TYPES = frozenset({"tool_use", "tool_result"})


@dataclass(frozen=True, slots=True)
class Position:
    """One position of the cache prefix.

    `path` locates the block in the body (`("tools", 2)`, `("system", 0)`, `("messages", 3, 1)`);
    `tokens` is scaled and includes the framing assigned to the block; `raw` is the block as sent
    (a string system prompt or message content appears as an equivalent text block); `slot` is
    the block's lookback position.
    """

    section: str
    path: tuple
    type: str
    tokens: int
    cacheable: bool
    cache_control: dict | None
    raw: Any
    slot: int


def scale(tokens: int, factor: float) -> int:
    """Vocabulary tokens in a model's generation (rounded half up)."""
    return tokens if factor == 1.0 else int(tokens * factor + 0.5)


def trailing_tokens(factor: float) -> int:
    return scale(TRAILING_TOKENS, factor)


def _json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _strip_cache_control(block: dict) -> dict:
    return {k: v for k, v in block.items() if k != "cache_control"} if "cache_control" in block else block


def _base64(data: Any, limit: int | None = None) -> bytes:
    if not isinstance(data, str):
        return b""
    text = data if limit is None else data[:limit]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
    except (binascii.Error, ValueError):
        return b""


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            index += 2
            continue
        # Start-of-frame markers carry the size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + struct.unpack(">H", data[index + 2 : index + 4])[0]
    return None


def _pixels(data: bytes) -> tuple[int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _image(block: dict) -> int:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        # The header is enough: decode only the first 64 KiB of a large image.
        size = _pixels(_base64(source.get("data"), limit=65_536))
        if size is not None and size[0] > 0 and size[1] > 0:
            return max(1, min(IMAGE_MAX_TOKENS, math.ceil(size[0] * size[1] / 750)))
    return IMAGE_MAX_TOKENS


def _document(block: dict) -> int:
    source = block.get("source")
    if not isinstance(source, dict):
        return count_text(_json(block))
    extra = count_text(block.get("title") or "") + count_text(block.get("context") or "")
    kind = source.get("type")
    if kind == "text":
        return count_text(source.get("data") or "") + extra
    if kind == "content":
        content = source.get("content")
        if isinstance(content, str):
            return count_text(content) + extra
        if isinstance(content, list):
            return sum(_content(item) for item in content if isinstance(item, dict)) + extra
        return extra
    if kind == "base64":
        pdf = _base64(source.get("data"))
        pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        pages += pdf.count(b"/Type/Page") - pdf.count(b"/Type/Pages")
        return PDF_PAGE_TOKENS * max(1, pages) + extra
    return PDF_PAGE_TOKENS + extra


def _content(block: dict) -> int:
    """Vocabulary tokens of one content block, without framing."""
    kind = block.get("type")
    if kind == "text":
        return count_text(block.get("text") or "")
    if kind == "image":
        return _image(block)
    if kind == "document":
        return _document(block)
    if kind in ("tool_use", "server_tool_use"):
        return count_text(str(block.get("name") or "")) + count_text(_json(block.get("input", {})))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return 1 + count_text(content)
        if isinstance(content, list):
            return 1 + sum(_content(item) for item in content if isinstance(item, dict))
        return 1
    if kind == "thinking":
        return count_text(block.get("thinking") or "")
    if kind == "redacted_thinking":
        data = block.get("data")
        return len(data) // 4 if isinstance(data, str) else 0
    return count_text(_json(_strip_cache_control(block)))


def _cacheable(block: dict) -> bool:
    kind = block.get("type")
    return kind not in _NEVER_CACHEABLE and not (kind == "text" and not block.get("text"))


def _control(block: Any) -> dict | None:
    value = block.get("cache_control") if isinstance(block, dict) else None
    return value if isinstance(value, dict) else None


class _Builder:
    """Collects positions and assigns lookback slots as blocks arrive in prefix order."""

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.positions: list[Position] = []
        self._slot = -1
        self._run_type: str | None = None

    def add(self, section: str, path: tuple, kind: str, base: int, cacheable: bool, raw: Any) -> None:
        if kind in _RUN_TYPES and kind == self._run_type:
            slot = self._slot
        else:
            self._slot += 1
            slot = self._slot
        self._run_type = kind if kind in _RUN_TYPES else None
        control = _control(raw)
        self.positions.append(
            Position(section, path, kind, scale(base, self.factor), cacheable, control, raw, slot)
        )


def request_positions(params: dict, factor: float = 1.0) -> list[Position]:
    """The request flattened in prefix order (tools, system, messages), one `Position` per block."""
    out = _Builder(factor)

    tools = params.get("tools")
    if isinstance(tools, list):
        for index, tool in enumerate(tools):
            if isinstance(tool, dict):
                base = count_text(_json(_strip_cache_control(tool))) + TOOL_FRAMING
                out.add("tools", ("tools", index), str(tool.get("type") or "custom"), base, True, tool)

    system = params.get("system")
    if isinstance(system, str) and system:
        raw = {"type": "text", "text": system}
        out.add("system", ("system", 0), "text", count_text(system) + SYSTEM_FRAMING, True, raw)
    elif isinstance(system, list):
        first = True
        for index, block in enumerate(system):
            if isinstance(block, dict):
                base = _content(block) + (SYSTEM_FRAMING if first else 0)
                first = False
                kind = str(block.get("type") or "text")
                out.add("system", ("system", index), kind, base, _cacheable(block), block)

    messages = params.get("messages")
    if isinstance(messages, list):
        for m_index, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                raw = {"type": "text", "text": content}
                base = count_text(content) + MESSAGE_FRAMING
                out.add("messages", ("messages", m_index, 0), "text", base, bool(content), raw)
            elif isinstance(content, list):
                first = True
                for b_index, block in enumerate(content):
                    if isinstance(block, dict):
                        base = _content(block) + (MESSAGE_FRAMING if first else 0)
                        first = False
                        kind = str(block.get("type") or "")
                        path = ("messages", m_index, b_index)
                        out.add("messages", path, kind, base, _cacheable(block), block)
    return out.positions


def count_request(params: dict, factor: float = 1.0) -> int:
    """Total input tokens of a Messages body: every position plus the trailing opener."""
    return sum(p.tokens for p in request_positions(params, factor)) + trailing_tokens(factor)
