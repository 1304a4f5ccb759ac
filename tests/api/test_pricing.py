"""Cost of a call from its usage: hand-computed against the price table (USD per million tokens)."""

from __future__ import annotations

import math
import subprocess
import sys
import uuid
import warnings

import pytest
from anthropic.types import CacheCreation, MessageDeltaUsage, Usage

from clawdbot_nb import catalog
from clawdbot_nb.api.pricing import (
    PRICES_AS_OF,
    PriceConfigError,
    PriceOverride,
    UnpricedModelWarning,
    UsageCounts,
    break_even_requests,
    compare_ttls,
    compute_cost,
    price_overrides_from_config,
    price_table,
    replay_hits,
    usage_counts,
)
from clawdbot_nb.errors import ClawdbotError, UsageError

M = 1_000_000


def usage(
    input_tokens: int = 0,
    output_tokens: int = 0,
    read: int = 0,
    write_5m: int = 0,
    write_1h: int = 0,
    **extra: object,
) -> dict[str, object]:
    """A Messages API usage dict with the TTL split, as the API returns it."""
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write_5m + write_1h,
        "cache_creation": {"ephemeral_5m_input_tokens": write_5m, "ephemeral_1h_input_tokens": write_1h},
        **extra,
    }


def fresh_model_id() -> str:
    # The unpriced warning fires once per id per process; a new id per test keeps tests independent.
    return f"claude-unknown-{uuid.uuid4().hex[:8]}"


# ---- single calls, hand-computed


def test_5m_write_costs_1_25x_input_and_saves_nothing() -> None:
    # Sonnet 4.6: $3 in, $15 out. 50 plain input, 10,000 written at 5m, 200 out.
    cost = compute_cost("claude-sonnet-4-6", usage(50, 200, write_5m=10_000))
    assert cost.input_usd == pytest.approx(50 * 3 / M)  # 0.00015
    assert cost.cache_write_5m_usd == pytest.approx(10_000 * 3 * 1.25 / M)  # 0.0375
    assert cost.output_usd == pytest.approx(200 * 15 / M)  # 0.003
    assert cost.cost_usd == pytest.approx(0.04065)
    # Uncached, the 10,000 written tokens are plain input: (10,050 x 3 + 200 x 15) / 1M.
    assert cost.cost_without_cache_usd == pytest.approx(0.03315)
    assert cost.savings_usd == pytest.approx(-0.0075)
    assert cost.savings_usd < 0
    assert cost.priced and cost.source == "catalog" and cost.as_of == PRICES_AS_OF == catalog.PRICES_AS_OF


def test_1h_write_costs_2x_input() -> None:
    # Haiku 4.5: $1 in, $5 out. 20,000 written at 1h, 10 plain input, 100 out.
    cost = compute_cost("claude-haiku-4-5", usage(10, 100, write_1h=20_000))
    assert cost.cache_write_1h_usd == pytest.approx(20_000 * 1 * 2 / M)  # 0.04
    assert cost.cache_write_5m_usd == 0
    assert cost.cost_usd == pytest.approx(0.04 + 0.00001 + 0.0005)  # 0.04051
    assert cost.cost_without_cache_usd == pytest.approx(20_010 * 1 / M + 0.0005)  # 0.02051
    assert cost.savings_usd == pytest.approx(-0.02)


def test_read_on_a_0_1x_model() -> None:
    # Opus 4.6: $5 in, $25 out, reads at 0.1x = $0.50.
    cost = compute_cost("claude-opus-4-6", usage(20, 500, read=100_000))
    assert cost.cache_read_usd == pytest.approx(100_000 * 0.50 / M)  # 0.05
    assert cost.cost_usd == pytest.approx(0.05 + 20 * 5 / M + 500 * 25 / M)  # 0.0626
    assert cost.cost_without_cache_usd == pytest.approx(100_020 * 5 / M + 0.0125)  # 0.5126
    assert cost.savings_usd == pytest.approx(0.45)
    assert cost.savings_usd > 0


def test_read_on_a_0_05x_model_saves_95_percent() -> None:
    # Sonnet 5.5: $2 in, reads at 0.05x = $0.10.
    cost = compute_cost("claude-sonnet-5-5", usage(read=100_000))
    assert cost.cost_usd == pytest.approx(100_000 * 0.10 / M)  # 0.01
    assert cost.cost_without_cache_usd == pytest.approx(100_000 * 2 / M)  # 0.2
    assert cost.savings_usd == pytest.approx(0.19)
    assert cost.savings_ratio == pytest.approx(0.95)


def test_mixed_5m_1h_and_read_from_an_sdk_usage_object() -> None:
    # Opus 5.5: $4 in, $20 out; 5m write $5, 1h write $8, read 0.05x = $0.20.
    sdk_usage = Usage(
        input_tokens=100,
        output_tokens=1_000,
        cache_read_input_tokens=30_000,
        cache_creation_input_tokens=10_000,
        cache_creation=CacheCreation(ephemeral_5m_input_tokens=2_000, ephemeral_1h_input_tokens=8_000),
    )
    cost = compute_cost("claude-opus-5-5", sdk_usage)
    assert cost.cache_read_usd == pytest.approx(30_000 * 0.20 / M)  # 0.006
    assert cost.cache_write_1h_usd == pytest.approx(8_000 * 8 / M)  # 0.064
    assert cost.cache_write_5m_usd == pytest.approx(2_000 * 5 / M)  # 0.01
    assert cost.input_usd == pytest.approx(100 * 4 / M)  # 0.0004
    assert cost.output_usd == pytest.approx(1_000 * 20 / M)  # 0.02
    assert cost.cost_usd == pytest.approx(0.1004)
    # Uncached: 40,100 prompt tokens at $4 plus the same output.
    assert cost.cost_without_cache_usd == pytest.approx(40_100 * 4 / M + 0.02)  # 0.1804
    assert cost.savings_usd == pytest.approx(0.08)


def test_batch_halves_every_category_and_stacks_with_cache_multipliers() -> None:
    mixed = usage(100, 1_000, read=30_000, write_5m=2_000, write_1h=8_000)
    cost = compute_cost("claude-opus-5-5", mixed, batch=True)
    assert cost.multiplier == 0.5
    assert cost.cache_write_1h_usd == pytest.approx(8_000 * 8 * 0.5 / M)  # 0.032
    assert cost.cost_usd == pytest.approx(0.1004 * 0.5)  # 0.0502
    assert cost.cost_without_cache_usd == pytest.approx(0.1804 * 0.5)  # 0.0902
    # The usage itself saying it ran in the batch tier is enough.
    assert compute_cost("claude-opus-5-5", {**mixed, "service_tier": "batch"}).cost_usd == pytest.approx(
        0.0502
    )


def test_us_geo_adds_10_percent_on_4_6_and_later_only() -> None:
    # Sonnet 4.6 (premium): read 10,000 at $0.30, output 1,000 at $15, both x1.1.
    cost = compute_cost("claude-sonnet-4-6", usage(0, 1_000, read=10_000), inference_geo="us")
    assert cost.cache_read_usd == pytest.approx(10_000 * 0.30 * 1.1 / M)  # 0.0033
    assert cost.output_usd == pytest.approx(1_000 * 15 * 1.1 / M)  # 0.0165
    assert cost.cost_usd == pytest.approx(0.0198)
    # Haiku 4.5 predates the premium.
    older = compute_cost("claude-haiku-4-5", usage(0, 1_000, read=10_000), inference_geo="us")
    assert older.cost_usd == pytest.approx(10_000 * 0.10 / M + 1_000 * 5 / M)  # 0.006
    # Batch and US stack: 0.5 x 1.1.
    both = compute_cost("claude-sonnet-4-6", usage(0, 1_000, read=10_000), inference_geo="US", batch=True)
    assert both.cost_usd == pytest.approx(0.018 * 0.55)
    # The geo the response reports is used when the caller does not say.
    reported = compute_cost("claude-sonnet-4-6", usage(0, 1_000, read=10_000, inference_geo="us"))
    assert reported.cost_usd == pytest.approx(0.0198)
    assert compute_cost(
        "claude-sonnet-4-6", usage(0, 1_000, read=10_000), inference_geo="global"
    ).cost_usd == (pytest.approx(0.018))


def test_haiku_5_5_long_prompt_band_on_both_sides_of_100k() -> None:
    # Haiku 5.5: $0.10 in, $0.50 out, 5m write $0.125, read $0.01.
    # Exactly 100,000 prompt tokens (90,000 read + 10,000 written): base prices.
    at_limit = compute_cost("claude-haiku-5-5", usage(0, 1_000, read=90_000, write_5m=10_000))
    base = 90_000 * 0.01 / M + 10_000 * 0.125 / M + 1_000 * 0.50 / M  # 0.0009 + 0.00125 + 0.0005
    assert at_limit.cost_usd == pytest.approx(base)  # 0.00265
    assert at_limit.multiplier == 1.0
    # One more plain input token: 100,001 > 100K, the whole request (output too) at 5x.
    over = compute_cost("claude-haiku-5-5", usage(1, 1_000, read=90_000, write_5m=10_000))
    assert over.multiplier == 5.0
    assert over.output_usd == pytest.approx(1_000 * 0.50 * 5 / M)  # 0.0025
    assert over.cost_usd == pytest.approx((base + 1 * 0.10 / M) * 5)  # 0.0132505
    # Uncached the prompt is as long, so the comparison is made inside the same band.
    assert over.cost_without_cache_usd == pytest.approx((100_001 * 0.10 + 1_000 * 0.50) / M * 5)
    # Another model with as long a prompt is not banded.
    assert compute_cost("claude-sonnet-5-5", usage(200_000)).multiplier == 1.0


# ---- usage shapes


def test_streaming_usage_without_ttl_split_counts_writes_as_5m() -> None:
    streamed = {
        "input_tokens": 5,
        "output_tokens": 7,
        "cache_creation_input_tokens": 4_100,
        "cache_creation": None,
    }
    counts = usage_counts(streamed)
    assert counts == UsageCounts(input_tokens=5, output_tokens=7, cache_write_5m_tokens=4_100)
    cost = compute_cost("claude-sonnet-4-6", streamed)
    assert cost.cache_write_5m_usd == pytest.approx(4_100 * 3.75 / M)
    assert cost.cache_write_1h_usd == 0


def test_message_delta_usage_and_missing_fields_are_zero() -> None:
    delta = MessageDeltaUsage(output_tokens=12, cache_read_input_tokens=4_100)
    assert usage_counts(delta) == UsageCounts(output_tokens=12, cache_read_tokens=4_100)
    assert usage_counts(None) == UsageCounts()
    assert usage_counts({}) == UsageCounts()


def test_a_ttl_split_short_of_the_creation_total_keeps_every_token() -> None:
    # Never drop cache tokens from totals: the unsplit remainder is billed at 5m.
    counts = usage_counts(usage(write_1h=1_000) | {"cache_creation_input_tokens": 1_500})
    assert (counts.cache_write_5m_tokens, counts.cache_write_1h_tokens) == (500, 1_000)


def test_usage_counts_hit_ratio_is_reads_over_every_prompt_token() -> None:
    assert usage_counts(usage(100, 0, read=900)).hit_ratio == pytest.approx(0.9)
    assert usage_counts(usage(0, 0, read=600, write_5m=200, write_1h=200)).hit_ratio == pytest.approx(0.6)
    assert math.isnan(UsageCounts().hit_ratio)


# ---- unknown and unpriced models


def test_unknown_model_is_nan_never_zero_and_warns_once() -> None:
    model = fresh_model_id()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = compute_cost(model, usage(1_000, 100))
        second = compute_cost(model, usage(5, 5))
    assert [w.category for w in caught] == [UnpricedModelWarning]
    message = str(caught[0].message)
    assert model in message and "models.providers.anthropic.models" in message and "cost" in message
    for cost in (first, second):
        assert not cost.priced
        for name in ("cost_usd", "cost_without_cache_usd", "savings_usd", "input_usd", "output_usd"):
            assert math.isnan(getattr(cost, name))
        assert cost.as_of == PRICES_AS_OF


def test_model_without_a_published_price_is_nan() -> None:
    with pytest.warns(UnpricedModelWarning, match="no published price"):
        cost = compute_cost("claude-mythos-preview", usage(10, 10))
    assert not cost.priced and math.isnan(cost.cost_usd)


@pytest.mark.parametrize(
    "near_miss", ["claude-sonnet-4-6-foo", "claude-sonnet", "sonnet-4-6", "openai/claude-sonnet-4-6"]
)
def test_near_misses_are_not_priced_as_a_family(near_miss: str) -> None:
    with pytest.warns(UnpricedModelWarning):
        assert math.isnan(compute_cost(near_miss, usage(10)).cost_usd)


def test_dated_alias_and_provider_prefix_use_the_catalog_price() -> None:
    expected = 1_000 * 1 / M
    assert compute_cost("claude-haiku-4-5-20251001", usage(1_000)).cost_usd == pytest.approx(expected)
    assert compute_cost("anthropic/claude-haiku-4-5", usage(1_000)).cost_usd == pytest.approx(expected)


# ---- overrides


def config_with(*entries: object) -> dict[str, object]:
    return {"models": {"providers": {"anthropic": {"models": list(entries)}}}}


def test_override_prices_a_model_the_catalog_does_not_know() -> None:
    model = fresh_model_id()
    overrides = price_overrides_from_config(
        config_with({"id": model, "cost": {"input": 6, "output": 30, "cacheRead": 0.6, "cacheWrite": 7.5}})
    )
    assert overrides == {model: PriceOverride(input=6.0, output=30.0, cache_read=0.6, cache_write_5m=7.5)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a priced model must not warn
        cost = compute_cost(
            model, usage(100, 1_000, read=1_000, write_5m=1_000, write_1h=1_000), overrides=overrides
        )
    assert cost.priced and cost.source == "override"
    assert cost.input_usd == pytest.approx(100 * 6 / M)  # 0.0006
    assert cost.cache_read_usd == pytest.approx(1_000 * 0.6 / M)  # 0.0006
    assert cost.cache_write_5m_usd == pytest.approx(1_000 * 7.5 / M)  # 0.0075
    # No cacheWrite1h: 2 x input = $12.
    assert cost.cache_write_1h_usd == pytest.approx(1_000 * 12 / M)  # 0.012
    assert cost.output_usd == pytest.approx(1_000 * 30 / M)  # 0.03
    assert cost.cost_usd == pytest.approx(0.0006 + 0.0006 + 0.0075 + 0.012 + 0.03)


def test_partial_override_of_a_catalog_model_keeps_its_other_prices() -> None:
    # Sonnet 5.5's read was $0.20 until 2026-10-07; a user billed at the old price can say so.
    overrides = price_overrides_from_config(
        config_with({"id": "claude-sonnet-5-5", "cost": {"cacheRead": 0.2}})
    )
    cost = compute_cost("claude-sonnet-5-5", usage(0, 1_000, read=100_000), overrides=overrides)
    assert cost.cache_read_usd == pytest.approx(100_000 * 0.2 / M)  # 0.02 instead of 0.01
    assert cost.output_usd == pytest.approx(1_000 * 10 / M)  # catalog output kept
    # Keyed by the catalog id, the override also covers the prefixed spelling.
    assert compute_cost("anthropic/claude-sonnet-5-5", usage(read=100_000), overrides=overrides).cost_usd == (
        pytest.approx(0.02)
    )


def test_override_gives_an_unpublished_model_a_price_and_keeps_its_read_multiplier() -> None:
    overrides = {"claude-mythos-preview": PriceOverride(input=10, output=50)}
    cost = compute_cost("claude-mythos-preview", usage(read=1_000_000), overrides=overrides)
    assert cost.cost_usd == pytest.approx(10 * 0.1)


def test_config_entries_without_cost_and_configs_without_the_section_give_no_overrides() -> None:
    assert price_overrides_from_config({}) == {}
    assert price_overrides_from_config({"models": {"providers": {"openai": {}}}}) == {}
    assert (
        price_overrides_from_config(config_with({"id": "claude-sonnet-4-6", "contextWindow": 200_000})) == {}
    )


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ({"models": []}, "models "),
        ({"models": {"providers": {"anthropic": {"models": {}}}}}, "models.providers.anthropic.models "),
        (
            config_with({"id": "claude-sonnet-4-6", "cost": {}}, "nope"),
            "models.providers.anthropic.models[1] ",
        ),
        (config_with({"cost": {"input": 1}}), "models.providers.anthropic.models[0].id"),
        (config_with({"id": "claude-sonnet-4-6", "cost": 3}), "models.providers.anthropic.models[0].cost "),
        (
            config_with(
                {"id": "a-1", "cost": {"input": 1, "output": 1}},
                {"id": "claude-sonnet-4-6"},
                {"id": "b", "cost": {"input": "three"}},
            ),
            "models.providers.anthropic.models[2].cost.input",
        ),
        (config_with({"id": "claude-sonnet-4-6", "cost": {"output": True}}), "models[0].cost.output"),
        (config_with({"id": "claude-sonnet-4-6", "cost": {"cacheRead": -1}}), "models[0].cost.cacheRead"),
        (
            config_with({"id": "claude-sonnet-4-6", "cost": {"cacheWrite1h": float("nan")}}),
            "cost.cacheWrite1h",
        ),
        (config_with({"id": "claude-brand-new", "cost": {"input": 1}}), "models[0].cost.output"),
    ],
)
def test_bad_override_config_names_the_field_and_the_fix(config: dict[str, object], where: str) -> None:
    with pytest.raises(PriceConfigError) as raised:
        price_overrides_from_config(config, config_path="/home/u/.clawdbot/clawdbot.json")
    error = raised.value
    assert isinstance(error, ClawdbotError)
    assert where in str(error)
    assert error.fix
    assert str(error).startswith("/home/u/.clawdbot/clawdbot.json: ")


# ---- price table


def test_price_table_lists_every_model_with_its_prices_and_status() -> None:
    model = fresh_model_id()
    rows = {row.model: row for row in price_table({model: PriceOverride(input=1, output=2)})}
    assert set(rows) >= {info.id for info in catalog.MODELS} | {model}
    haiku = rows["claude-haiku-5-5"]
    assert (haiku.input, haiku.output, haiku.cache_write_5m, haiku.cache_write_1h, haiku.cache_read) == (
        0.1,
        0.5,
        0.125,
        0.2,
        0.01,
    )
    assert "100,000" in haiku.note
    opus = rows["claude-opus-4-5"]
    assert (opus.input, opus.cache_write_5m, opus.cache_write_1h, opus.cache_read, opus.output) == (
        5,
        6.25,
        10,
        0.5,
        25,
    )
    assert opus.status == "deprecated"
    assert math.isnan(rows["claude-mythos-preview"].input) and rows["claude-mythos-preview"].source == "none"
    assert rows[model].source == "override" and rows[model].cache_write_1h == 2


# ---- break-even and TTL what-ifs


@pytest.mark.parametrize(
    "model", ["claude-sonnet-4-6", "claude-sonnet-5-5", "claude-fable-5-1", "claude-mythos-preview"]
)
def test_break_even_5m_at_the_2nd_request_1h_at_the_3rd(model: str) -> None:
    # 5m: 1.25 + 0.1 = 1.35 < 2 requests; 1h: 2 + 0.1 = 2.1 > 2, 2 + 0.2 = 2.2 < 3.
    assert break_even_requests(model, "5m") == 2
    assert break_even_requests(model, "1h") == 3


def test_break_even_follows_overridden_prices() -> None:
    # Read at 0.9x input: 5m needs 1.25 + 0.9 (n - 1) < n, i.e. n > 3.5.
    overrides = {"claude-sonnet-4-6": PriceOverride(cache_read=2.7)}
    assert break_even_requests("claude-sonnet-4-6", "5m", overrides) == 4
    # A read that costs as much as input never pays off.
    assert (
        break_even_requests("claude-sonnet-4-6", "1h", {"claude-sonnet-4-6": PriceOverride(cache_read=3)})
        is None
    )


def test_break_even_rejects_a_bad_ttl_and_an_unknown_model() -> None:
    with pytest.raises(UsageError, match="TTL"):
        break_even_requests("claude-sonnet-4-6", "24h")
    with pytest.raises(UsageError, match="Unknown model"):
        break_even_requests(fresh_model_id(), "5m")


def test_replay_hits_expire_after_the_ttl_since_the_last_hit() -> None:
    gaps = [60, 299, 301, 3_599, 3_600]
    # Calls at 0, 60, 359, 660, 4259, 7859 s: each hit refreshes the entry; at exactly the TTL
    # the entry is gone (the documented `now < last_used + ttl`).
    assert replay_hits(gaps, "5m") == (False, True, True, False, False, False)
    assert replay_hits(gaps, "1h") == (False, True, True, True, True, False)
    assert replay_hits([], "1h") == (False,)
    with pytest.raises(UsageError):
        replay_hits([-1], "5m")


def test_compare_ttls_calls_ten_minutes_apart_favour_1h() -> None:
    # Sonnet 4.6, a 10,000-token prefix, 4 calls 10 minutes apart.
    result = compare_ttls("claude-sonnet-4-6", [600, 600, 600], prefix_tokens=10_000)
    # No cache: 4 x 10,000 x $3.
    assert result.no_cache.cost_usd == pytest.approx(4 * 10_000 * 3 / M)  # 0.12
    # 5m expires between calls: 4 writes at $3.75.
    assert (result.five_minutes.writes, result.five_minutes.reads) == (4, 0)
    assert result.five_minutes.cost_usd == pytest.approx(4 * 10_000 * 3.75 / M)  # 0.15
    # 1h: one write at $6, three reads at $0.30.
    assert result.one_hour.hits == (False, True, True, True)
    assert result.one_hour.cost_usd == pytest.approx((10_000 * 6 + 3 * 10_000 * 0.3) / M)  # 0.069
    assert result.best == "1h"
    assert result.one_hour_saves_usd == pytest.approx(0.081)


def test_compare_ttls_two_quick_calls_favour_5m_and_count_fresh_input_and_output() -> None:
    result = compare_ttls(
        "claude-sonnet-4-6", [60], prefix_tokens=10_000, uncached_tokens=100, output_tokens=50
    )
    fixed = 2 * (100 * 3 + 50 * 15)  # the same fresh input and output in every strategy
    assert result.no_cache.cost_usd == pytest.approx((2 * 10_000 * 3 + fixed) / M)
    assert result.five_minutes.cost_usd == pytest.approx((10_000 * 3.75 + 10_000 * 0.3 + fixed) / M)
    assert result.one_hour.cost_usd == pytest.approx((10_000 * 6 + 10_000 * 0.3 + fixed) / M)
    assert result.best == "5m"
    assert result.one_hour_saves_usd < 0


def test_compare_ttls_for_an_unpriced_model_has_no_best() -> None:
    with pytest.warns(UnpricedModelWarning):
        result = compare_ttls(fresh_model_id(), [60], prefix_tokens=5_000)
    assert result.best is None
    assert result.one_hour.hits == (False, True)
    assert math.isnan(result.one_hour.cost_usd)


def test_pricing_module_has_only_light_imports() -> None:
    heavy = "{'pandas', 'numpy', 'anthropic'}"
    code = f"import sys, clawdbot_nb.api.pricing; print(sorted({heavy} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
