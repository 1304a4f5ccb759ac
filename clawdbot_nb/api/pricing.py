"""What a call cost: TTL-aware cache pricing from the model catalog, user price overrides from the
Clawdbot config, and the break-even arithmetic behind "would 1h have paid off over 5m"."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from clawdbot_nb import catalog
from clawdbot_nb.api.cache_rules import TTL_SECONDS, entry_alive
from clawdbot_nb.errors import ClawdbotError, UsageError

PRICES_AS_OF = catalog.PRICES_AS_OF

#: Seconds an entry lives after its last write or hit, per TTL.

_PER_TOKEN = 1e-6  # prices are USD per million tokens
_NAN = float("nan")
_CONFIG_MODELS_PATH = "models.providers.anthropic.models"

CostSource = Literal["catalog", "override"]


class UnpricedModelWarning(UserWarning):
    """A model without a price: its costs are NaN until a price override is configured."""


class PriceConfigError(ClawdbotError):
    """A price override in the Clawdbot config that cannot be used as written."""


@dataclass(frozen=True)
class PriceOverride:
    """User prices for one model, USD per million tokens; a field left None keeps the catalog's value.

    For a model the catalog does not price, `input` and `output` are needed; the cache prices then
    default to the standard multipliers of `input` (5m write 1.25x, 1h write 2x, read 0.1x).
    """

    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write_5m: float | None = None
    cache_write_1h: float | None = None


@dataclass(frozen=True)
class ModelPrices:
    """The effective prices of one model, USD per million tokens, before batch/geo/band factors."""

    model: str
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    source: CostSource
    us_geo_premium: bool
    long_prompt_band: tuple[int, float] | None


@dataclass(frozen=True)
class UsageCounts:
    """The token counts that are billed, with the cache writes split by TTL."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    @property
    def prompt_tokens(self) -> int:
        """Every input token of the request: plain input, cache reads and cache writes."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens

    @property
    def hit_ratio(self) -> float:
        """cache_read / (cache_read + cache writes + input); NaN for a request with no input."""
        prompt = self.prompt_tokens
        return self.cache_read_tokens / prompt if prompt else _NAN


@dataclass(frozen=True)
class Cost:
    """What one request cost in USD, split by category, and what it would have cost uncached.

    Every money field is NaN (never 0) when the model has no price; `priced` says which.
    `multiplier` is the factor applied to every category (batch x US geo x long-prompt band).
    """

    model: str
    cost_usd: float
    cost_without_cache_usd: float
    savings_usd: float
    input_usd: float
    cache_write_5m_usd: float
    cache_write_1h_usd: float
    cache_read_usd: float
    output_usd: float
    priced: bool
    as_of: str
    multiplier: float = 1.0
    source: CostSource | None = None

    @property
    def savings_ratio(self) -> float:
        """Savings as a share of the uncached cost; NaN when that is 0 or unknown."""
        base = self.cost_without_cache_usd
        return self.savings_usd / base if base else _NAN


# --------------------------------------------------------------------------------------------
# Usage records


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(value: Any) -> int:
    return int(value) if value is not None else 0


def usage_counts(usage: Any) -> UsageCounts:
    """Billed token counts from an `anthropic.types.Usage`, a `MessageDeltaUsage`, a dict with the
    API's field names, or a `UsageCounts`.

    Without the `cache_creation` TTL split (streaming deltas, older responses) every written token
    counts as a 5m write, the API's default TTL. When the split sums to less than
    `cache_creation_input_tokens`, the remainder is counted as 5m too, so no token is dropped.
    """
    if isinstance(usage, UsageCounts):
        return usage
    if usage is None:
        return UsageCounts()
    creation_total = _count(_field(usage, "cache_creation_input_tokens"))
    split = _field(usage, "cache_creation")
    if split is not None:
        write_5m = _count(_field(split, "ephemeral_5m_input_tokens"))
        write_1h = _count(_field(split, "ephemeral_1h_input_tokens"))
        write_5m += max(0, creation_total - write_5m - write_1h)
    else:
        write_5m, write_1h = creation_total, 0
    return UsageCounts(
        input_tokens=_count(_field(usage, "input_tokens")),
        output_tokens=_count(_field(usage, "output_tokens")),
        cache_read_tokens=_count(_field(usage, "cache_read_input_tokens")),
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
    )


# --------------------------------------------------------------------------------------------
# Prices


def _find_override(
    model: str, info: catalog.ModelInfo | None, overrides: Mapping[str, PriceOverride] | None
) -> PriceOverride | None:
    if not overrides:
        return None
    # Exact ids only: the id as written, without its provider prefix, and the catalog's id for
    # a dated alias. Never a family or substring match.
    candidates = [model]
    if model.startswith("anthropic/"):
        candidates.append(model.removeprefix("anthropic/"))
    if info is not None:
        candidates.append(info.id)
    for candidate in candidates:
        if candidate in overrides:
            return overrides[candidate]
    return None


def prices_for(model: str, overrides: Mapping[str, PriceOverride] | None = None) -> ModelPrices | None:
    """The model's effective prices (catalog, then overrides on top); None when it has no price."""
    info = catalog.lookup(model)
    override = _find_override(model, info, overrides)
    base_input = info.input_usd_per_mtok if info else None
    base_output = info.output_usd_per_mtok if info else None
    read_multiplier = info.cache_read_multiplier if info else catalog.DEFAULT_CACHE_READ_MULTIPLIER
    if override is not None:
        input_price = override.input if override.input is not None else base_input
        output_price = override.output if override.output is not None else base_output
    else:
        input_price, output_price = base_input, base_output
    if input_price is None or output_price is None:
        return None
    o = override or PriceOverride()
    return ModelPrices(
        model=info.id if info else model,
        input=input_price,
        output=output_price,
        cache_write_5m=_pick(o.cache_write_5m, input_price * catalog.CACHE_WRITE_5M_MULTIPLIER),
        cache_write_1h=_pick(o.cache_write_1h, input_price * catalog.CACHE_WRITE_1H_MULTIPLIER),
        cache_read=_pick(o.cache_read, input_price * read_multiplier),
        source="override" if override is not None else "catalog",
        # A model newer than the catalog is a 4.6+ model, and all of those carry the US premium.
        us_geo_premium=info.us_geo_premium if info else True,
        long_prompt_band=info.long_prompt_band if info else None,
    )


def _pick(value: float | None, default: float) -> float:
    return value if value is not None else default


_warned_models: set[str] = set()


def _warn_unpriced(model: str) -> None:
    if model in _warned_models:
        return
    _warned_models.add(model)
    known = catalog.lookup(model) is not None
    why = "has no published price" if known else "is not in the price table"
    warnings.warn(
        f"Model {model!r} {why} (prices as of {PRICES_AS_OF}); its cost shows as NaN. "
        f"Fix: add {{id: {model!r}, cost: {{input: <USD/MTok>, output: <USD/MTok>}}}} to "
        f"{_CONFIG_MODELS_PATH} in the Clawdbot config, or pass a PriceOverride for it.",
        UnpricedModelWarning,
        stacklevel=3,
    )


def _factor(prices: ModelPrices | None, counts: UsageCounts, batch: bool, us: bool) -> float:
    factor = catalog.BATCH_DISCOUNT if batch else 1.0
    if prices is None:
        return factor
    if us and prices.us_geo_premium:
        factor *= catalog.US_INFERENCE_MULTIPLIER
    band = prices.long_prompt_band
    # The band is judged on every prompt token, cached or not, and then applies to the whole
    # request, output included.
    if band is not None and counts.prompt_tokens > band[0]:
        factor *= band[1]
    return factor


def compute_cost(
    model: str,
    usage: Any,
    *,
    batch: bool = False,
    inference_geo: str | None = None,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> Cost:
    """The cost of one request from its usage (see `usage_counts` for the accepted shapes).

    `batch` applies the Batch API discount, also applied when the usage reports
    `service_tier == "batch"`. `inference_geo` (or, when None, the usage's own `inference_geo`)
    equal to "us" adds the US-only premium on models that carry it. An unpriced model yields NaN
    money fields and a warning, once per model id per process.
    """
    counts = usage_counts(usage)
    if usage is not None and not isinstance(usage, UsageCounts):
        # What the response says it was billed as counts even when the caller did not say.
        if inference_geo is None:
            inference_geo = _field(usage, "inference_geo")
        batch = batch or _field(usage, "service_tier") == "batch"
    us = isinstance(inference_geo, str) and inference_geo.lower() == "us"
    prices = prices_for(model, overrides)
    factor = _factor(prices, counts, batch, us)
    if counts.prompt_tokens == 0 and counts.output_tokens == 0:
        # Nothing billed (a call that failed before usage): $0 whatever the model.
        return Cost(model, *([0.0] * 8), priced=prices is not None, as_of=PRICES_AS_OF, multiplier=factor)
    if prices is None:
        _warn_unpriced(model)
        return Cost(model, *([_NAN] * 8), priced=False, as_of=PRICES_AS_OF, multiplier=factor)

    scale = factor * _PER_TOKEN
    input_usd = counts.input_tokens * prices.input * scale
    write_5m_usd = counts.cache_write_5m_tokens * prices.cache_write_5m * scale
    write_1h_usd = counts.cache_write_1h_tokens * prices.cache_write_1h * scale
    read_usd = counts.cache_read_tokens * prices.cache_read * scale
    output_usd = counts.output_tokens * prices.output * scale
    total = input_usd + write_5m_usd + write_1h_usd + read_usd + output_usd
    without = (counts.prompt_tokens * prices.input + counts.output_tokens * prices.output) * scale
    return Cost(
        model=model,
        cost_usd=total,
        cost_without_cache_usd=without,
        savings_usd=without - total,
        input_usd=input_usd,
        cache_write_5m_usd=write_5m_usd,
        cache_write_1h_usd=write_1h_usd,
        cache_read_usd=read_usd,
        output_usd=output_usd,
        priced=True,
        as_of=PRICES_AS_OF,
        multiplier=factor,
        source=prices.source,
    )


# --------------------------------------------------------------------------------------------
# Overrides from the Clawdbot config

_COST_FIELDS: tuple[tuple[str, str], ...] = (
    ("input", "input"),
    ("output", "output"),
    ("cacheRead", "cache_read"),
    ("cacheWrite", "cache_write_5m"),
    ("cacheWrite1h", "cache_write_1h"),
)


def _config_error(where: str, problem: str, fix: str, config_path: str | None) -> PriceConfigError:
    return PriceConfigError(f"{where} {problem}.", fix=fix, path=config_path)


def _sub_mapping(parent: Mapping[str, Any], key: str, where: str, config_path: str | None) -> Any:
    value = parent.get(key)
    if value is not None and not isinstance(value, Mapping):
        raise _config_error(
            where,
            f"must be an object, got {type(value).__name__}",
            f"make {where} an object ({{...}}) or remove it",
            config_path,
        )
    return value


def price_overrides_from_config(
    config: Mapping[str, Any], *, config_path: str | None = None
) -> dict[str, PriceOverride]:
    """Price overrides from a parsed Clawdbot config: `models.providers.anthropic.models[]` entries
    `{"id": ..., "cost": {"input", "output", "cacheRead", "cacheWrite", "cacheWrite1h"}}`, USD per
    million tokens (pi-ai's `Model.cost`; `cacheWrite1h` is ours, 2 x input when absent).

    Entries without `cost` are skipped. A malformed field raises `PriceConfigError` naming its
    config path; `config_path` (the file) is added to the message when given.
    """
    if not isinstance(config, Mapping):
        raise _config_error(
            "The config", "must be an object", "check that the config file holds one object", config_path
        )
    models = _sub_mapping(config, "models", "models", config_path)
    providers = _sub_mapping(models or {}, "providers", "models.providers", config_path)
    anthropic = _sub_mapping(providers or {}, "anthropic", "models.providers.anthropic", config_path)
    entries = (anthropic or {}).get("models")
    if entries is None:
        return {}
    if not isinstance(entries, list):
        raise _config_error(
            _CONFIG_MODELS_PATH,
            f"must be a list, got {type(entries).__name__}",
            f'write {_CONFIG_MODELS_PATH} as a list: [{{"id": "...", "cost": {{...}}}}]',
            config_path,
        )
    result: dict[str, PriceOverride] = {}
    for index, entry in enumerate(entries):
        where = f"{_CONFIG_MODELS_PATH}[{index}]"
        if not isinstance(entry, Mapping):
            raise _config_error(
                where,
                f"must be an object, got {type(entry).__name__}",
                'write it as {"id": "<model id>", "cost": {...}}',
                config_path,
            )
        model_id = entry.get("id")
        if not isinstance(model_id, str) or not model_id.strip():
            raise _config_error(
                f"{where}.id",
                "must be a non-empty model id string",
                'set it to the model id, e.g. "claude-sonnet-4-6"',
                config_path,
            )
        cost = _sub_mapping(entry, "cost", f"{where}.cost", config_path)
        if cost is None:
            continue
        values: dict[str, float] = {}
        for key, attr in _COST_FIELDS:
            if key not in cost or cost[key] is None:
                continue
            raw = cost[key]
            valid = isinstance(raw, int | float) and not isinstance(raw, bool)
            if not valid or not math.isfinite(raw) or raw < 0:
                raise _config_error(
                    f"{where}.cost.{key}",
                    f"must be a non-negative number of USD per million tokens, got {raw!r}",
                    f"write it as a plain number, e.g. {key}: 3 or {key}: 0.3",
                    config_path,
                )
            values[attr] = float(raw)
        override = PriceOverride(**values)
        if prices_for(model_id, {model_id: override}) is None:
            missing = "input" if override.input is None else "output"
            raise _config_error(
                f"{where}.cost.{missing}",
                f"is required: the price table has no price for {model_id!r}",
                f"add {missing}: <USD per million tokens> to {where}.cost",
                config_path,
            )
        result[model_id] = override
    return result


# --------------------------------------------------------------------------------------------
# Display


@dataclass(frozen=True)
class PriceRow:
    """One line of the price table, USD per million tokens (NaN where there is no price)."""

    model: str
    display_name: str
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    status: str
    source: str
    note: str


def price_table(overrides: Mapping[str, PriceOverride] | None = None) -> list[PriceRow]:
    """Every catalog model (and any overridden model the catalog lacks), as plain rows."""
    rows: list[PriceRow] = []
    for info in catalog.MODELS:
        rows.append(_price_row(info.id, info, overrides))
    for model_id in overrides or {}:
        if catalog.lookup(model_id) is None:
            rows.append(_price_row(model_id, None, overrides))
    return rows


def _price_row(
    model: str, info: catalog.ModelInfo | None, overrides: Mapping[str, PriceOverride] | None
) -> PriceRow:
    prices = prices_for(model, overrides)
    notes = list(info.notes) if info else ["not in the catalog"]
    if info and info.long_prompt_band:
        threshold, factor = info.long_prompt_band
        notes.insert(0, f"whole request x{factor:g} above {threshold:,} prompt tokens")
    if info and info.retires_on:
        notes.append(f"retires {info.retires_on}")

    def money(name: str) -> float:
        # Rounded so that 0.1 x 0.1 shows as 0.01, not 0.010000000000000002.
        return round(getattr(prices, name), 9) if prices else _NAN

    return PriceRow(
        model=model,
        display_name=info.display_name if info else model,
        input=money("input"),
        output=money("output"),
        cache_write_5m=money("cache_write_5m"),
        cache_write_1h=money("cache_write_1h"),
        cache_read=money("cache_read"),
        status=info.status if info else "unknown",
        source=prices.source if prices else "none",
        note="; ".join(notes),
    )


# --------------------------------------------------------------------------------------------
# Break-even and TTL what-ifs


def _check_ttl(ttl: str) -> None:
    if ttl not in TTL_SECONDS:
        raise UsageError(f"Unknown cache TTL {ttl!r}.", fix='use "5m" or "1h"')


def _ratios(model: str, overrides: Mapping[str, PriceOverride] | None) -> tuple[float, float, float]:
    """(5m write, 1h write, read) relative to the input price; only ratios matter for break-even."""
    prices = prices_for(model, overrides)
    if prices is not None and prices.input > 0:
        return (
            prices.cache_write_5m / prices.input,
            prices.cache_write_1h / prices.input,
            prices.cache_read / prices.input,
        )
    info = catalog.lookup(model)
    if info is None:
        raise UsageError(
            f"Unknown model {model!r}: its cache multipliers are not known.",
            fix=f"use a model id from the catalog or add a price override for {model!r}",
        )
    return (
        catalog.CACHE_WRITE_5M_MULTIPLIER,
        catalog.CACHE_WRITE_1H_MULTIPLIER,
        info.cache_read_multiplier,
    )


def break_even_requests(
    model: str, ttl: str, overrides: Mapping[str, PriceOverride] | None = None
) -> int | None:
    """How many requests sharing a cached prefix (one write, then reads) it takes before caching
    that prefix costs less than sending it uncached every time; None if it never does.

    With n requests, caching costs write + (n - 1) x read and no caching costs n (in units of the
    prefix at the input price), so the answer is the smallest n with n > (write - read) / (1 - read).
    Batch, geo and the long-prompt band scale both sides alike and do not change it.
    """
    _check_ttl(ttl)
    write_5m, write_1h, read = _ratios(model, overrides)
    write = write_5m if ttl == "5m" else write_1h
    if read >= 1:
        return None
    bound = (write - read) / (1 - read)
    return max(1, math.floor(bound) + 1)


@dataclass(frozen=True)
class TtlOutcome:
    """One caching strategy replayed over a sequence of calls."""

    ttl: str  # "none" | "5m" | "1h"
    writes: int
    reads: int
    hits: tuple[bool, ...]
    cost_usd: float


@dataclass(frozen=True)
class TtlComparison:
    """What the same calls would have cost with no cache, a 5m cache and a 1h cache."""

    model: str
    calls: int
    no_cache: TtlOutcome
    five_minutes: TtlOutcome
    one_hour: TtlOutcome

    @property
    def outcomes(self) -> tuple[TtlOutcome, TtlOutcome, TtlOutcome]:
        return (self.no_cache, self.five_minutes, self.one_hour)

    @property
    def best(self) -> str | None:
        """The cheapest TTL ("none", "5m" or "1h"; the shorter on a tie), None when unpriced."""
        priced = [o for o in self.outcomes if not math.isnan(o.cost_usd)]
        if not priced:
            return None
        return min(priced, key=lambda o: o.cost_usd).ttl

    @property
    def one_hour_saves_usd(self) -> float:
        """How much cheaper 1h was than 5m for these calls (negative when 5m was cheaper)."""
        return self.five_minutes.cost_usd - self.one_hour.cost_usd


def replay_hits(gaps_s: Sequence[float], ttl: str) -> tuple[bool, ...]:
    """For calls separated by `gaps_s` seconds, which ones find the prefix cached at `ttl`.

    The first call always writes. An entry lives `ttl` after its last write or hit (a hit
    refreshes it); a call arriving later than that writes it again.
    """
    _check_ttl(ttl)
    hits = [False]
    for gap in gaps_s:
        if gap < 0:
            raise UsageError(f"A gap between calls is negative ({gap} s).", fix="pass calls in time order")
        # Every call either hits (refreshing the entry) or writes it anew, so the entry's age at
        # the next call is exactly the gap since this one.
        hits.append(entry_alive(gap, ttl))
    return tuple(hits)


def compare_ttls(
    model: str,
    gaps_s: Sequence[float],
    *,
    prefix_tokens: int,
    uncached_tokens: int = 0,
    output_tokens: int = 0,
    batch: bool = False,
    inference_geo: str | None = None,
    overrides: Mapping[str, PriceOverride] | None = None,
) -> TtlComparison:
    """Replay len(gaps_s) + 1 calls sharing a `prefix_tokens` cached prefix (plus `uncached_tokens`
    of fresh input and `output_tokens` of output each) under no cache, 5m and 1h, and price them.
    """
    calls = len(gaps_s) + 1

    def usage(read: int, write_5m: int, write_1h: int, plain: int) -> UsageCounts:
        return UsageCounts(plain, output_tokens, read, write_5m, write_1h)

    def price(per_call: list[UsageCounts]) -> float:
        return sum(
            compute_cost(model, u, batch=batch, inference_geo=inference_geo, overrides=overrides).cost_usd
            for u in per_call
        )

    none_usage = [usage(0, 0, 0, prefix_tokens + uncached_tokens)] * calls
    outcomes = [TtlOutcome("none", 0, 0, (False,) * calls, price(none_usage))]
    for ttl in ("5m", "1h"):
        hits = replay_hits(gaps_s, ttl)
        per_call = []
        for hit in hits:
            if hit:
                per_call.append(usage(prefix_tokens, 0, 0, uncached_tokens))
            elif ttl == "5m":
                per_call.append(usage(0, prefix_tokens, 0, uncached_tokens))
            else:
                per_call.append(usage(0, 0, prefix_tokens, uncached_tokens))
        reads = sum(hits)
        outcomes.append(TtlOutcome(ttl, calls - reads, reads, hits, price(per_call)))
    return TtlComparison(model, calls, *outcomes)
