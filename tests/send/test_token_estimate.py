"""The client's token estimate against the simulator's own BPE counts, and the planner's
below-minimum verdicts against what the simulator actually caches, near the thresholds.

The simulator counts with a real vocabulary the client never imports (`clawdbot_nb.sim.bpe`),
so these tests compare two independent counts. Texts: `bench/token_texts.py` (prose, code,
JSON, non-Latin).
"""

from __future__ import annotations

import itertools

import anthropic
import httpx2
import pytest

from bench.token_texts import KINDS, sample
from clawdbot_nb import sim, tokenizer
from clawdbot_nb.api.planner import plan_cache
from clawdbot_nb.sim import model_facts
from clawdbot_nb.sim.bpe import count_text as simulator_count
from clawdbot_nb.sim.bpe import token_pieces
from clawdbot_nb.sim.positions import request_positions, scale

#: (model, minimum cacheable tokens): 512 and 2,048 on the newer tokenizer (x1.3), 1,024 and 4,096 on the older.
THRESHOLDS = [
    ("claude-haiku-5-5", 512),
    ("claude-sonnet-4-6", 1024),
    ("claude-opus-4-7", 2048),
    ("claude-haiku-4-5", 4096),
]
#: True prefix size over the minimum: well under, just under, at, just over, well over.
RATIOS = (0.3, 0.6, 0.9, 0.97, 0.995, 1.0, 1.005, 1.03, 1.1, 1.45, 1.6)


def _request(model: str, text: str) -> dict:
    return {
        "model": model,
        "max_tokens": 8,
        "system": text,
        "messages": [{"role": "user", "content": "Reply with OK."}],
    }


def _true_prefixes(params: dict) -> dict[tuple, int]:
    """The simulator's cumulative count at each block (what the server compares with its minimum)."""
    facts = model_facts.lookup(params["model"])
    assert facts is not None
    total, sums = 0, {}
    for position in request_positions(params, facts.tokenizer_factor):
        total += position.tokens
        sums[position.path] = total
    return sums


def _true_prompt_prefix(params: dict) -> int:
    """The true prefix up to the end of the system prompt, the stable prefix the planner marks."""
    return _true_prefixes(params)[("system", 0)]


def _text_with_true_size(kind: str, model: str, target: int, seed: int) -> str:
    """A `kind` system prompt whose true size on `model` is the smallest at or above `target`:
    cut at a token boundary of the simulator's vocabulary, then checked by real counts."""
    units = max(4, target // 40)
    while _true_prompt_prefix(_request(model, sample(kind, seed, units))) < target:
        units *= 2
    pieces = token_pieces(sample(kind, seed, units))
    facts = model_facts.lookup(model)
    assert facts is not None
    rest = _true_prompt_prefix(_request(model, pieces[0][0])) - scale(
        pieces[0][1] + 2, facts.tokenizer_factor
    )
    sums = list(itertools.accumulate(count for _, count in pieces))
    # First guess from the pieces' own counts; a cut can re-tokenize a little differently.
    cut = next(
        k for k, total in enumerate(sums, 1) if scale(total + 2, facts.tokenizer_factor) + rest >= target
    )

    def true_size(k: int) -> int:
        return _true_prompt_prefix(_request(model, "".join(piece for piece, _ in pieces[:k])))

    while true_size(cut) < target:
        cut += 1
    while cut > 1 and true_size(cut - 1) >= target:
        cut -= 1
    return "".join(piece for piece, _ in pieces[:cut])


@pytest.fixture
def client():
    simulator = sim.Simulator()
    with anthropic.Anthropic(
        api_key=sim.DEMO_API_KEY,
        base_url="http://localhost",
        http_client=httpx2.Client(transport=simulator.transport()),
        max_retries=0,
    ) as sdk:
        yield sdk


@pytest.mark.parametrize(("model", "minimum"), THRESHOLDS)
def test_the_planner_never_promises_a_write_the_simulator_refuses(client, model: str, minimum: int) -> None:
    seen = {"cached": 0, "uncertain": 0, "not cached": 0}
    for kind in KINDS:
        for step, ratio in enumerate(RATIOS):
            params = _request(model, _text_with_true_size(kind, model, round(minimum * ratio), seed=step))
            plan = plan_cache(params, ttl="5m")
            truth = _true_prefixes(params)
            usage = client.messages.create(**plan.params).usage
            written = usage.cache_creation_input_tokens
            largest = max(truth[point.path] for point in plan.breakpoints)
            assert written == (largest if largest >= minimum else 0)  # the simulator's own rule
            estimate = max(point.prefix_tokens for point in plan.breakpoints)
            label = f"{kind}: {largest} true tokens, {estimate} estimated, minimum {minimum}"
            for point in plan.breakpoints:
                if not point.below_minimum:
                    assert truth[point.path] >= minimum, f"a promised write the simulator refuses: {label}"
            if plan.cacheable:
                assert written, label
            verdict = tokenizer.minimum_verdict(estimate, minimum)
            seen[verdict] += 1
            notes = " ".join(plan.warnings)
            if verdict == "not cached":
                assert not written and "nothing will be cached" in notes, label
            if verdict == "uncertain":
                assert "may not be cached" in notes and "count_tokens" in notes, label
    # Every verdict occurs, so all three branches of the planner are exercised.
    assert all(seen.values()), seen


def test_the_estimate_stays_within_its_documented_bounds_on_every_kind() -> None:
    for kind in KINDS:
        for seed in range(40):
            text = sample(kind, seed, 5 + seed)
            truth = simulator_count(text)
            estimate = tokenizer.count_text(text)
            error = (estimate - truth) / truth
            assert -tokenizer.ESTIMATE_UNDER < error < tokenizer.ESTIMATE_OVER, (kind, seed, error)


def test_the_estimate_is_not_the_simulators_count() -> None:
    """The two counters disagree where a vocabulary and rules of thumb must: they are independent."""
    texts = [sample(kind, 1, 20) for kind in KINDS]
    assert any(tokenizer.count_text(text) != simulator_count(text) for text in texts)


def test_minimum_verdict_bounds() -> None:
    over, under = 1 + tokenizer.ESTIMATE_OVER, 1 - tokenizer.ESTIMATE_UNDER
    assert tokenizer.minimum_verdict(round(1024 * over) + 1, 1024) == "cached"
    assert tokenizer.minimum_verdict(1024, 1024) == "uncertain"
    assert tokenizer.minimum_verdict(int(1024 * under) + 1, 1024) == "uncertain"
    assert tokenizer.minimum_verdict(int(1024 * under) - 1, 1024) == "not cached"


def test_estimate_rules_by_example() -> None:
    count = tokenizer.count_text
    assert (count(""), count("the"), count("caching"), count("2026")) == (0, 1, 1, 2)
    assert count("The quick brown fox jumps over the lazy dog.") == 10
    assert count("internationalization") == 1 + round((20 - 7) / 4)  # a long word splits
    assert count("a\n\nb") == 3 and count("x  y") == 3  # whitespace runs
    assert count('{"a":') == 3  # word, then one run of three punctuation marks
    assert count("日本語") == 3  # 3 x 0.95, rounded
    assert count("Привет") == 4  # 6 x 0.6, rounded
