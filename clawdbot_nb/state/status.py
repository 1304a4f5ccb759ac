"""`models status`: the gateway's report on models and auth, as an object, JSON, text and a table.

`build_status_report` is pure over the loaded config and store; `models_status(agent)` loads
them. The JSON keeps the gateway's schema (`auth.providers`, `auth.unusableProfiles`,
`auth.oauth.profiles` ...); secrets appear only masked (known prefix + last 4 characters).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clawdbot_nb import catalog
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.credentials import Credential, OAuthCredential, provider_of
from clawdbot_nb.state.durations import format_remaining
from clawdbot_nb.state.environment import EnvCredential
from clawdbot_nb.state.order import ProfileOrder
from clawdbot_nb.state.paths import display_path
from clawdbot_nb.state.selection import profile_order, unusable_summary
from clawdbot_nb.state.store import AuthStore

if TYPE_CHECKING:
    import pandas as pd

#: `DEFAULT_OAUTH_WARN_MS`: a token within a day of expiry is `expiring`.
WARN_AFTER_MS = 86_400_000
EXIT_OK, EXIT_EXPIRED_OR_MISSING, EXIT_EXPIRING = 0, 1, 2


@dataclass(frozen=True)
class ProfileHealth:
    """One profile's expiry verdict: ok | expiring | expired | missing | static."""

    profile_id: str
    provider: str
    type: str
    status: str
    expires_at: int | None
    remaining_ms: int | None
    label: str

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"profileId": self.profile_id, "provider": self.provider, "type": self.type}
        data["status"] = self.status
        if self.expires_at is not None:
            data["expiresAt"] = self.expires_at
            data["remainingMs"] = self.remaining_ms
        data.update(source="store", label=self.label)
        return data


def profile_health(profile_id: str, credential: Credential, now: int) -> ProfileHealth:
    expires = credential.expires
    if isinstance(credential, OAuthCredential) and expires is None:
        status = "missing"
    elif expires is None:
        status = "static"  # api keys, and setup-tokens stored without an expiry
    elif expires - now <= 0:
        status = "expired"
    elif expires - now <= WARN_AFTER_MS:
        status = "expiring"
    else:
        status = "ok"
    label = f"{profile_id} ({credential.email})" if credential.email else profile_id
    return ProfileHealth(
        profile_id,
        credential.provider,
        credential.type,
        status,
        expires,
        None if expires is None else expires - now,
        label,
    )


def provider_health(profiles: list[ProfileHealth]) -> str:
    expiring_kinds = [p for p in profiles if p.type in ("oauth", "token")]
    if not expiring_kinds:
        return "static"
    statuses = {p.status for p in expiring_kinds}
    if statuses & {"expired", "missing"}:
        return "expired"
    if "expiring" in statuses:
        return "expiring"
    return "ok"


@dataclass
class ProviderAuth:
    provider: str
    kind: str  # profiles | env | missing
    detail: str
    profile_ids: list[str]
    counts: dict[str, int]
    labels: list[str]
    env: EnvCredential | None = None

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
            data["env"] = {"value": self.env.masked, "source": self.env.source}
        return data


@dataclass(frozen=True)
class UnusableProfile:
    profile_id: str
    provider: str
    kind: str  # cooldown | disabled
    reason: str | None
    until: int
    remaining_ms: int

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"profileId": self.profile_id, "provider": self.provider, "kind": self.kind}
        if self.reason:
            data["reason"] = self.reason
        data.update(until=self.until, remainingMs=self.remaining_ms)
        return data


@dataclass
class StatusReport:
    agent_id: str
    config_path: str
    agent_dir: str
    store_path: str
    default_model: str
    resolved_default: str
    fallbacks: list[str]
    image_model: str | None
    image_fallbacks: list[str]
    aliases: dict[str, str]
    allowed: list[str]
    shell_env_enabled: bool
    providers: list[ProviderAuth]
    unusable: list[UnusableProfile]
    health: list[ProfileHealth]
    missing_providers_in_use: list[str]
    orders: dict[str, ProfileOrder]
    now_ms: int
    store: AuthStore = field(repr=False)

    # -- verdicts --------------------------------------------------------------------------------

    def check_exit_code(self) -> int:
        """`--check`: 1 for an expired or missing OAuth/token profile or a provider in use with
        no auth, 2 for one expiring within 24 h, else 0."""
        token_like = [h for h in self.health if h.type in ("oauth", "token")]
        if self.missing_providers_in_use or any(h.status in ("expired", "missing") for h in token_like):
            return EXIT_EXPIRED_OR_MISSING
        if any(h.status == "expiring" for h in token_like):
            return EXIT_EXPIRING
        return EXIT_OK

    # -- JSON --------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        with_tokens = {}
        for h in self.health:
            if h.type in ("oauth", "token"):
                with_tokens[h.provider] = with_tokens.get(h.provider, 0) + 1
        oauth_providers = []
        for provider in dict.fromkeys(h.provider for h in self.health):
            members = [h for h in self.health if h.provider == provider]
            timed = [h for h in members if h.expires_at is not None]
            entry: dict[str, Any] = {"provider": provider, "status": provider_health(members)}
            if timed:
                soonest = min(timed, key=lambda h: h.expires_at or 0)
                entry.update(expiresAt=soonest.expires_at, remainingMs=soonest.remaining_ms)
            entry["profiles"] = [h.to_json() for h in members]
            oauth_providers.append(entry)
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
            "auth": {
                "storePath": self.store_path,
                "shellEnvFallback": {"enabled": self.shell_env_enabled, "appliedKeys": []},
                "providersWithOAuth": [f"{p} ({n})" for p, n in with_tokens.items()],
                "missingProvidersInUse": self.missing_providers_in_use,
                "providers": [p.to_json() for p in self.providers],
                "unusableProfiles": [u.to_json() for u in self.unusable],
                "oauth": {
                    "warnAfterMs": WARN_AFTER_MS,
                    "profiles": [h.to_json() for h in self.health],
                    "providers": oauth_providers,
                },
            },
        }

    # -- text --------------------------------------------------------------------------------------

    def render(self) -> str:
        def listed(values: list[str] | dict[str, str]) -> str:
            if isinstance(values, dict):
                values = [f"{k} -> {v}" for k, v in values.items()]
            return ", ".join(values) if values else "-"

        lines = [
            f"Agent         : {self.agent_id}",
            f"Config        : {self.config_path}",
            f"Agent dir     : {self.agent_dir}",
            f"Default       : {self.resolved_default}",
            f"Fallbacks ({len(self.fallbacks)}) : {listed(self.fallbacks)}",
            f"Image model   : {self.image_model or '-'}",
            f"Image fallbacks ({len(self.image_fallbacks)}) : {listed(self.image_fallbacks)}",
            f"Aliases ({len(self.aliases)})   : {listed(self.aliases)}",
            f"Configured models ({len(self.allowed)}) : {listed(self.allowed)}",
            "",
            "Auth overview",
            f"Auth store    : {self.store_path}",
            f"Shell env     : {'on' if self.shell_env_enabled else 'off'}",
        ]
        token_providers = self.to_json()["auth"]["providersWithOAuth"]
        lines.append(f"Providers w/ OAuth/tokens ({len(token_providers)}) : {listed(token_providers)}")
        for p in self.providers:
            parts = [f"- {p.provider} effective={p.kind}:{p.detail}"]
            if p.profile_ids:
                parts.append(
                    f"profiles={len(p.profile_ids)} (oauth={p.counts.get('oauth', 0)}, "
                    f"token={p.counts.get('token', 0)}, api_key={p.counts.get('api_key', 0)})"
                )
                parts.append(", ".join(p.labels))
            if p.env is not None:
                parts.append(f"env={p.env.masked}")
                parts.append(f"source={p.env.source}")
            lines.append(" | ".join(parts))
            order = self.orders.get(p.provider)
            if order is not None and order.ordered:
                how = "explicit" if order.explicit else "round robin"
                lines.append(f"  order ({how}): {', '.join(order.ordered)}")
            if order is not None:
                for pid, why in order.skipped.items():
                    lines.append(f"  skipped {pid}: {why}")
        if self.missing_providers_in_use:
            lines += ["", "Missing auth"]
            for provider in self.missing_providers_in_use:
                flag = "" if self.agent_id == "main" else f" --agent {self.agent_id}"
                hint = (
                    "Run `claude setup-token`, then "
                    f"`clawdbot-nb models auth paste-token --provider anthropic{flag}`, "
                    f"or `clawdbot-nb onboard{flag}` with an API key."
                    if provider == "anthropic"
                    else "Add credentials for this provider."
                )
                lines.append(f"- {provider}: {hint}")
        if self.health:
            lines += ["", "OAuth/token status"]
            for provider in dict.fromkeys(h.provider for h in self.health):
                lines.append(f"- {provider}")
                for h in self.health:
                    if h.provider != provider:
                        continue
                    when = ""
                    if h.remaining_ms is not None:
                        when = (
                            f" expires in {format_remaining(h.remaining_ms)}"
                            if h.remaining_ms > 0
                            else f" {format_remaining(-h.remaining_ms)} ago"
                        )
                    lines.append(f"  - {h.label} {h.status}{when}")
        return "\n".join(lines)

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
        # Times are kept as epoch ms until here, so an all-missing column still gets its dtype.
        for name in ("expires", "last_used", "cooldown_until", "disabled_until"):
            frame[name] = pd.to_datetime(frame[name].astype("float64"), unit="ms", utc=True)
        frame["remaining"] = pd.to_timedelta(frame["remaining"].astype("float64"), unit="ms")
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


def _model_list(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def build_status_report(
    agent: AgentState,
    config: ClawdbotConfig,
    store: AuthStore,
    env_credentials: Mapping[str, EnvCredential | None],
    now: int,
) -> StatusReport:
    """The report for `agent` from already-loaded state (no I/O)."""
    defaults = (
        config.data.get("agents", {}).get("defaults", {})
        if isinstance(config.data.get("agents"), dict)
        else {}
    )
    model_section = defaults.get("model") if isinstance(defaults.get("model"), dict) else {}
    models_section = defaults.get("models") if isinstance(defaults.get("models"), dict) else {}
    image_section = defaults.get("imageModel") if isinstance(defaults.get("imageModel"), dict) else {}
    primary = config.primary_model or f"anthropic/{catalog.DEFAULT_MODEL}"
    resolved = primary if "/" in primary else f"anthropic/{primary}"
    fallbacks = _model_list(model_section.get("fallbacks"))
    aliases = {
        entry["alias"]: key
        for key, entry in models_section.items()
        if isinstance(entry, dict) and isinstance(entry.get("alias"), str)
    }
    env_section = config.data.get("env") if isinstance(config.data.get("env"), dict) else {}
    shell_env = env_section.get("shellEnv") if isinstance(env_section.get("shellEnv"), dict) else {}

    in_use = list(dict.fromkeys(m.split("/", 1)[0] for m in [resolved, *fallbacks] if "/" in m))
    with_profiles = [c.provider for c in store.profiles.values()]
    provider_names = list(dict.fromkeys([*in_use, *with_profiles]))

    providers: list[ProviderAuth] = []
    orders: dict[str, ProfileOrder] = {}
    missing: list[str] = []
    for provider in provider_names:
        ids = store.profile_ids(provider)
        order = profile_order(store, config, provider, now)
        orders[provider] = order
        counts: dict[str, int] = {}
        labels = []
        for pid in ids:
            cred = store.profiles[pid]
            counts[cred.type] = counts.get(cred.type, 0) + 1
            kind = "" if cred.type == "api_key" else f"{cred.type}:"
            label = f"{pid}={kind}{cred.masked}"
            if pid in order.cooling:
                stats = store.stats(pid)
                state = stats.unusable_kind(now)
                remaining = format_remaining((stats.unusable_until() or now) - now)
                label += (
                    f" [disabled:{stats.disabled_reason or 'billing'} {remaining}]"
                    if state == "disabled"
                    else f" [cooldown {remaining}]"
                )
            labels.append(label)
        env = env_credentials.get(provider)
        if ids:
            kind, detail = "profiles", display_path(store.path) if store.path else "memory"
        elif env is not None:
            kind, detail = "env", env.source
        else:
            kind, detail = "missing", "no profile and no environment variable"
            if provider in in_use:
                missing.append(provider)
        providers.append(ProviderAuth(provider, kind, detail, ids, counts, labels, env))

    unusable = []
    for pid, cred in store.profiles.items():
        stats = store.stats(pid)
        state = stats.unusable_kind(now)
        if state is None:
            continue
        until = stats.unusable_until() or now
        unusable.append(
            UnusableProfile(pid, cred.provider, state, stats.unusable_reason(now), until, until - now)
        )
    unusable.sort(key=lambda u: u.remaining_ms)

    health = [profile_health(pid, cred, now) for pid, cred in store.profiles.items()]
    return StatusReport(
        agent_id=agent.agent_id,
        config_path=display_path(config.path),
        agent_dir=display_path(agent.agent_dir),
        store_path=display_path(store.path) if store.path else "",
        default_model=primary,
        resolved_default=resolved,
        fallbacks=fallbacks,
        image_model=image_section.get("primary") if isinstance(image_section.get("primary"), str) else None,
        image_fallbacks=_model_list(image_section.get("fallbacks")),
        aliases=aliases,
        allowed=list(models_section),
        shell_env_enabled=bool(shell_env.get("enabled")),
        providers=providers,
        unusable=unusable,
        health=health,
        missing_providers_in_use=missing,
        orders=orders,
        now_ms=now,
        store=store,
    )


def models_status(agent: str | AgentState | None = None, *, now: int | None = None) -> StatusReport:
    """Load the agent's config and store (syncing an opted-in Claude CLI profile) and report."""
    state = agent if isinstance(agent, AgentState) else AgentState.resolve(agent)
    config = state.config()
    store = state.load_store(config=config)
    providers = {c.provider for c in store.profiles.values()} | {"anthropic"}
    env = {p: state.env_credential(p, config) for p in providers}
    return build_status_report(state, config, store, env, now_ms() if now is None else now)
