"""The simulator's own facts about each model: what it serves, minimums, limits, capabilities.

Independent of the client's `catalog.py` on purpose: the client's planner and cost code read
their table, the simulator reads this one, so a wrong client fact shows up as a disagreement.
Sources: reference §3.4 (minimum cacheable lengths), §7 (ids, release dates, lifecycle), §8
(tokenizer generations); context windows and output caps from the model pages named in `SOURCES`
(checked 2026-11; `unconfirmed` where no first-party page gave the value).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MODELS", "NEW_TOKENIZER_FACTOR", "SOURCES", "ModelFacts", "lookup"]

#: Claude 4.7 and later count about 30 % more tokens for the same text (reference §8; the Haiku
#: 5.5 model page: "approximately 30% more tokens than on Claude Haiku 4.5").
NEW_TOKENIZER_FACTOR = 1.3

#: Where each model's context window and output cap come from.
SOURCES: dict[str, str] = {
    "page": "platform.claude.com/docs/en/models/<model>/overview (Context window · Max output)",
    "lineup": "the 'How it compares' table of platform.claude.com/docs/en/models/haiku-5-5/overview",
    "fable-5": "platform.claude.com/docs/en/models/fable-5/overview (Mythos 5 shares its specifications)",
    "bedrock": "docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-<model>",
    "unconfirmed": "no first-party page found; value of the sibling model",
    "retired": "retired on the first-party API; not re-checked",
}

# Thinking modes, as the pages' "Thinking" column says: extended = enabled/disabled with a
# budget; adaptive+extended = both; adaptive = adaptive or disabled ("enabled" is a 400 from
# Opus 4.7 on); always = adaptive only ("Adaptive (always on)").
_THINKING_TYPES: dict[str, frozenset[str]] = {
    "extended": frozenset({"enabled", "disabled"}),
    "adaptive+extended": frozenset({"enabled", "disabled", "adaptive"}),
    "adaptive": frozenset({"adaptive", "disabled"}),
    "always": frozenset({"adaptive"}),
}
_EFFORT_4_5 = ("low", "medium", "high", "max")
_EFFORT_4_7 = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class ModelFacts:
    """One model id as the simulated first-party API knows it."""

    id: str
    display_name: str
    line: str | None
    released: str  # YYYY-MM-DD
    status: str  # active | legacy | deprecated | retired
    min_cacheable: int
    max_output: int
    max_input: int
    new_tokenizer: bool
    thinking: str  # a key of _THINKING_TYPES
    effort: tuple[str, ...]
    default_effort: str | None
    source: str
    retires_on: str | None = None
    aliases: tuple[str, ...] = ()
    between_tools: bool = False

    @property
    def retired(self) -> bool:
        return self.status == "retired"

    @property
    def tokenizer_factor(self) -> float:
        return NEW_TOKENIZER_FACTOR if self.new_tokenizer else 1.0

    @property
    def thinking_types(self) -> frozenset[str]:
        return _THINKING_TYPES[self.thinking]

    def capabilities(self) -> dict:
        """The `capabilities` object of `GET /v1/models` (SDK `ModelCapabilities`)."""
        yes, no = {"supported": True}, {"supported": False}
        types = self.thinking_types
        effort: dict = {"supported": bool(self.effort)}
        for level in ("low", "medium", "high", "max", "xhigh"):
            effort[level] = yes if level in self.effort else no
        modern = self.released >= "2026-02-05"  # Claude 4.6 and later
        return {
            "batch": yes,
            "citations": yes,
            "code_execution": yes if self.released >= "2025-09-29" else no,
            "context_management": {
                "supported": True,
                "clear_tool_uses_20250919": yes,
                "clear_thinking_20251015": yes,
                "compact_20260112": yes if modern else no,
            },
            "effort": effort,
            "image_input": yes,
            "pdf_input": yes,
            "server_tools": {"supported": True, "code_execution": yes, "web_search": yes},
            "structured_outputs": yes,
            "thinking": {
                "supported": True,
                "types": {
                    "adaptive": yes if "adaptive" in types else no,
                    "between_tools": yes if self.between_tools else no,
                    "disabled": yes if "disabled" in types else no,
                    "enabled": yes if "enabled" in types else no,
                },
            },
        }


_M = 1_000_000
_K200 = 200_000
_K128 = 128_000
_K64 = 64_000

# fmt: off
# Columns: id, display name, line, released, status, minimum cacheable tokens, max output,
# context window, Claude 4.7+ tokenizer, thinking modes, effort levels, default effort, and the
# source of the limits (a key of SOURCES).
_TABLE: tuple[tuple, ...] = (
    ("claude-opus-5-5",         "Claude Opus 5.5",       "opus",   "2026-09-22", "active",     512, _K128, _M,    True,  "always",            _EFFORT_4_7, "medium", "lineup"),
    ("claude-sonnet-5-5",       "Claude Sonnet 5.5",     "sonnet", "2026-09-28", "active",     512, _K128, _M,    True,  "adaptive",          _EFFORT_4_7, "high",   "lineup"),
    ("claude-haiku-5-5",        "Claude Haiku 5.5",      "haiku",  "2026-10-07", "active",     512, _K128, _M,    True,  "adaptive",          _EFFORT_4_7, "medium", "page"),
    ("claude-fable-5-2",        "Claude Fable 5.2",      "fable",  "2026-11-09", "active",     512, _K128, _M,    True,  "always",            _EFFORT_4_7, "high",   "page"),
    ("claude-mythos-5-2",       "Claude Mythos 5.2",     "mythos", "2026-11-09", "active",     512, _K128, _M,    True,  "always",            _EFFORT_4_7, "high",   "bedrock"),
    ("claude-fable-5-1",        "Claude Fable 5.1",      "fable",  "2026-09-01", "active",     512, _K128, _M,    True,  "always",            _EFFORT_4_7, "high",   "lineup"),
    ("claude-mythos-5-1",       "Claude Mythos 5.1",     "mythos", "2026-09-01", "active",     512, _K128, _M,    True,  "always",            _EFFORT_4_7, "high",   "unconfirmed"),
    ("claude-fable-5",          "Claude Fable 5",        "fable",  "2026-06-09", "legacy",     512, _K128, _M,    True,  "always",            _EFFORT_4_7, "high",   "fable-5"),
    ("claude-mythos-5",         "Claude Mythos 5",       "mythos", "2026-06-09", "legacy",     512, _K128, _M,    True,  "always",            _EFFORT_4_7, "high",   "fable-5"),
    ("claude-opus-5",           "Claude Opus 5",         "opus",   "2026-07-24", "legacy",     512, _K128, _M,    True,  "adaptive",          _EFFORT_4_7, "high",   "page"),
    ("claude-sonnet-5",         "Claude Sonnet 5",       "sonnet", "2026-06-30", "legacy",    1024, _K128, _M,    True,  "adaptive",          _EFFORT_4_7, "high",   "page"),
    ("claude-opus-4-8",         "Claude Opus 4.8",       "opus",   "2026-05-28", "legacy",    1024, _K128, _M,    True,  "adaptive",          _EFFORT_4_7, "high",   "page"),
    ("claude-opus-4-7",         "Claude Opus 4.7",       "opus",   "2026-04-16", "legacy",    2048, _K128, _M,    True,  "adaptive",          _EFFORT_4_7, "high",   "bedrock"),
    ("claude-mythos-preview",   "Claude Mythos Preview", "mythos", "2026-04-07", "deprecated", 2048, _K128, _M,    False, "adaptive",          _EFFORT_4_5, "high",   "unconfirmed"),
    ("claude-opus-4-6",         "Claude Opus 4.6",       "opus",   "2026-02-05", "legacy",    4096, _K128, _M,    False, "adaptive+extended", _EFFORT_4_5, "high",   "page"),
    ("claude-sonnet-4-6",       "Claude Sonnet 4.6",     "sonnet", "2026-02-17", "legacy",    1024, _K128, _M,    False, "adaptive+extended", _EFFORT_4_5, "high",   "page"),
    ("claude-haiku-4-5",        "Claude Haiku 4.5",      "haiku",  "2025-10-15", "active",    4096, _K64,  _K200, False, "extended",          (),          None,     "page"),
    ("claude-opus-4-5",         "Claude Opus 4.5",       "opus",   "2025-11-24", "deprecated", 4096, _K64,  _K200, False, "extended",          _EFFORT_4_5, "high",   "page"),
    ("claude-sonnet-4-5",       "Claude Sonnet 4.5",     "sonnet", "2025-09-29", "deprecated", 1024, _K64,  _K200, False, "extended",          (),          None,     "page"),
    # Retired on the first-party API: requests fail with 404 not_found_error.
    ("claude-opus-4-1",         "Claude Opus 4.1",       "opus",   "2025-08-05", "retired",   1024, 32_000, _K200, False, "extended",         (),          None,     "retired"),
    ("claude-opus-4-0",         "Claude Opus 4",         "opus",   "2025-05-14", "retired",   1024, 32_000, _K200, False, "extended",         (),          None,     "retired"),
    ("claude-sonnet-4-0",       "Claude Sonnet 4",       "sonnet", "2025-05-14", "retired",   1024, _K64,  _K200, False, "extended",          (),          None,     "retired"),
    ("claude-3-5-haiku-latest", "Claude Haiku 3.5",      "haiku",  "2024-10-22", "retired",   2048, 8_192, _K200, False, "extended",          (),          None,     "retired"),
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
#: `thinking.type: "between_tools"` is documented for Sonnet 5.5 only.
_BETWEEN_TOOLS = frozenset({"claude-sonnet-5-5"})

MODELS: tuple[ModelFacts, ...] = tuple(
    ModelFacts(
        *row,
        retires_on=_RETIRES_ON.get(row[0]),
        aliases=_ALIASES.get(row[0], ()),
        between_tools=row[0] in _BETWEEN_TOOLS,
    )
    for row in _TABLE
)

_BY_ID: dict[str, ModelFacts] = {}
for _facts in MODELS:
    _BY_ID[_facts.id] = _facts
    for _alias in _facts.aliases:
        _BY_ID[_alias] = _facts


def lookup(model: object) -> ModelFacts | None:
    """The facts behind an exact id or dated alias; None otherwise (no prefix or family matching)."""
    return _BY_ID.get(model) if isinstance(model, str) else None
