"""Request fingerprints keep no prompt text, stay bounded, and locate changes."""

from __future__ import annotations

import pickle

from clawdbot_nb.api import cache_prints
from clawdbot_nb.api.cache_prints import compare_text, divergence, fingerprint, text_print

KEY = b"k" * 16
PROSE = "The quarterly review covers revenue, churn, hiring and the roadmap for caching. " * 200


def _params(system: str, question: str = "What changed?", **extra) -> dict:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 10,
        "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": question}]}],
        **extra,
    }


def test_a_print_holds_no_text() -> None:
    printed = fingerprint(_params(PROSE, "Summarise the churn figures please"), KEY)
    dumped = repr(printed) + repr(pickle.dumps(printed))
    for word in ("quarterly", "revenue", "roadmap", "Summarise", "churn figures"):
        assert word not in dumped
    assert [b.location for b in printed.blocks] == ["system block 0", "message 0"]
    assert printed.breakpoints[0].ttl == "1h" and printed.last_turn_start == 1


def test_digit_spans_are_kept_short_and_secrets_never() -> None:
    secret = "sk-ant-api03-" + "Q" * 40 + "9999"
    printed = text_print(f"Build 2026.11.30 at 10:41:07. Key {secret} v2 end. " + PROSE, KEY)
    assert [m.text for m in printed.marks] == ["2026.11.30", "10:41:07.", "v2"]
    assert all("QQQQ" not in m.text and "9999" not in m.text for m in printed.marks)
    assert printed.without_marks().marks == ()


def test_prints_stay_bounded_however_long_the_text() -> None:
    huge = PROSE * 50  # ~800k characters
    printed = text_print(huge, KEY)
    assert len(printed.chunks) <= cache_prints.MAX_CHUNKS and len(printed.tails) < 12
    assert printed.chunk == -(-len(huge) // cache_prints.MAX_CHUNKS)


def test_compare_text_finds_appends_edits_and_replacements() -> None:
    old = text_print(PROSE, KEY)
    assert compare_text(old, PROSE, KEY) is None
    appended = compare_text(old, PROSE + " And more.", KEY)
    assert appended.exact and appended.offset == len(PROSE) and appended.edited
    edited = compare_text(old, PROSE[:5000] + "X" + PROSE[5001:], KEY)
    assert not edited.exact and edited.offset <= 5000 < edited.offset + old.chunk and edited.edited
    replaced = compare_text(old, "Completely unrelated words about gardening and spring flowers. " * 200, KEY)
    assert not replaced.edited


def test_divergence_names_settings_insertions_and_removals() -> None:
    tool = {"name": "search", "description": "Search.", "input_schema": {"type": "object"}}
    base = fingerprint(_params(PROSE, tools=[tool]), KEY)
    forced = fingerprint(_params(PROSE, tools=[tool], tool_choice={"type": "any"}), KEY)
    split = divergence(base, forced)
    assert split.what == "settings" and split.setting == "tool_choice" and split.position == 2
    two = dict(_params(PROSE))
    two["system"] = [{"type": "text", "text": "You are Claude Code."}, *two["system"]]
    split = divergence(fingerprint(_params(PROSE), KEY), fingerprint(two, KEY))
    assert split.what == "inserted" and split.location == "system block 0"
    split = divergence(fingerprint(two, KEY), fingerprint(_params(PROSE), KEY))
    assert split.what == "removed" and split.position == 0
