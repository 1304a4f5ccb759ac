"""Which credentials a request may use, in order, or the troubleshooting error that says why none.

Profiles in the agent's order come first; the environment (`ANTHROPIC_OAUTH_TOKEN`, then
`ANTHROPIC_API_KEY`) is used only when the agent has no profile for the provider at all,
as in the gateway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.credentials import (
    ApiKeyCredential,
    Credential,
    TokenCredential,
    looks_like_oauth_token,
)
from clawdbot_nb.state.durations import format_remaining
from clawdbot_nb.state.order import ProfileOrder, resolve_profile_order, unusable_reason
from clawdbot_nb.state.store import AuthStore
from clawdbot_nb.state.troubleshooting import no_api_key, no_available_profile, no_credentials_for_profile


@dataclass(frozen=True)
class AuthCandidate:
    """One credential to try: a stored profile, or the environment (`profile_id` None)."""

    profile_id: str | None
    credential: Credential
    source: str  # "store" or e.g. "env: ANTHROPIC_API_KEY"

    @property
    def label(self) -> str:
        return self.profile_id or self.source


def profile_order(
    store: AuthStore,
    config: ClawdbotConfig,
    provider: str,
    now: int,
    recent_use: Mapping[str, int] | None = None,
) -> ProfileOrder:
    """The agent's order for `provider` from its store and config. `recent_use` holds uses this
    process made that the store does not show yet (profile id → epoch ms), for round robin."""
    stats = {pid: store.stats(pid) for pid in store.profiles}
    for pid, used in (recent_use or {}).items():
        if pid in stats and used > (stats[pid].last_used or 0):
            stats[pid] = replace(stats[pid], last_used=used)
    return resolve_profile_order(
        provider,
        credentials=store.profiles,
        stats=stats,
        store_order=store.order(provider),
        config_order=config.auth_order.get(provider),
        config_profiles=config.auth_profiles,
        now_ms=now,
    )


def next_change_ms(store: AuthStore, now: int) -> int:
    """When the order computed at `now` may change without the store changing: the next
    cooldown or disable end, or token expiry, after `now` (far future when none)."""
    moments = []
    for profile_id, credential in store.profiles.items():
        stats = store.stats(profile_id)
        moments += [
            t for t in (stats.cooldown_until, stats.disabled_until, credential.expires) if t and t > now
        ]
    return min(moments, default=now + 365 * 86_400_000)


def first_back(store: AuthStore, profile_ids: list[str], now: int) -> tuple[str, int] | None:
    """Of `profile_ids` cooling down or disabled at `now`, the one usable again soonest, and
    when (epoch ms); None when none of them is waiting for a time to pass."""
    waiting = [
        (until, pid)
        for pid in profile_ids
        if (until := store.stats(pid).unusable_until()) is not None and until > now
    ]
    if not waiting:
        return None
    until, pid = min(waiting)
    return pid, until


def unusable_summary(store: AuthStore, profile_id: str, now: int) -> str:
    """`cooldown 4m (rate_limit)` or `disabled 5h (billing)`."""
    stats = store.stats(profile_id)
    kind = stats.unusable_kind(now) or "cooldown"
    reason = stats.unusable_reason(now)
    remaining = format_remaining((stats.unusable_until() or now) - now)
    return f"{kind} {remaining}" + (f" ({reason})" if reason else "")


def auth_candidates(
    agent: AgentState,
    provider: str = "anthropic",
    *,
    profile_id: str | None = None,
    store: AuthStore | None = None,
    config: ClawdbotConfig | None = None,
    now: int | None = None,
    recent_use: Mapping[str, int] | None = None,
) -> list[AuthCandidate]:
    """The credentials to try for one request, best first; raises the matching troubleshooting
    error when there are none. An explicitly named profile is the only candidate (a user's
    pin is honoured even while it cools down)."""
    provider = provider.lower()
    config = config or agent.config()
    store = store or agent.load_store(config=config)
    now = now_ms() if now is None else now

    if profile_id is not None:
        from clawdbot_nb.state.ids import lookup_profile_id

        profile_id = lookup_profile_id(
            profile_id, list(store.data.get("profiles", {})), argument="the profile to use"
        )
        credential = store.get(profile_id)
        reason = unusable_reason(profile_id, credential, provider, config.auth_profiles.get(profile_id), now)
        if reason is not None or credential is None:
            raise no_credentials_for_profile(profile_id, agent.agent_id, agent.is_default, reason or "")
        return [AuthCandidate(profile_id, credential, "store")]

    order = profile_order(store, config, provider, now, recent_use)
    if order.available:
        return [AuthCandidate(pid, store.profiles[pid], "store") for pid in order.available]
    if order.ordered:
        soonest = first_back(store, list(order.ordered), now)
        raise no_available_profile(
            provider,
            [f"{pid} {unusable_summary(store, pid, now)}" for pid in order.ordered],
            agent.agent_id,
            agent.is_default,
            first_back=None if soonest is None else (soonest[0], format_remaining(soonest[1] - now)),
        )
    env = agent.env_credential(provider, config)
    if env is not None:
        credential: Credential = (
            TokenCredential(provider=provider, token=env.value)
            if looks_like_oauth_token(env.value)
            else ApiKeyCredential(provider=provider, key=env.value)
        )
        return [AuthCandidate(None, credential, env.source)]
    # Profiles this agent stores but cannot use (expired, empty, wrong mode) deserve their own
    # message; ids known only from the shared config say nothing about this agent.
    stored_but_unusable = {pid: why for pid, why in order.skipped.items() if store.get(pid) is not None}
    if stored_but_unusable:
        first, reason = next(iter(stored_but_unusable.items()))
        raise no_credentials_for_profile(first, agent.agent_id, agent.is_default, reason)
    raise no_api_key(provider, agent.agent_id, agent.is_default)
