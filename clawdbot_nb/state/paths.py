"""Where Clawdbot keeps its state: the state dir, the config file and each agent's dir.

Resolution follows the Clawdbot gateway (Clawdbot names first; Moltbot and OpenClaw names are
read-only fallbacks), so a notebook and a gateway on one machine find the same files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from clawdbot_nb.errors import UsageError

DEFAULT_AGENT_ID = "main"
AUTH_PROFILE_FILENAME = "auth-profiles.json"
LEGACY_AUTH_FILENAME = "auth.json"
CONFIG_FILENAME = "clawdbot.json"
#: Config names of later gateway eras, read (never created) when clawdbot.json is absent.
LEGACY_CONFIG_FILENAMES = ("moltbot.json", "openclaw.json", "moldbot.json")
#: Our own files live in a subfolder so they never collide with the gateway's.
OWN_SUBDIR = "clawdbot-nb"

_AGENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME") or env.get("USERPROFILE")
    return Path(home) if home else Path.home()


def _expand(value: str, env: Mapping[str, str]) -> Path:
    """`~` and `~/x` expanded against the given environment's home, as the gateway does."""
    text = value.strip()
    if text == "~" or text.startswith("~/"):
        return _home(env) / text[2:]
    return Path(os.path.expanduser(text))


def resolve_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """The Clawdbot state dir.

    `$CLAWDBOT_STATE_DIR`; else `~/.clawdbot` if it exists; else the first of
    `$MOLTBOT_STATE_DIR`, `$OPENCLAW_STATE_DIR`, `~/.moltbot`, `~/.moldbot`, `~/.openclaw`
    that is set or exists; else `~/.clawdbot` (created on first write). Writes go to the
    directory resolved here, because that is where the gateway reads.
    """
    env = os.environ if env is None else env
    explicit = env.get("CLAWDBOT_STATE_DIR", "").strip()
    if explicit:
        return _expand(explicit, env)
    home = _home(env)
    canonical = home / ".clawdbot"
    if canonical.is_dir():
        return canonical
    for name in ("MOLTBOT_STATE_DIR", "OPENCLAW_STATE_DIR"):
        value = env.get(name, "").strip()
        if value:
            return _expand(value, env)
    for legacy in (".moltbot", ".moldbot", ".openclaw"):
        if (home / legacy).is_dir():
            return home / legacy
    return canonical


def resolve_config_path(state_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    """`$CLAWDBOT_CONFIG_PATH`, else `<state>/clawdbot.json`, else an existing later-era name."""
    env = os.environ if env is None else env
    explicit = env.get("CLAWDBOT_CONFIG_PATH", "").strip()
    if explicit:
        return _expand(explicit, env)
    canonical = state_dir / CONFIG_FILENAME
    if canonical.exists():
        return canonical
    for name in LEGACY_CONFIG_FILENAMES:
        candidate = state_dir / name
        if candidate.exists():
            return candidate
    return canonical


def validate_agent_id(agent_id: str) -> str:
    """An agent id as Clawdbot accepts it: lowercase letters, digits, `-` and `_`.

    Anything else (a `/`, `..`, spaces, an empty id) could escape the state dir, so it is
    refused with the rule and an example.
    """
    from clawdbot_nb.state.redaction import refuse_secret, shown

    refuse_secret(agent_id, argument="--agent", expected="an agent id such as main")
    candidate = agent_id.strip().lower() if isinstance(agent_id, str) else ""
    if not _AGENT_ID.match(candidate):
        raise UsageError(
            f"Invalid agent id {shown(agent_id)}: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit.",
            fix="pass an id such as --agent main or --agent research",
        )
    return candidate


def resolve_agent_dir(
    agent_id: str,
    state_dir: Path,
    *,
    default_agent_id: str = DEFAULT_AGENT_ID,
    configured_dir: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """`<state>/agents/<id>/agent`, with Clawdbot's overrides.

    For the default agent `$CLAWDBOT_AGENT_DIR` (then `$PI_CODING_AGENT_DIR`) wins; then the
    config's `agents.list[].agentDir` (`configured_dir`). A legacy single-agent dir
    `<state>/agent/` that still holds the store is used in place for the default agent: the
    gateway's `doctor` moves it, we never do.
    """
    env = os.environ if env is None else env
    agent_id = validate_agent_id(agent_id)
    is_default = agent_id == default_agent_id
    if is_default:
        for name in ("CLAWDBOT_AGENT_DIR", "PI_CODING_AGENT_DIR"):
            value = env.get(name, "").strip()
            if value:
                return _expand(value, env)
    if configured_dir and configured_dir.strip():
        return _expand(configured_dir, env)
    standard = state_dir / "agents" / agent_id / "agent"
    if is_default and not (standard / AUTH_PROFILE_FILENAME).exists():
        legacy = state_dir / "agent"
        if (legacy / AUTH_PROFILE_FILENAME).is_file():
            return legacy
    return standard


def legacy_oauth_file(state_dir: Path, env: Mapping[str, str] | None = None) -> Path:
    """`<state>/credentials/oauth.json`, the pre-profile OAuth import file."""
    env = os.environ if env is None else env
    override = env.get("CLAWDBOT_OAUTH_DIR", "").strip()
    base = _expand(override, env) if override else state_dir / "credentials"
    return base / "oauth.json"


def oauth_refresh_lock_dir(state_dir: Path) -> Path:
    """Where the cross-agent OAuth refresh locks live (shared with later gateways)."""
    return state_dir / "locks" / "oauth-refresh"


def own_dir(state_dir: Path) -> Path:
    """clawdbot_nb's own files (usage ledger, caches) under the state dir."""
    return state_dir / OWN_SUBDIR


def claude_config_dir(env: Mapping[str, str] | None = None) -> Path:
    """Claude Code's config dir: `$CLAUDE_CONFIG_DIR`, else `~/.claude`."""
    env = os.environ if env is None else env
    explicit = env.get("CLAUDE_CONFIG_DIR", "").strip()
    return _expand(explicit, env) if explicit else _home(env) / ".claude"


def display_path(path: Path, env: Mapping[str, str] | None = None) -> str:
    """The path with the home dir shown as `~`, as Clawdbot prints it."""
    env = os.environ if env is None else env
    home = str(_home(env))
    text = str(path)
    if home and home != "/" and (text == home or text.startswith(home + os.sep)):
        return "~" + text[len(home) :]
    return text
