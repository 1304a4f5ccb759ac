"""The client's cheap offline token estimate, for the cache planner's below-minimum warnings.

There is no official offline tokenizer for Claude 3+ (reference §8). The client estimates token
counts with the rules below; it never uses the simulator's BPE counter (`clawdbot_nb.sim.bpe`,
a real vocabulary the simulator keeps to itself, so a mistake here shows up in tests as a
disagreement with the simulator). The exact count of a request is `count_tokens` on the API.

Text (`count_text`, the pre-4.7 generation). Pieces are counted by kind and summed, then rounded:

- an ASCII word is 1 token, plus (letters - 7) / 4 for a word of 8 letters or more (common
  English words are whole tokens; rare and long ones split); in text where accented Latin
  letters are more than 1 in 150 characters (German, French, ...), words of 6 letters or more
  add (letters - 5) / 3 instead, because those languages' long words split far more;
- digits: 1 token per started group of 3; punctuation runs: 1 token up to 3 characters, then
  1 per 2.5 characters;
- whitespace: a single plain space is free (it joins the next word), any other run is 1 token;
- each non-ASCII character by script: accented Latin 0.5, Cyrillic 0.6, CJK ideographs 0.95,
  kana 1.05, Hebrew and Arabic 1.1, Hangul 1.3, Greek and Devanagari 1.35, Thai 1.8, anything
  else (symbols, emoji) 1.5.

The weights were fitted once (2026-11) to the BPE vocabulary the Anthropic SDK shipped up to
0.38 on texts unrelated to the tests: 1,099 docstrings and 572 code chunks of the Python 3.11
standard library, 200 JSON dumps, and gettext catalogs in 12 languages from Debian packages.
On those, the estimate's relative error was within -41 % .. +34 % (p10..p90 within ±20 %);
`bench/bench_token_estimate.py` prints the distribution per text kind. `ESTIMATE_OVER` and
`ESTIMATE_UNDER` bound it for the planner (see `minimum_verdict`).

Requests (`request_blocks`, `count_request`). A request is flattened in cache-prefix order
(tools, system, messages) into blocks; each block's count is its content count plus framing,
then multiplied by the model's tokenizer factor (`catalog.ModelInfo.tokenizer_factor`: 1.0,
or 1.3 for Claude 4.7 and later) and rounded half up, per block:

- tool definition: the text count of its compact JSON (name, description, schema) + 4;
- system text block: its text + 2 on the first system block;
- message blocks: their content + 3 on the first block of each message (the role marker);
  text: its text; tool_use: name + compact JSON input; tool_result: its text or nested
  blocks; thinking: its text; redacted_thinking: 1 per 4 characters of data;
- image: `ceil(width * height / 750)` capped at 1,600, read from the PNG, GIF or JPEG header
  of base64 data; 1,600 when the size is unknown (URL or unreadable data);
- document: a text source counts as text, a content source as its blocks, a base64 PDF as
  1,500 per page (counted from its page objects, at least one page), a URL PDF as 1,500;
- any other block: the text count of its compact JSON.

`count_request` adds 4 trailing tokens (the assistant turn opener) that follow every block and
so are never part of a cached prefix. Nothing here raises on odd input: unknown shapes fall
back to counting their JSON text.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from clawdbot_nb import catalog

__all__ = [
    "ESTIMATE_OVER",
    "ESTIMATE_UNDER",
    "IMAGE_MAX_TOKENS",
    "NON_CACHEABLE_TYPES",
    "PDF_PAGE_TOKENS",
    "TRAILING_TOKENS",
    "Block",
    "count_request",
    "count_text",
    "minimum_verdict",
    "model_factor",
    "request_blocks",
    "scale",
]

TOOL_FRAMING = 4
SYSTEM_FRAMING = 2
MESSAGE_FRAMING = 3
#: Tokens after the last block (the assistant turn opener); never cacheable.
TRAILING_TOKENS = 4
IMAGE_MAX_TOKENS = 1_600
PDF_PAGE_TOKENS = 1_500

#: Block types that may never carry `cache_control` (reference §2.2).
NON_CACHEABLE_TYPES = frozenset({"thinking", "redacted_thinking"})

#: How far the estimate may exceed the true count (true >= estimate / (1 + ESTIMATE_OVER)), and
#: fall short of it (true <= estimate / (1 - ESTIMATE_UNDER)): the measured extremes (+34 %,
#: -41 %) with a margin.
ESTIMATE_OVER = 0.40
ESTIMATE_UNDER = 0.45

_WORDS = re.compile(r"[A-Za-z]+")
_LONG_WORDS = re.compile(r"[A-Za-z]{8,}")
_LATIN_WORDS = re.compile(r"[A-Za-z\u00C0-\u024F]{6,}")
_ACCENTED = re.compile(r"[\u00C0-\u024F]")
_DIGITS = re.compile(r"[0-9]+")
_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]+")
#: Whitespace that costs a token: runs of two or more, or one that is not a plain space.
_SPACE_RUNS = re.compile(r"\s{2,}|[^\S ]")
_NON_ASCII = re.compile(r"[^\x00-\x7F]")
_SCRIPTS: tuple[tuple[re.Pattern[str], float], ...] = (
    (_ACCENTED, 0.5),
    (re.compile(r"[\u0400-\u052F]"), 0.6),  # Cyrillic
    (re.compile(r"[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]"), 0.95),  # CJK ideographs
    (re.compile(r"[\u3040-\u30FF]"), 1.05),  # kana
    (re.compile(r"[\u0590-\u05FF\u0600-\u06FF\u0750-\u077F]"), 1.1),  # Hebrew, Arabic
    (re.compile(r"[\uAC00-\uD7AF\u1100-\u11FF]"), 1.3),  # Hangul
    (re.compile(r"[\u0370-\u03FF\u1F00-\u1FFF\u0900-\u097F]"), 1.35),  # Greek, Devanagari
    (re.compile(r"[\u0E00-\u0E7F]"), 1.8),  # Thai
)
_OTHER_NON_ASCII = 1.5


@dataclass(frozen=True, slots=True)
class Block:
    """One position of the cache prefix.

    `path` locates the block in the request body, e.g. `("tools", 2)`, `("system", 0)` or
    `("messages", 3, 1)`; `tokens` is already scaled by the model's factor and includes the
    framing assigned to the block; `raw` is the block as sent (a string system prompt or string
    message content appears as an equivalent `{"type": "text", "text": ...}` dict).
    """

    section: str
    path: tuple
    type: str
    tokens: int
    cacheable: bool
    cache_control: dict | None
    raw: Any = None


@lru_cache(maxsize=8192)
def _count_str(text: str) -> int:
    tokens: float = len(_WORDS.findall(text))
    accented = len(_ACCENTED.findall(text))
    if accented and accented * 150 > len(text):
        tokens += sum(len(word) - 5 for word in _LATIN_WORDS.findall(text)) / 3
    else:
        tokens += sum(len(word) - 7 for word in _LONG_WORDS.findall(text)) / 4
    tokens += sum((len(run) + 2) // 3 for run in _DIGITS.findall(text))
    tokens += sum(1 if len(run) <= 3 else len(run) / 2.5 for run in _PUNCTUATION.findall(text))
    tokens += len(_SPACE_RUNS.findall(text))
    non_ascii = len(_NON_ASCII.findall(text))
    if non_ascii:
        known = 0
        for pattern, weight in _SCRIPTS:
            found = len(pattern.findall(text))
            known += found
            tokens += found * weight
        tokens += (non_ascii - known) * _OTHER_NON_ASCII
    return max(1, int(tokens + 0.5))


def count_text(text: str) -> int:
    """Estimated tokens of `text` in the pre-4.7 generation (no per-model factor); 0 for a non-string.

    Memoised: a long system prompt sent on every turn is counted once.
    """
    if not isinstance(text, str) or not text:
        return 0
    return _count_str(text)


Verdict = Literal["cached", "uncertain", "not cached"]


def minimum_verdict(estimate: int, minimum: int) -> Verdict:
    """Whether a prefix estimated at `estimate` tokens reaches a `minimum` cacheable length.

    "cached" only when even the smallest true count the estimate allows (`ESTIMATE_OVER`)
    reaches the minimum, "not cached" only when even the largest (`ESTIMATE_UNDER`) stays under
    it, "uncertain" in between: the planner never promises a write the server would refuse.
    """
    if estimate / (1 + ESTIMATE_OVER) >= minimum:
        return "cached"
    if estimate / (1 - ESTIMATE_UNDER) < minimum:
        return "not cached"
    return "uncertain"


def model_factor(model: Any) -> float:
    """The model's tokenizer factor; 1.0 for a model the catalog does not know."""
    info = catalog.lookup(model) if isinstance(model, str) else None
    return info.tokenizer_factor if info is not None else 1.0


def scale(tokens: int, factor: float) -> int:
    """Base tokens converted to a model's generation (rounded half up)."""
    if factor == 1.0:
        return tokens
    return int(tokens * factor + 0.5)


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


def _without_cache_control(block: dict) -> dict:
    if "cache_control" not in block:
        return block
    return {k: v for k, v in block.items() if k != "cache_control"}


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF or JPEG header, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 < len(data):
            if data[index] != 0xFF:
                index += 1
                continue
            marker = data[index + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                index += 2
                continue
            length = struct.unpack(">H", data[index + 2 : index + 4])[0]
            # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return width, height
            index += 2 + length
    return None


def _decode_base64(data: Any, limit: int | None = None) -> bytes:
    if not isinstance(data, str):
        return b""
    text = data if limit is None else data[:limit]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
    except (binascii.Error, ValueError):
        return b""


def _image_tokens(block: dict) -> int:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        # The header is all we need: decode only the first few KiB of a large image.
        size = _image_size(_decode_base64(source.get("data"), limit=65_536))
        if size is not None and size[0] > 0 and size[1] > 0:
            return max(1, min(IMAGE_MAX_TOKENS, math.ceil(size[0] * size[1] / 750)))
    return IMAGE_MAX_TOKENS


def _document_tokens(block: dict) -> int:
    source = block.get("source")
    if not isinstance(source, dict):
        return count_text(_json_text(block))
    kind = source.get("type")
    extra = count_text(block.get("title") or "") + count_text(block.get("context") or "")
    if kind == "text":
        return count_text(source.get("data") or "") + extra
    if kind == "content":
        content = source.get("content")
        if isinstance(content, str):
            return count_text(content) + extra
        if isinstance(content, list):
            return sum(_content_tokens(item) for item in content if isinstance(item, dict)) + extra
        return extra
    if kind == "base64":
        pdf = _decode_base64(source.get("data"))
        pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
        pages += pdf.count(b"/Type/Page") - pdf.count(b"/Type/Pages")
        return PDF_PAGE_TOKENS * max(1, pages) + extra
    return PDF_PAGE_TOKENS + extra


def _content_tokens(block: dict) -> int:
    """Base tokens of one content block, without framing."""
    kind = block.get("type")
    if kind == "text":
        return count_text(block.get("text") or "")
    if kind == "image":
        return _image_tokens(block)
    if kind == "document":
        return _document_tokens(block)
    if kind == "tool_use" or kind == "server_tool_use":
        return count_text(str(block.get("name") or "")) + count_text(_json_text(block.get("input", {})))
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return count_text(content) + 1
        if isinstance(content, list):
            return 1 + sum(_content_tokens(item) for item in content if isinstance(item, dict))
        return 1
    if kind == "thinking":
        return count_text(block.get("thinking") or "")
    if kind == "redacted_thinking":
        data = block.get("data")
        return len(data) // 4 if isinstance(data, str) else 0
    return count_text(_json_text(_without_cache_control(block)))


def _cacheable(block: dict) -> bool:
    kind = block.get("type")
    if kind in NON_CACHEABLE_TYPES:
        return False
    return not (kind == "text" and not block.get("text"))


def _cache_control(block: Any) -> dict | None:
    value = block.get("cache_control") if isinstance(block, dict) else None
    return value if isinstance(value, dict) else None


def request_blocks(params: dict) -> list[Block]:
    """The request flattened in prefix order (tools, system, messages), one `Block` each."""
    factor = model_factor(params.get("model"))
    blocks: list[Block] = []

    tools = params.get("tools")
    if isinstance(tools, list):
        for index, tool in enumerate(tools):
            if not isinstance(tool, dict):
                continue
            base = count_text(_json_text(_without_cache_control(tool))) + TOOL_FRAMING
            kind = str(tool.get("type") or "custom")
            blocks.append(
                Block("tools", ("tools", index), kind, scale(base, factor), True, _cache_control(tool), tool)
            )

    system = params.get("system")
    if isinstance(system, str):
        if system:
            raw = {"type": "text", "text": system}
            tokens = scale(count_text(system) + SYSTEM_FRAMING, factor)
            blocks.append(Block("system", ("system", 0), "text", tokens, True, None, raw))
    elif isinstance(system, list):
        first = True
        for index, block in enumerate(system):
            if not isinstance(block, dict):
                continue
            base = _content_tokens(block) + (SYSTEM_FRAMING if first else 0)
            first = False
            kind = str(block.get("type") or "text")
            blocks.append(
                Block(
                    "system",
                    ("system", index),
                    kind,
                    scale(base, factor),
                    _cacheable(block),
                    _cache_control(block),
                    block,
                )
            )

    messages = params.get("messages")
    if isinstance(messages, list):
        for m_index, message in enumerate(messages):
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                raw = {"type": "text", "text": content}
                tokens = scale(count_text(content) + MESSAGE_FRAMING, factor)
                blocks.append(
                    Block("messages", ("messages", m_index, 0), "text", tokens, bool(content), None, raw)
                )
                continue
            if not isinstance(content, list):
                continue
            first = True
            for b_index, block in enumerate(content):
                if not isinstance(block, dict):
                    continue
                base = _content_tokens(block) + (MESSAGE_FRAMING if first else 0)
                first = False
                blocks.append(
                    Block(
                        "messages",
                        ("messages", m_index, b_index),
                        str(block.get("type") or ""),
                        scale(base, factor),
                        _cacheable(block),
                        _cache_control(block),
                        block,
                    )
                )
    return blocks


def count_request(params: dict) -> int:
    """Total input tokens of a Messages request body: every block plus the trailing framing."""
    factor = model_factor(params.get("model"))
    return sum(block.tokens for block in request_blocks(params)) + scale(TRAILING_TOKENS, factor)
