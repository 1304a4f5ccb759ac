"""The shared token approximation (`clawdbot_nb.tokenizer`): its documented rules, hold by example."""

from __future__ import annotations

import base64
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawdbot_nb import tokenizer


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("the", 1),
        ("caching", 2),  # every started group of 5 letters
        ("simulator", 2),
        ("The quick brown fox jumps over the lazy dog.", 10),  # single spaces are free
        ("2026", 2),  # every started group of 3 digits
        ("a\n\nb", 3),  # other whitespace runs are one token
        ("x  y", 3),
        ("日本語", 3),  # each non-ASCII character
        ("snake_case", 3),
        ("Hello, world!", 4),
    ],
)
def test_count_text_rules(text: str, tokens: int) -> None:
    assert tokenizer.count_text(text) == tokens


def test_split_tokens_rebuilds_the_text_one_token_per_piece() -> None:
    text = "Prompt caching  saves 90%\nof the cost."
    pieces = tokenizer.split_tokens(text)
    assert "".join(pieces) == text
    assert len(pieces) == tokenizer.count_text(text)
    assert all(tokenizer.count_text(piece) == 1 for piece in pieces)


def test_model_factor_follows_the_catalog() -> None:
    assert tokenizer.model_factor("claude-sonnet-4-6") == 1.0
    assert tokenizer.model_factor("claude-opus-4-7") == 1.3
    assert tokenizer.model_factor("claude-haiku-5-5") == 1.3
    assert tokenizer.model_factor("not-a-model") == 1.0
    assert tokenizer.scale(10, 1.3) == 13 and tokenizer.scale(1, 1.3) == 1 and tokenizer.scale(5, 1.3) == 7


def test_request_blocks_prefix_order_and_framing() -> None:
    params = {
        "model": "claude-sonnet-4-6",
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "system": [{"type": "text", "text": "be brief"}, {"type": "text", "text": "really"}],
        "messages": [
            {"role": "user", "content": "hello there"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "hi"},
                ],
            },
        ],
    }
    blocks = tokenizer.request_blocks(params)
    assert [(b.section, b.path) for b in blocks] == [
        ("tools", ("tools", 0)),
        ("system", ("system", 0)),
        ("system", ("system", 1)),
        ("messages", ("messages", 0, 0)),
        ("messages", ("messages", 1, 0)),
        ("messages", ("messages", 1, 1)),
    ]
    assert blocks[0].cache_control == {"type": "ephemeral"} and blocks[0].cacheable
    assert blocks[1].tokens == 2 + 2 and blocks[2].tokens == 2  # framing on the first system block only
    assert blocks[3].tokens == 2 + 3  # "hello there" plus the role marker
    assert blocks[4].type == "thinking" and not blocks[4].cacheable
    assert blocks[5].tokens == 1
    assert tokenizer.count_request(params) == sum(b.tokens for b in blocks) + tokenizer.TRAILING_TOKENS


def test_string_and_block_system_prompts_count_the_same() -> None:
    as_string = {
        "model": "claude-haiku-5-5",
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "x"}],
    }
    as_blocks = {**as_string, "system": [{"type": "text", "text": "You are terse."}]}
    assert tokenizer.count_request(as_string) == tokenizer.count_request(as_blocks)


def _png(width: int, height: int) -> str:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return base64.b64encode(png).decode()


def test_image_tokens_come_from_the_header_size() -> None:
    def image(data: str) -> dict:
        return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}

    def tokens(block: dict) -> int:
        params = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": [block]}]}
        return tokenizer.request_blocks(params)[0].tokens - 3

    assert tokens(image(_png(300, 250))) == 100  # 300 * 250 / 750
    assert tokens(image(_png(4000, 3000))) == tokenizer.IMAGE_MAX_TOKENS
    assert tokens({"type": "image", "source": {"type": "url", "url": "https://x.invalid/a.png"}}) == 1600
    assert tokens(image("not base64 at all")) == 1600


def test_pdf_documents_count_per_page() -> None:
    pdf = b"%PDF-1.4 /Type /Pages /Type /Page /Type /Page /Type /Page"
    block = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
    }
    params = {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": [block]}]}
    assert tokenizer.request_blocks(params)[0].tokens == 3 * tokenizer.PDF_PAGE_TOKENS + 3


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_types = st.sampled_from(
    [
        "text",
        "image",
        "document",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "search_result",
        "x",
    ]
)
_fields = st.sampled_from(["text", "source", "input", "name", "content", "thinking", "data", "cache_control"])
_block = st.builds(
    lambda kind, extra: {"type": kind, **extra}, _types, st.dictionaries(_fields, _json, max_size=4)
)
_message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant", "system", 7]),
        "content": st.one_of(_json, st.lists(_block, max_size=4)),
    }
)
_params = st.fixed_dictionaries(
    {},
    optional={
        "model": st.one_of(st.sampled_from(["claude-haiku-5-5", "claude-sonnet-4-6"]), _json),
        "tools": st.one_of(_json, st.lists(st.one_of(_block, _json), max_size=3)),
        "system": st.one_of(_json, st.lists(st.one_of(_block, _json), max_size=3)),
        "messages": st.one_of(_json, st.lists(st.one_of(_message, _json), max_size=4)),
    },
)


@settings(max_examples=300, deadline=None)
@given(_params)
def test_never_raises_on_odd_input(params: dict) -> None:
    assert tokenizer.count_request(params) >= 0
    for block in tokenizer.request_blocks(params):
        assert block.tokens >= 0


def test_counting_a_long_text() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20_000  # ~900K characters
    tokenizer._count_str.cache_clear()
    assert tokenizer.count_text(text) == 200_000
