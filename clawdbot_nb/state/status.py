"""`models status`: the gateway's report on models and auth, as JSON, text and a table.

`build_status_report` is pure over the loaded config and store; `models_status(agent)` loads
them. For any state both can read, the JSON carries every field of the gateway's document
with the same value (paths absolute, lists in its order), except that secrets are masked our
way (known prefix + last 4 characters, `state.redaction`) where the gateway shows 8 + 8.
What clawdbot-nb adds is under the one extra key `clawdbotNb`, and printed after the
gateway's lines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clawdbot_nb import catalog
from clawdbot_nb.errors import command
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.credentials import Credential, OAuthCredential, TokenCredential, provider_of
from clawdbot_nb.state.durations import format_remaining
from clawdbot_nb.state.environment import ENV_PROBE_PROVIDERS, PROVIDER_ENV_VARS, EnvCredential
from clawdbot_nb.state.model_refs import (
    ModelRef,
    alias_index,
    normalize_provider_id,
    parse_model_ref,
    resolve_default_model,
    resolve_model_ref,
)
from clawdbot_nb.state.order import ProfileOrder
from clawdbot_nb.state.paths import display_path
from clawdbot_nb.state.redaction import mask_secret
from clawdbot_nb.state.selection import profile_order, unusable_summary
from clawdbot_nb.state.store import AuthStore

if TYPE_CHECKING:
    import pandas as pd

#: `DEFAULT_OAUTH_WARN_MS`: a token within a day of expiry is `expiring`.
WARN_AFTER_MS = 86_400_000
EXIT_OK, EXIT_EXPIRED_OR_MISSING, EXIT_EXPIRING = 0, 1, 2
#: Profiles the gateway labels with where they came from (`source`) instead of `store`.
_EXTERNAL_SOURCES = {"anthropic:claude-cli": "claude-cli", "openai-codex:codex-cli": "codex-cli"}
#: The order in which the gateway's `localeCompare` (ICU root collation) sorts ASCII characters.
_COLLATION = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY = {char: index for index, char in enumerate(_COLLATION)}
#: Pandas keeps times as nanoseconds since 1970: about ±292 years.
_PANDAS_LIMIT_MS = 9_000_000_000_000


def collation_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Sort like JavaScript's `localeCompare`: punctuation, digits, then letters with case
    ignored; case decides only between otherwise equal strings (lowercase first)."""
    primary = tuple(_PRIMARY.get(char.lower(), 1000 + ord(char)) for char in text)
    tertiary = tuple(1 if char.isupper() else 0 for char in text)
    return primary, tertiary


def _shorten(path: str) -> str:
    """The path with the home dir as `~`, as the gateway prints paths in its text output."""
    from pathlib import Path

    return display_path(Path(path))


def _finite_positive(value: object) -> bool:
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    )


# -- per profile ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileHealth:
    """One profile's expiry verdict (`auth.oauth.profiles[]`): ok | expiring | expired | missing
    | static."""

    profile_id: str
    provider: str
    type: str
    status: str
    expires_at: int | None
    remaining_ms: int | None
    source: str
    label: str

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"profileId": self.profile_id, "provider": self.provider, "type": self.type}
        data["status"] = self.status
        if self.expires_at is not None:
            data["expiresAt"] = self.expires_at
        if self.remaining_ms is not None:
            data["remainingMs"] = self.remaining_ms
        data.update(source=self.source, label=self.label)
        return data


def display_label(profile_id: str, credential: Credential, config: ClawdbotConfig) -> str:
    """`anthropic:work (me@example.com)`: the config's email first, then the stored one."""
    meta = config.auth_profiles.get(profile_id)
    email = (meta.email or "").strip() if meta else ""
    email = email or (credential.email or "").strip()
    return f"{profile_id} ({email})" if email else profile_id


def profile_health(
    profile_id: str, credential: Credential, now: int, label: str | None = None
) -> ProfileHealth:
    """The gateway's `buildProfileHealth`."""
    source = _EXTERNAL_SOURCES.get(profile_id, "store")
    label = label or profile_id

    def health(status: str, expires_at: int | None = None, remaining: int | None = None) -> ProfileHealth:
        return ProfileHealth(
            profile_id, credential.provider, credential.type, status, expires_at, remaining, source, label
        )

    expires = credential.expires
    if isinstance(credential, OAuthCredential):
        if not _finite_positive(expires):
            return health("missing", expires)
    elif isinstance(credential, TokenCredential):
        if not _finite_positive(expires):
            return health("static")
    else:
        return health("static")
    assert expires is not None
    remaining = expires - now
    if remaining <= 0:
        return health("expired", expires, remaining)
    return health("expiring" if remaining <= WARN_AFTER_MS else "ok", expires, remaining)


def provider_health(provider: str, profiles: Sequence[ProfileHealth], now: int) -> dict[str, Any]:
    """`auth.oauth.providers[]`: the worst verdict of the provider's expiring profiles."""
    entry: dict[str, Any] = {
        "provider": provider,
        "status": "missing",
        "profiles": [p.to_json() for p in profiles],
    }
    expirable = [p for p in profiles if p.type in ("oauth", "token")]
    if not profiles:
        return entry
    if not expirable:
        entry["status"] = "static" if any(p.type == "api_key" for p in profiles) else "missing"
        return entry
    expiries = [p.expires_at for p in expirable if p.expires_at is not None]
    if expiries:
        entry["expiresAt"] = min(expiries)
        entry["remainingMs"] = entry["expiresAt"] - now
    statuses = {p.status for p in expirable}
    if statuses & {"expired", "missing"}:
        entry["status"] = "expired"
    elif "expiring" in statuses:
        entry["status"] = "expiring"
    else:
        entry["status"] = "ok"
    return entry


# -- per provider ---------------------------------------------------------------------------------


@dataclass
class ProviderAuth:
    """`auth.providers[]`: where a provider's auth comes from, and its profiles' labels."""

    provider: str
    kind: str  # profiles | env | models.json
    detail: str
    profile_ids: list[str]
    counts: dict[str, int]
    labels: list[str]
    env: EnvCredential | None = None
    models_json: tuple[str, str] | None = None  # (masked key, source)

    @property
    def oauth_like_env(self) -> bool:
        return self.env is not None and self.env.mode == "oauth"

    @property
    def env_value(self) -> str | None:
        if self.env is None:
            return None
        return "OAuth (env)" if self.oauth_like_env else self.env.masked

    @property
    def env_source(self) -> str | None:
        # The gateway reads `.env` and the config's `env` into its process environment first,
        # so every source is `env: NAME` to it (ours says which one under clawdbotNb).
        return f"env: {self.env.variable}" if self.env is not None else None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "provider": self.provider,
            "effective": {"kind": self.kind, "detail": self.detail},
            "profiles": {
                "count": len(self.profile_ids),
                "oauth": self.counts.get("oauth", 0),
                "token": self.counts.get("token", 0),
                "apiKey": self.counts.get("api_key", 0),
                "labels": self.labels,
            },
        }
        if self.env is not None:
            data["env"] = {"value": self.env_value, "source": self.env_source}
        if self.models_json is not None:
            data["modelsJson"] = {"value": self.models_json[0], "source": self.models_json[1]}
        return data

    def line(self) -> str:
        bits = [f"effective={self.kind}:{self.detail}"]
        if self.profile_ids:
            bits.append(
                f"profiles={len(self.profile_ids)} (oauth={self.counts.get('oauth', 0)}, "
                f"token={self.counts.get('token', 0)}, api_key={self.counts.get('api_key', 0)})"
            )
            if self.labels:
                bits.append(", ".join(self.labels))
        if self.env is not None:
            bits.append(f"env={self.env_value} | source={self.env_source}")
        if self.models_json is not None:
            bits.append(f"models.json={self.models_json[0]} | source={self.models_json[1]}")
        return f"- {self.provider} " + " | ".join(bits)


@dataclass(frozen=True)
class UnusableProfile:
    """`auth.unusableProfiles[]`: a profile in cooldown or disabled right now."""

    profile_id: str
    provider: str | None
    kind: str  # cooldown | disabled
    reason: str | None
    until: int
    remaining_ms: int

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"profileId": self.profile_id}
        if self.provider is not None:
            data["provider"] = self.provider
        data["kind"] = self.kind
        if self.reason is not None:
            data["reason"] = self.reason
        data.update(until=self.until, remainingMs=self.remaining_ms)
        return data


def _unusable(raw_stats: object, now: int) -> tuple[str, int, str | None] | None:
    """(kind, until, disabledReason) for one `usageStats` entry while it blocks the profile."""
    if not isinstance(raw_stats, Mapping):
        return None
    ends = [raw_stats.get(key) for key in ("cooldownUntil", "disabledUntil")]
    valid = [int(end) for end in ends if _finite_positive(end)]
    if not valid or now >= max(valid):
        return None
    disabled_until = raw_stats.get("disabledUntil")
    disabled = _finite_positive(disabled_until) and now < disabled_until  # type: ignore[operator]
    reason = raw_stats.get("disabledReason")
    return ("disabled" if disabled else "cooldown", max(valid), reason if isinstance(reason, str) else None)


def _label_suffix(raw_stats: object, now: int) -> str:
    """` [cooldown 4m]` or ` [disabled:billing 5h]` while the profile is blocked."""
    blocked = _unusable(raw_stats, now)
    if blocked is None:
        return ""
    kind, until, reason = blocked
    if kind == "disabled" and reason:
        kind = f"disabled:{reason}"
    return f" [{kind} {format_remaining(until - now)}]"


# -- probes (filled by api.probe: the state layer never sends a request) ---------------------------


@dataclass(frozen=True)
class ProbeResult:
    """One `auth.probes.results[]` entry."""

    provider: str
    label: str
    source: str  # profile | env | models.json
    status: str  # ok | auth | rate_limit | billing | timeout | format | unknown | no_model
    model: str | None = None
    profile_id: str | None = None
    mode: str | None = None
    error: str | None = None
    latency_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"provider": self.provider}
        if self.model is not None:
            data["model"] = self.model
        if self.profile_id is not None:
            data["profileId"] = self.profile_id
        data.update(label=self.label, source=self.source)
        if self.mode is not None:
            data["mode"] = self.mode
        data["status"] = self.status
        if self.error is not None:
            data["error"] = self.error
        if self.latency_ms is not None:
            data["latencyMs"] = self.latency_ms
        return data


@dataclass(frozen=True)
class ProbeSummary:
    """`auth.probes`: what `models status --probe` asked and found."""

    started_at: int
    finished_at: int
    total_targets: int
    options: dict[str, Any]
    results: list[ProbeResult]

    def to_json(self) -> dict[str, Any]:
        return {
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "durationMs": self.finished_at - self.started_at,
            "totalTargets": self.total_targets,
            "options": self.options,
            "results": [r.to_json() for r in self.results],
        }

    def render(self, width: int | None = None) -> list[str]:
        """The gateway's "Auth probes" section: a boxed Model / Profile / Status table."""
        lines = ["", "Auth probes"]
        if not self.results:
            return [*lines, "- none"]
        if width is None:
            import shutil

            width = max(60, shutil.get_terminal_size((120, 24)).columns - 1)
        ordered = sorted(
            self.results,
            key=lambda r: (collation_key(r.provider), collation_key(r.label or r.profile_id or "")),
        )
        rows = []
        for result in ordered:
            latency = "-" if result.latency_ms is None else format_ms(result.latency_ms)
            profile = result.label + (f" ({result.mode})" if result.mode else "")
            status = f"{result.status} · {latency}" + (f"\n↳ {result.error.strip()}" if result.error else "")
            rows.append((result.model or f"{result.provider}/-", profile, status))
        lines += box_table(("Model", "Profile", "Status"), rows, min_widths=(18, 24, 12), width=width)
        if self.total_targets == 0:
            lines.append("No probe targets.")
        else:
            count = self.total_targets
            duration = format_ms(self.finished_at - self.started_at)
            lines.append(f"Probed {count} target{'' if count == 1 else 's'} in {duration}")
        return lines


def format_ms(ms: float) -> str:
    """The gateway's `formatMs`: `830ms`, `1.2s`, `6s`."""
    if ms < 1000:
        return f"{math.floor(ms + 0.5)}ms"
    return f"{math.floor(ms / 100 + 0.5) / 10:g}s"


def box_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, min_widths: Sequence[int], width: int
) -> list[str]:
    """A table drawn with box characters, like the gateway's; the last column wraps so the whole
    table fits in `width` columns (cells may hold several lines)."""
    import textwrap

    columns = len(headers)
    sizes = [
        max([min_widths[i], len(headers[i])] + [len(part) for row in rows for part in row[i].split("\n")])
        for i in range(columns)
    ]
    fixed = sum(sizes[:-1]) + 3 * columns + 1
    sizes[-1] = max(min_widths[-1], min(sizes[-1], width - fixed))

    def cell_lines(text: str, size: int) -> list[str]:
        out: list[str] = []
        for part in text.split("\n"):
            out += textwrap.wrap(part, size, break_on_hyphens=False) or [""]
        return out

    def draw(cells: Sequence[str]) -> list[str]:
        split = [cell_lines(cell, sizes[i]) for i, cell in enumerate(cells)]
        height = max(len(parts) for parts in split)
        return [
            "│ "
            + " │ ".join((split[i][n] if n < len(split[i]) else "").ljust(sizes[i]) for i in range(columns))
            + " │"
            for n in range(height)
        ]

    def rule(left: str, middle: str, right: str) -> str:
        return left + middle.join("─" * (size + 2) for size in sizes) + right

    lines = [rule("┌", "┬", "┐"), *draw(headers), rule("├", "┼", "┤")]
    for row in rows:
        lines += draw(row)
    return [*lines, rule("└", "┴", "┘")]


# -- the report -----------------------------------------------------------------------------------


@dataclass
class StatusReport:
    agent_id: str
    is_default_agent: bool
    config_path: str
    agent_dir: str
    store_path: str
    default_model: str
    resolved_default: str
    fallbacks: list[Any]
    image_model: str | None
    image_fallbacks: list[Any]
    aliases: dict[str, str]
    allowed: list[str]
    shell_env_enabled: bool
    providers: list[ProviderAuth]
    unusable: list[UnusableProfile]
    health: list[ProfileHealth]
    health_providers: list[str]
    missing_providers_in_use: list[str]
    orders: dict[str, ProfileOrder]
    model_candidates: list[ModelRef]
    ask_model: str
    now_ms: int
    store: AuthStore = field(repr=False)
    env_sources: dict[str, str] = field(default_factory=dict)
    probes: ProbeSummary | None = None

    # -- verdicts --------------------------------------------------------------------------------

    @property
    def token_profiles(self) -> list[ProfileHealth]:
        return [h for h in self.health if h.type in ("oauth", "token")]

    def check_exit_code(self) -> int:
        """`--check`: 1 for an expired or missing OAuth/token profile or a provider in use with
        no auth, 2 for one expiring within 24 h, else 0."""
        token_like = self.token_profiles
        if self.missing_providers_in_use or any(h.status in ("expired", "missing") for h in token_like):
            return EXIT_EXPIRED_OR_MISSING
        if any(h.status == "expiring" for h in token_like):
            return EXIT_EXPIRING
        return EXIT_OK

    def env_credential_of(self, provider: str) -> EnvCredential | None:
        return next((p.env for p in self.providers if p.provider == provider), None)

    @property
    def providers_with_oauth(self) -> list[str]:
        listed = []
        for p in self.providers:
            count = p.counts.get("oauth", 0) + p.counts.get("token", 0) + (1 if p.oauth_like_env else 0)
            if count:
                listed.append(f"{p.provider} ({count})")
        return listed

    # -- JSON --------------------------------------------------------------------------------------

    def gateway_json(self) -> dict[str, Any]:
        """The gateway's document (`clawdbot models status --json`) for this state."""
        by_provider: dict[str, list[ProfileHealth]] = {}
        for h in self.health:
            by_provider.setdefault(h.provider, []).append(h)
        oauth_providers = [
            provider_health(name, by_provider.get(name, []), self.now_ms)
            for name in sorted({*by_provider, *self.health_providers}, key=collation_key)
        ]
        auth: dict[str, Any] = {
            "storePath": self.store_path,
            "shellEnvFallback": {"enabled": self.shell_env_enabled, "appliedKeys": []},
            "providersWithOAuth": self.providers_with_oauth,
            "missingProvidersInUse": self.missing_providers_in_use,
            "providers": [p.to_json() for p in self.providers],
            "unusableProfiles": [u.to_json() for u in self.unusable],
            "oauth": {
                "warnAfterMs": WARN_AFTER_MS,
                "profiles": [h.to_json() for h in self.health],
                "providers": oauth_providers,
            },
        }
        if self.probes is not None:
            auth["probes"] = self.probes.to_json()
        return {
            "configPath": self.config_path,
            "agentDir": self.agent_dir,
            "defaultModel": self.default_model,
            "resolvedDefault": self.resolved_default,
            "fallbacks": self.fallbacks,
            "imageModel": self.image_model,
            "imageFallbacks": self.image_fallbacks,
            "aliases": self.aliases,
            "allowed": self.allowed,
            "auth": auth,
        }

    def extras_json(self) -> dict[str, Any]:
        """What clawdbot-nb adds: the agent, the model `ask` uses, each provider's order."""
        return {
            "agentId": self.agent_id,
            "askModel": self.ask_model,
            "order": {
                provider: {
                    "explicit": order.explicit,
                    "profiles": order.ordered,
                    "cooling": [pid for pid in order.ordered if pid in order.cooling],
                    "skipped": order.skipped,
                }
                for provider, order in self.orders.items()
            },
            "envSources": self.env_sources,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.gateway_json(), "clawdbotNb": self.extras_json()}

    # -- text --------------------------------------------------------------------------------------

    def gateway_lines(self) -> list[str]:
        """The gateway's human output for this state, line for line (no colour)."""

        def row(label: str, value: str) -> str:
            return f"{label.ljust(14)}: {value}"

        shown_default = (
            f"{self.resolved_default} (from {self.default_model})"
            if self.default_model != self.resolved_default
            else self.resolved_default
        )
        aliases = ", ".join(f"{alias} -> {target}" for alias, target in self.aliases.items())
        with_tokens = self.providers_with_oauth
        lines = [
            row("Config", _shorten(self.config_path)),
            row("Agent dir", _shorten(self.agent_dir)),
            row("Default", shown_default),
            row(f"Fallbacks ({len(self.fallbacks)})", ", ".join(map(str, self.fallbacks)) or "-"),
            row("Image model", self.image_model or "-"),
            row(
                f"Image fallbacks ({len(self.image_fallbacks)})",
                ", ".join(map(str, self.image_fallbacks)) or "-",
            ),
            row(f"Aliases ({len(self.aliases)})", aliases or "-"),
            row(f"Configured models ({len(self.allowed)})", ", ".join(self.allowed) or "all"),
            "",
            "Auth overview",
            row("Auth store", _shorten(self.store_path)),
            row("Shell env", "on" if self.shell_env_enabled else "off"),
            row(f"Providers w/ OAuth/tokens ({len(with_tokens)})", ", ".join(with_tokens) or "-"),
        ]
        lines += [p.line() for p in self.providers]
        if self.missing_providers_in_use:
            lines += ["", "Missing auth"]
            flag = "" if self.is_default_agent else f" --agent {self.agent_id}"
            paste_token = command("models auth paste-token --provider anthropic")
            for provider in self.missing_providers_in_use:
                hint = (
                    f"Run `claude setup-token`, then `{paste_token}{flag}`, or "
                    f"`{command('onboard')}{flag}` with an API key."
                    if provider == "anthropic"
                    else "Run `clawdbot configure` or set an API key env var."
                )
                lines.append(f"- {provider} {hint}")
        lines += ["", "OAuth/token status"]
        token_profiles = self.token_profiles
        if not token_profiles:
            lines.append("- none")
        for provider in dict.fromkeys(h.provider for h in token_profiles):
            lines.append(f"- {provider}")
            for h in token_profiles:
                if h.provider != provider:
                    continue
                status = "unknown" if h.status == "missing" else h.status
                if h.status == "static":
                    expiry = ""
                elif h.expires_at:  # a negative stamp is set too; its remaining time is unknown
                    remaining = "unknown" if h.remaining_ms is None else format_remaining(h.remaining_ms)
                    expiry = f" expires in {remaining}"
                else:
                    expiry = " expires unknown"
                source = f" ({h.source})" if h.source != "store" else ""
                lines.append(f"  - {h.label} {status}{expiry}{source}")
        if self.probes is not None:
            lines += self.probes.render()
        return lines

    def extra_lines(self) -> list[str]:
        """clawdbot-nb's own lines, after the gateway's: agent, model for `ask`, order, problems."""
        lines = ["", "clawdbot-nb", f"{'Agent'.ljust(14)}: {self.agent_id}"]
        note = (
            "" if self.ask_model == self.resolved_default else " (no model configured; clawdbot-nb's default)"
        )
        lines.append(f"{'Ask model'.ljust(14)}: {self.ask_model}{note}")
        for provider, order in self.orders.items():
            if order.ordered:
                how = "explicit" if order.explicit else "round robin"
                lines.append(f"{provider} order ({how}): {', '.join(order.ordered)}")
            for pid, why in order.skipped.items():
                lines.append(f"  skipped {pid}: {why}")
        for h in self.token_profiles:
            if h.status == "expired" and h.remaining_ms is not None:
                lines.append(f"  {h.profile_id} expired {format_remaining(-h.remaining_ms)} ago")
        for pid, parsed in self.store.parsed_profiles().items():
            if parsed.credential is None:
                lines.append(f"  ignored {pid}: {'; '.join(parsed.problems)}")
        return lines

    def render(self) -> str:
        return "\n".join([*self.gateway_lines(), *self.extra_lines()])

    def __str__(self) -> str:
        return self.render()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.render())

    # -- table -------------------------------------------------------------------------------------

    def profiles_frame(self) -> pd.DataFrame:
        """One row per profile: type, masked secret, verdict, expiry, usage and cooldown."""
        import pandas as pd

        health = {h.profile_id: h for h in self.health}
        positions = {pid: i + 1 for order in self.orders.values() for i, pid in enumerate(order.ordered)}
        skipped = {pid: why for order in self.orders.values() for pid, why in order.skipped.items()}
        cooling = {pid for order in self.orders.values() for pid in order.cooling}
        rows = []
        for pid, parsed in self.store.parsed_profiles().items():
            cred = parsed.credential
            stats = self.store.stats(pid)
            h = health.get(pid)
            problem = skipped.get(pid) or ("; ".join(parsed.problems) if parsed.problems else None)
            if pid in cooling:
                problem = unusable_summary(self.store, pid, self.now_ms)
            rows.append(
                {
                    "profile_id": pid,
                    "provider": cred.provider if cred else provider_of(pid),
                    "type": cred.type if cred else None,
                    "secret": cred.masked if cred else None,
                    "status": h.status if h else "invalid",
                    "usable": pid in positions and pid not in cooling,
                    "unusable_reason": problem,
                    "expires": cred.expires if cred else None,
                    "remaining": h.remaining_ms if h else None,
                    "last_used": stats.last_used,
                    "error_count": stats.error_count,
                    "failure_counts": ", ".join(f"{k}={v}" for k, v in (stats.failure_counts or {}).items())
                    or None,
                    "cooldown_until": stats.cooldown_until,
                    "disabled_until": stats.disabled_until,
                    "order_position": positions.get(pid),
                    "email": cred.email if cred else None,
                }
            )
        columns = [
            "profile_id", "provider", "type", "secret", "status", "usable", "unusable_reason", "expires",
            "remaining", "last_used", "error_count", "failure_counts", "cooldown_until", "disabled_until",
            "order_position", "email",
        ]  # fmt: skip
        frame = pd.DataFrame(rows, columns=columns)

        def representable(series: pd.Series) -> pd.Series:
            # Times beyond pandas' ±292 years (a token "expiring" in year 30000) show as NaT.
            values = series.astype("float64")
            return values.where(values.abs() < _PANDAS_LIMIT_MS)

        # Times are kept as epoch ms until here, so an all-missing column still gets its dtype.
        for name in ("expires", "last_used", "cooldown_until", "disabled_until"):
            frame[name] = pd.to_datetime(representable(frame[name]), unit="ms", utc=True)
        frame["remaining"] = pd.to_timedelta(representable(frame["remaining"]), unit="ms")
        for name in ("error_count", "order_position"):
            frame[name] = frame[name].astype("Int64")
        frame["usable"] = frame["usable"].astype(bool)
        for name in (
            "profile_id",
            "provider",
            "type",
            "secret",
            "status",
            "unusable_reason",
            "failure_counts",
            "email",
        ):
            frame[name] = frame[name].astype("string")
        return frame.set_index("profile_id")


def _section(node: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _models_json_key(config: ClawdbotConfig, provider: str) -> str | None:
    """`models.providers[provider].apiKey` of the config (the gateway's custom provider key)."""
    providers = _section(config.data, "models", "providers")
    entry = providers.get(provider)
    if entry is None:
        entry = next((v for k, v in providers.items() if normalize_provider_id(k) == provider), None)
    key = entry.get("apiKey") if isinstance(entry, dict) else None
    return key.strip() if isinstance(key, str) and key.strip() else None


def build_status_report(
    agent: AgentState,
    config: ClawdbotConfig,
    store: AuthStore,
    env_credentials: Mapping[str, EnvCredential | None],
    now: int,
    *,
    shell_env_requested: bool = False,
) -> StatusReport:
    """The report for `agent` from already-loaded state (no I/O).

    `env_credentials` holds the environment credential (or None) of every provider that may
    appear: those of `ENV_PROBE_PROVIDERS` and those with stored profiles.
    """
    import os

    defaults = _section(config.data, "agents", "defaults")
    model_config = defaults.get("model")
    image_config = defaults.get("imageModel")
    models_section = _section(defaults, "models")
    if isinstance(model_config, str):
        raw_model = model_config.strip()
    else:
        primary = model_config.get("primary") if isinstance(model_config, dict) else None
        raw_model = primary.strip() if isinstance(primary, str) else ""
    aliases_by_key = alias_index(models_section)
    resolved = str(resolve_default_model(raw_model, aliases_by_key))
    default_label = raw_model or resolved
    fallbacks = _list(model_config.get("fallbacks")) if isinstance(model_config, dict) else []
    if isinstance(image_config, str):
        image_model = image_config.strip()
    else:
        primary = image_config.get("primary") if isinstance(image_config, dict) else None
        image_model = primary.strip() if isinstance(primary, str) else ""
    image_fallbacks = _list(image_config.get("fallbacks")) if isinstance(image_config, dict) else []
    aliases = {
        entry["alias"].strip(): key
        for key, entry in models_section.items()
        if isinstance(entry, dict) and isinstance(entry.get("alias"), str) and entry["alias"].strip()
    }
    allowed = list(models_section)

    from_models = {
        ref.provider
        for raw in [default_label, *fallbacks, image_model, *image_fallbacks, *allowed]
        if (ref := parse_model_ref(raw)) is not None
    }
    in_use = {
        ref.provider
        for raw in [default_label, *fallbacks, image_model, *image_fallbacks]
        if (ref := parse_model_ref(raw)) is not None
    }
    from_store = {cred.provider for cred in store.profiles.values()}
    from_config = {k.strip() for k in _section(config.data, "models", "providers") if k.strip()}
    from_env = {p for p in ENV_PROBE_PROVIDERS if env_credentials.get(p) is not None}
    provider_names = sorted(from_store | from_config | from_models | from_env, key=collation_key)

    store_path = os.path.abspath(store.path) if store.path else os.path.abspath(agent.agent_dir)
    raw_stats = store.data.get("usageStats") if isinstance(store.data.get("usageStats"), dict) else {}
    providers: list[ProviderAuth] = []
    orders: dict[str, ProfileOrder] = {}
    env_sources: dict[str, str] = {}
    for provider in provider_names:
        ids = store.profile_ids(provider)
        orders[provider] = profile_order(store, config, provider, now)
        counts: dict[str, int] = {}
        labels = []
        for pid in ids:
            cred = store.profiles[pid]
            counts[cred.type] = counts.get(cred.type, 0) + 1
            if cred.type == "oauth":
                shown = display_label(pid, cred, config)
                label = f"{pid}=OAuth" + (f" {shown[len(pid) :].strip()}" if shown != pid else "")
            else:
                label = f"{pid}={'token:' if cred.type == 'token' else ''}{mask_secret(cred.secret)}"
            labels.append(label + _label_suffix(raw_stats.get(pid), now))
        env = env_credentials.get(provider)
        custom_key = _models_json_key(config, provider)
        models_json = None
        if custom_key is not None:
            models_json = (
                mask_secret(custom_key),
                f"models.json: {_shorten(str(agent.agent_dir / 'models.json'))}",
            )
        if env is not None:
            env_sources[provider] = env.source
        if ids:
            kind, detail = "profiles", _shorten(store_path)
        elif env is not None:
            kind, detail = "env", "OAuth (env)" if env.mode == "oauth" else env.masked
        elif models_json is not None:
            kind, detail = "models.json", models_json[0]
        else:
            continue  # no auth at all: listed only in auth.oauth.providers (and missing, if in use)
        providers.append(ProviderAuth(provider, kind, detail, ids, counts, labels, env, models_json))

    with_auth = {p.provider for p in providers}
    missing = sorted((p for p in in_use if p not in with_auth), key=collation_key)

    unusable = []
    for pid, entry in raw_stats.items():
        blocked = _unusable(entry, now)
        if blocked is None:
            continue
        kind, until, reason = blocked
        cred = store.profiles.get(pid)
        unusable.append(
            UnusableProfile(pid, cred.provider if cred else None, kind, reason, until, until - now)
        )
    unusable.sort(key=lambda u: u.remaining_ms)

    health = sorted(
        (
            profile_health(pid, cred, now, display_label(pid, cred, config))
            for pid, cred in store.profiles.items()
            if cred.provider in provider_names
        ),
        key=lambda h: (collation_key(h.provider), collation_key(h.profile_id)),
    )

    candidates = [
        ref
        for raw in [raw_model or resolved, *fallbacks, image_model, *image_fallbacks, *allowed]
        if (ref := resolve_model_ref(raw, aliases_by_key)) is not None
    ]
    ask_model = config.primary_model or f"anthropic/{catalog.DEFAULT_MODEL}"
    if "/" not in ask_model:
        ask_model = f"anthropic/{ask_model}"
    shell_env = _section(config.data, "env", "shellEnv")
    return StatusReport(
        agent_id=agent.agent_id,
        is_default_agent=agent.is_default,
        config_path=os.path.abspath(config.path),
        agent_dir=os.path.abspath(agent.agent_dir),
        store_path=store_path,
        default_model=default_label,
        resolved_default=resolved,
        fallbacks=fallbacks,
        image_model=image_model or None,
        image_fallbacks=image_fallbacks,
        aliases=aliases,
        allowed=allowed,
        shell_env_enabled=shell_env_requested or shell_env.get("enabled") is True,
        providers=providers,
        unusable=unusable,
        health=health,
        health_providers=provider_names,
        missing_providers_in_use=missing,
        orders=orders,
        model_candidates=candidates,
        ask_model=ask_model,
        now_ms=now,
        store=store,
        env_sources=env_sources,
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def models_status(agent: str | AgentState | None = None, *, now: int | None = None) -> StatusReport:
    """Load the agent's config and store (syncing an opted-in Claude CLI profile) and report."""
    import os

    state = agent if isinstance(agent, AgentState) else AgentState.resolve(agent)
    config = state.config()
    store = state.load_store(config=config)
    providers = {c.provider for c in store.profiles.values()} | set(PROVIDER_ENV_VARS)
    env = {p: state.env_credential(p, config) for p in providers}
    return build_status_report(
        state,
        config,
        store,
        env,
        now_ms() if now is None else now,
        shell_env_requested=_truthy(os.environ.get("CLAWDBOT_LOAD_SHELL_ENV")),
    )
