"""What the client knows about each Claude model: minimum cacheable prompt, tokenizer generation,
output cap, prices.

The client's table (cost, below-minimum warnings, the `max_tokens` ceiling, model pickers). The
simulator keeps its own facts (`clawdbot_nb.sim.model_facts`) and never reads this one, so a
wrong entry here shows up in tests as a disagreement. Facts as of 2026-11 from the Anthropic docs
(`../shared/reference/anthropic-api.md` §3.4, §6, §7, and the model pages for output caps);
entries the docs leave unconfirmed say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRICES_AS_OF = "2026-11"

#: Cache multipliers relative to the base input price.
CACHE_WRITE_5M_MULTIPLIER = 1.25
CACHE_WRITE_1H_MULTIPLIER = 2.0
DEFAULT_CACHE_READ_MULTIPLIER = 0.1
BATCH_DISCOUNT = 0.5
US_INFERENCE_MULTIPLIER = 1.1

#: Claude 4.7 and later produce about 30 % more tokens for the same text.
NEW_TOKENIZER_FACTOR = 1.3


@dataclass(frozen=True)
class ModelInfo:
    """One model id as the first-party API knows it."""

    id: str
    display_name: str
    min_cacheable_tokens: int
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cache_read_multiplier: float = DEFAULT_CACHE_READ_MULTIPLIER
    tokenizer_factor: float = 1.0
    status: str = "active"  # active | legacy | deprecated | retired
    retires_on: str | None = None
    aliases: tuple[str, ...] = ()
    max_output_tokens: int = 64_000
    #: US-only inference (`inference_geo`) costs 1.1x on Claude 4.6 and later.
    us_geo_premium: bool = True
    #: (prompt tokens above which, price multiplier for the whole request): Haiku 5.5's band.
    long_prompt_band: tuple[int, float] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def retired(self) -> bool:
        return self.status == "retired"

    @property
    def priced(self) -> bool:
        return self.input_usd_per_mtok is not None and self.output_usd_per_mtok is not None


_NEW = NEW_TOKENIZER_FACTOR
_OLD = 1.0

# fmt: off
# Columns: id, display name, minimum cacheable tokens, input and output USD per million tokens,
# cache-read multiplier, tokenizer factor, status, max output tokens, 4.6+ (US-geo premium).
_TABLE: tuple[tuple, ...] = (
    # Current generation
    ("claude-opus-5-5",       "Claude Opus 5.5",        512,  4.00, 20.00, 0.05,  _NEW, "active",     128_000, True),
    ("claude-sonnet-5-5",     "Claude Sonnet 5.5",      512,  2.00, 10.00, 0.05,  _NEW, "active",     128_000, True),
    ("claude-haiku-5-5",      "Claude Haiku 5.5",       512,  0.10,  0.50, 0.1,   _NEW, "active",     128_000, True),
    ("claude-fable-5-2",      "Claude Fable 5.2",       512,  8.00, 40.00, 0.025, _NEW, "active",     128_000, True),
    ("claude-mythos-5-2",     "Claude Mythos 5.2",      512,  8.00, 40.00, 0.025, _NEW, "active",     128_000, True),
    ("claude-fable-5-1",      "Claude Fable 5.1",       512, 10.00, 50.00, 0.025, _NEW, "active",     128_000, True),
    ("claude-mythos-5-1",     "Claude Mythos 5.1",      512, 10.00, 50.00, 0.025, _NEW, "active",     128_000, True),
    ("claude-fable-5",        "Claude Fable 5",         512, 10.00, 50.00, 0.1,   _NEW, "active",     128_000, True),
    ("claude-mythos-5",       "Claude Mythos 5",        512, 10.00, 50.00, 0.1,   _NEW, "active",     128_000, True),
    # Legacy and deprecated, still served
    ("claude-opus-5",         "Claude Opus 5",          512,  5.00, 25.00, 0.1,   _NEW, "legacy",     128_000, True),
    ("claude-sonnet-5",       "Claude Sonnet 5",       1024,  2.00, 10.00, 0.1,   _NEW, "legacy",     128_000, True),
    ("claude-opus-4-8",       "Claude Opus 4.8",       1024,  5.00, 25.00, 0.1,   _NEW, "legacy",     128_000, True),
    ("claude-opus-4-7",       "Claude Opus 4.7",       2048,  5.00, 25.00, 0.1,   _NEW, "legacy",     128_000, True),
    ("claude-mythos-preview", "Claude Mythos Preview", 2048,  None,  None, 0.1,   _OLD, "deprecated", 128_000, True),
    ("claude-opus-4-6",       "Claude Opus 4.6",       4096,  5.00, 25.00, 0.1,   _OLD, "legacy",     128_000, True),
    ("claude-sonnet-4-6",     "Claude Sonnet 4.6",     1024,  3.00, 15.00, 0.1,   _OLD, "legacy",     128_000, True),
    ("claude-haiku-4-5",      "Claude Haiku 4.5",      4096,  1.00,  5.00, 0.1,   _OLD, "active",      64_000, False),
    ("claude-opus-4-5",       "Claude Opus 4.5",       4096,  5.00, 25.00, 0.1,   _OLD, "deprecated",  64_000, False),
    ("claude-sonnet-4-5",     "Claude Sonnet 4.5",     1024,  3.00, 15.00, 0.1,   _OLD, "deprecated",  64_000, False),
    # Retired on the first-party API: requests fail with 404 not_found_error.
    ("claude-opus-4-1",       "Claude Opus 4.1",       1024, 15.00, 75.00, 0.1,   _OLD, "retired",     32_000, False),
    ("claude-opus-4-0",       "Claude Opus 4",         1024, 15.00, 75.00, 0.1,   _OLD, "retired",     32_000, False),
    ("claude-sonnet-4-0",     "Claude Sonnet 4",       1024,  3.00, 15.00, 0.1,   _OLD, "retired",     64_000, False),
    ("claude-3-5-haiku-latest", "Claude Haiku 3.5",    2048,  0.80,  4.00, 0.1,   _OLD, "retired",      8_192, False),
)
# fmt: on

_ALIASES: dict[str, tuple[str, ...]] = {
    "claude-haiku-4-5": ("claude-haiku-4-5-20251001",),
    "claude-opus-4-5": ("claude-opus-4-5-20251101",),
    "claude-sonnet-4-5": ("claude-sonnet-4-5-20250929",),
    "claude-opus-4-1": ("claude-opus-4-1-20250805",),
    "claude-opus-4-0": ("claude-opus-4-20250514",),
    "claude-sonnet-4-0": ("claude-sonnet-4-20250514",),
    "claude-3-5-haiku-latest": ("claude-3-5-haiku-20241022",),
}
_RETIRES_ON: dict[str, str] = {
    "claude-mythos-preview": "2026-06-30",
    "claude-opus-4-5": "2027-01-22",
    "claude-sonnet-4-5": "2026-11-30",
}
_LONG_PROMPT_BANDS: dict[str, tuple[int, float]] = {"claude-haiku-5-5": (100_000, 5.0)}
_NOTES: dict[str, tuple[str, ...]] = {
    "claude-opus-5-5": ("absolute prices unconfirmed in the docs",),
    "claude-sonnet-5-5": ("absolute prices unconfirmed", "cache read was 0.20/MTok until 2026-10-07"),
    "claude-fable-5-2": ("prices and minimum unconfirmed",),
    "claude-mythos-5-2": ("prices and minimum unconfirmed",),
    "claude-mythos-5": ("Glasswing-only access",),
    "claude-mythos-preview": ("no published price",),
    "claude-sonnet-4-6": ("minimum documented as 1,024; observed near 2,048 (anthropic-sdk-python#1194)",),
}

MODELS: tuple[ModelInfo, ...] = tuple(
    ModelInfo(
        id=model_id,
        display_name=name,
        min_cacheable_tokens=minimum,
        input_usd_per_mtok=input_price,
        output_usd_per_mtok=output_price,
        cache_read_multiplier=read,
        tokenizer_factor=factor,
        status=status,
        max_output_tokens=max_output,
        us_geo_premium=geo,
        retires_on=_RETIRES_ON.get(model_id),
        aliases=_ALIASES.get(model_id, ()),
        long_prompt_band=_LONG_PROMPT_BANDS.get(model_id),
        notes=_NOTES.get(model_id, ()),
    )
    for (model_id, name, minimum, input_price, output_price, read, factor, status, max_output, geo) in _TABLE
)

_BY_ID: dict[str, ModelInfo] = {}
for _info in MODELS:
    _BY_ID[_info.id] = _info
    for _alias in _info.aliases:
        _BY_ID[_alias] = _info

#: The model used when neither the call nor the config names one.
DEFAULT_MODEL = "claude-sonnet-5-5"

#: Models offered first in pickers (current, then cheap-to-demo legacy ones).
SUGGESTED_MODELS: tuple[str, ...] = (
    "claude-sonnet-5-5",
    "claude-opus-5-5",
    "claude-haiku-5-5",
    "claude-sonnet-4-6",
    "claude-haiku-4-5",
    "claude-opus-4-5",
)


def lookup(model: str) -> ModelInfo | None:
    """The model's facts, by exact id or dated alias; None for an id we do not know.

    A `provider/` prefix (`anthropic/claude-opus-4-5`, as Clawdbot config keys are written)
    is accepted. No substring or family matching: a near miss is unknown, never mis-priced.
    """
    if "/" in model:
        provider, _, model = model.partition("/")
        if provider != "anthropic":
            return None
    return _BY_ID.get(model)


def served_model_ids() -> list[str]:
    """Every id the first-party API still answers for (current, legacy and deprecated)."""
    return [info.id for info in MODELS if not info.retired]
