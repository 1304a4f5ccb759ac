"""The Clawdbot docs' troubleshooting cases, each as one error with its message and its fix.

Messages start with the exact text users search for; the fix names our commands.
"""

from __future__ import annotations

from collections.abc import Iterable

from clawdbot_nb.errors import ClawdbotError, NoAvailableProfileError, NoCredentialsError

CLI = "clawdbot-nb"


def _agent_flag(agent_id: str, is_default: bool) -> str:
    return "" if is_default else f" --agent {agent_id}"


def no_api_key(provider: str, agent_id: str, is_default: bool) -> NoCredentialsError:
    flag = _agent_flag(agent_id, is_default)
    return NoCredentialsError(
        f'No API key found for provider "{provider}" (agent "{agent_id}").',
        fix=(
            "auth is per agent and new agents don't inherit the main agent's keys: "
            f"run `{CLI} onboard{flag}`, or paste a setup-token with "
            f"`{CLI} models auth paste-token --provider {provider}{flag}`, "
            f"then check `{CLI} models status{flag}`"
        ),
    )


def no_credentials_for_profile(
    profile_id: str, agent_id: str, is_default: bool, detail: str = ""
) -> NoCredentialsError:
    flag = _agent_flag(agent_id, is_default)
    suffix = f" ({detail})" if detail else ""
    return NoCredentialsError(
        f"No credentials found for profile {profile_id}{suffix}.",
        fix=(
            f"run `{CLI} models status{flag}` to see which profile is active; re-onboard "
            f"(`{CLI} onboard{flag}`) or paste a setup-token / API key for that profile"
        ),
    )


def no_available_profile(
    provider: str,
    unusable: Iterable[str],
    agent_id: str,
    is_default: bool,
    first_back: tuple[str, str] | None = None,
) -> NoAvailableProfileError:
    """`first_back`: (profile id, how long until it is usable, e.g. "4m"), the soonest one."""
    flag = _agent_flag(agent_id, is_default)
    listed = "; ".join(unusable)
    back = f" The first is back in {first_back[1]} ({first_back[0]})." if first_back else ""
    return NoAvailableProfileError(
        f'No available auth profile (all in cooldown/unavailable) for provider "{provider}"'
        + (f": {listed}." if listed else ".")
        + back,
        fix=(
            f"see `{CLI} models status --json{flag}` → auth.unusableProfiles; add another "
            f"{provider} profile or wait for the cooldown"
        ),
    )


def token_invalid(profile_id: str, detail: str) -> ClawdbotError:
    return ClawdbotError(
        f"401 token invalid for profile {profile_id}: {detail}",
        fix=(
            "the subscription token expired or was revoked: re-run `claude setup-token` and paste it "
            f"with `{CLI} models auth paste-token --provider anthropic`; if the Claude CLI login is on "
            "another machine, make the token there and paste it here"
        ),
    )


def oauth_refresh_failed(provider: str, profile_id: str, detail: str) -> ClawdbotError:
    return ClawdbotError(
        f"OAuth token refresh failed for {provider}: {detail}. Please try again or re-authenticate.",
        fix=(
            f"re-auth with a setup-token (`claude setup-token`, then `{CLI} models auth paste-token "
            f"--provider {provider}`), or resync the Claude Code CLI login (`claude` to log in, then "
            f"`{CLI} onboard --auth-choice claude-cli`); profile {profile_id} cools down meanwhile"
        ),
    )
