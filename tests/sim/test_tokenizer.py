"""The simulator's own counter: the vendored Claude BPE vocabulary and its request positions."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawdbot_nb.sim import bpe, positions

VOCAB = Path(bpe.__file__).parent / "vocab"


def test_vocabulary_is_vendored_with_its_sha256() -> None:
    data = bpe.VOCABULARY.read_bytes()
    assert hashlib.sha256(data).hexdigest() == bpe.VOCABULARY_SHA256
    assert "Copyright 2023 Anthropic, PBC" in (VOCAB / "LICENSE").read_text()
    origin = (VOCAB / "README.md").read_text()
    assert bpe.VOCABULARY_SHA256 in origin and "anthropic-0.34.2-py3-none-any.whl" in origin


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("the", 1),
        ("caching", 1),  # whole words the vocabulary knows are one token
        ("simulator", 1),
        ("The quick brown fox jumps over the lazy dog.", 10),  # a leading space joins the word
        ("2026", 2),  # digits in pairs
        ("a\n\nb", 4),
        ("x  y", 3),
        ("日本語", 4),  # byte-level: 語 takes two tokens
        ("Привет, мир", 7),
        ("snake_case", 3),
        ("Hello, world!", 4),
        ("def f(x):\n    return x + 1\n", 11),
        ('{"a": [1, 2, 3]}', 10),
        ("🙂", 3),
    ],
)
def test_bpe_counts_of_known_texts(text: str, tokens: int) -> None:
    assert bpe.count_text(text) == tokens


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_token_pieces_rebuild_the_text_and_add_up(text: str) -> None:
    pieces = bpe.token_pieces(text)
    cleaned = text.encode("utf-8", "replace").decode("utf-8")
    assert "".join(piece for piece, _ in pieces) == cleaned
    assert sum(count for _, count in pieces) == bpe.count_text(text)
    assert all(count >= 1 and piece for piece, count in pieces)


def test_lone_surrogates_are_counted_not_raised() -> None:
    assert bpe.count_text("a\ud800b") == bpe.count_text("a?b")


def test_a_damaged_vocabulary_names_the_file_and_the_fix(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    damaged = tmp_path / "claude-tokenizer.json"
    damaged.write_text("{}")
    monkeypatch.setattr(bpe, "VOCABULARY", damaged)
    bpe._tokenizer.cache_clear()
    try:
        with pytest.raises(RuntimeError) as caught:
            bpe._tokenizer()
        message = str(caught.value)
        assert str(damaged) in message and "sha256" in message and "Fix:" in message
        assert "\n" not in message
    finally:
        bpe._tokenizer.cache_clear()


def test_request_positions_prefix_order_framing_and_slots() -> None:
    params = {
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "system": [{"type": "text", "text": "be brief"}, {"type": "text", "text": "really"}],
        "messages": [
            {"role": "user", "content": "hello there"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "text", "text": "hi"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                    {"type": "tool_use", "id": "t2", "name": "f", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "a"},
                    {"type": "tool_result", "tool_use_id": "t2", "content": "b"},
                    {"type": "text", "text": "go on"},
                ],
            },
        ],
    }
    found = positions.request_positions(params)
    assert [(p.section, p.path) for p in found[:4]] == [
        ("tools", ("tools", 0)),
        ("system", ("system", 0)),
        ("system", ("system", 1)),
        ("messages", ("messages", 0, 0)),
    ]
    assert found[0].cache_control == {"type": "ephemeral"} and found[0].cacheable
    assert found[1].tokens == 2 + 2 and found[2].tokens == 1  # framing on the first system block only
    assert found[3].tokens == 2 + 3  # "hello there" plus the role marker
    assert found[4].type == "thinking" and not found[4].cacheable
    # Two tool_use blocks share a lookback slot, and so do the two tool_results.
    assert [p.slot for p in found] == [0, 1, 2, 3, 4, 5, 6, 6, 7, 7, 8]
    assert positions.count_request(params) == sum(p.tokens for p in found) + positions.TRAILING_TOKENS
    assert positions.count_request(params, 1.3) == sum(
        positions.scale(p.tokens, 1.3) for p in found
    ) + positions.scale(4, 1.3)


def test_string_and_block_system_prompts_count_the_same() -> None:
    as_string = {"system": "You are terse.", "messages": [{"role": "user", "content": "x"}]}
    as_blocks = {**as_string, "system": [{"type": "text", "text": "You are terse."}]}
    assert positions.count_request(as_string) == positions.count_request(as_blocks)


def _png(width: int, height: int) -> str:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return base64.b64encode(png).decode()


def test_image_tokens_come_from_the_header_size() -> None:
    def image(data: str) -> dict:
        return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}

    def tokens(block: dict) -> int:
        return positions.request_positions({"messages": [{"role": "user", "content": [block]}]})[0].tokens - 3

    assert tokens(image(_png(300, 250))) == 100  # 300 * 250 / 750
    assert tokens(image(_png(4000, 3000))) == positions.IMAGE_MAX_TOKENS
    assert tokens({"type": "image", "source": {"type": "url", "url": "https://x.invalid/a.png"}}) == 1600
    assert tokens(image("not base64 at all")) == 1600


def test_pdf_documents_count_per_page() -> None:
    pdf = b"%PDF-1.4 /Type /Pages /Type /Page /Type /Page /Type /Page"
    block = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
    }
    found = positions.request_positions({"messages": [{"role": "user", "content": [block]}]})
    assert found[0].tokens == 3 * positions.PDF_PAGE_TOKENS + 3


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_types = st.sampled_from(
    ["text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "x"]
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
        "tools": st.one_of(_json, st.lists(st.one_of(_block, _json), max_size=3)),
        "system": st.one_of(_json, st.lists(st.one_of(_block, _json), max_size=3)),
        "messages": st.one_of(_json, st.lists(st.one_of(_message, _json), max_size=4)),
    },
)


@settings(max_examples=300, deadline=None)
@given(_params)
def test_never_raises_on_odd_input(params: dict) -> None:
    assert positions.count_request(params) >= 0
    slots = [p.slot for p in positions.request_positions(params)]
    assert slots == sorted(slots)


def test_counting_a_long_text_once() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20_000  # ~900K characters
    bpe._COUNTS.clear()
    assert bpe.count_text(text) == 200_001
    assert bpe.count_text(text) == 200_001  # the second time from the bounded cache
