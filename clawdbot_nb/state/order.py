"""Which auth profile to try first: the gateway's `resolveAuthProfileOrder`, as a pure function.

An explicit order (the store's `order[provider]`, else the config's `auth.order`) is kept;
otherwise profiles go round robin: oauth, then token, then api_key, least recently used first.
Either way, profiles cooling down go last (soonest back first), and profiles that cannot be
used at all (expired token, empty secret, config mode mismatch) are left out with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clawdbot_nb.state.config import ProfileConfig
from clawdbot_nb.state.cooldown import UsageStats
from clawdbot_nb.state.credentials import Credential, TokenCredential, has_secret

#: Round-robin preference by credential type (lower first).
TYPE_SCORE = {"oauth": 0, "token": 1, "api_key": 2}


@dataclass(frozen=True)
class ProfileOrder:
    """`ordered`: every usable profile id, best first (those in cooldown at the end).

    `cooling`: the ids of `ordered` that are in cooldown or disabled now.
    `skipped`: profile id → why it cannot be used at all.
    `explicit`: whether an explicit order was in force.
    """

    ordered: list[str]
    cooling: frozenset[str] = frozenset()
    skipped: dict[str, str] = field(default_factory=dict)
    explicit: bool = False

    @property
    def available(self) -> list[str]:
        return [pid for pid in self.ordered if pid not in self.cooling]


def unusable_reason(
    profile_id: str,
    credential: Credential | None,
    provider: str,
    config_profile: ProfileConfig | None,
    now_ms: int,
) -> str | None:
    """Why a profile can never be tried right now, or None when it can."""
    if credential is None:
        return "no credentials stored"
    if credential.provider != provider:
        return f"belongs to provider {credential.provider}"
    if config_profile is not None and not config_profile.accepts(credential.type):
        return f"config mode {config_profile.mode} does not accept a stored {credential.type}"
    if not has_secret(credential):
        return "the stored secret is empty"
    if (
        isinstance(credential, TokenCredential)
        and credential.expires is not None
        and credential.expires <= now_ms
    ):
        return "token expired"
    return None


def resolve_profile_order(
    provider: str,
    *,
    credentials: Mapping[str, Credential],
    stats: Mapping[str, UsageStats],
    store_order: Sequence[str] | None,
    config_order: Sequence[str] | None,
    config_profiles: Mapping[str, ProfileConfig],
    now_ms: int,
    preferred: str | None = None,
) -> ProfileOrder:
    provider = provider.lower()
    explicit = list(store_order or config_order or [])
    if explicit:
        base = explicit
    else:
        base = [pid for pid, meta in config_profiles.items() if meta.provider == provider]
        if not base:
            base = [pid for pid, cred in credentials.items() if cred.provider == provider]

    usable: list[str] = []
    skipped: dict[str, str] = {}
    for profile_id in dict.fromkeys(base):
        reason = unusable_reason(
            profile_id, credentials.get(profile_id), provider, config_profiles.get(profile_id), now_ms
        )
        if reason is None:
            usable.append(profile_id)
        else:
            skipped[profile_id] = reason

    empty = UsageStats()

    def stats_of(pid: str) -> UsageStats:
        return stats.get(pid, empty)

    cooling = [pid for pid in usable if stats_of(pid).in_cooldown(now_ms)]
    ready = [pid for pid in usable if pid not in cooling]
    cooling.sort(key=lambda pid: stats_of(pid).unusable_until() or 0)
    if not explicit:
        ready.sort(key=lambda pid: (TYPE_SCORE[credentials[pid].type], stats_of(pid).last_used or 0))
    ordered = ready + cooling
    if preferred in ordered:
        ordered.remove(preferred)
        ordered.insert(0, preferred)
    return ProfileOrder(ordered, frozenset(cooling), skipped, bool(explicit))
