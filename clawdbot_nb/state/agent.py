"""One agent's view of the state dir: its config, its auth store, its environment fallback.

`AgentState.resolve("research")` finds the files the gateway would use for that agent.
Auth is per agent: a new agent starts with an empty store and never sees the main agent's
keys (the Clawdbot docs' rule; the gateway's code copied them, we do not).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.config import ClawdbotConfig
from clawdbot_nb.state.environment import EnvCredential, env_credential
from clawdbot_nb.state.paths import (
    AUTH_PROFILE_FILENAME,
    legacy_oauth_file,
    resolve_agent_dir,
    resolve_config_path,
    resolve_state_dir,
    validate_agent_id,
)
from clawdbot_nb.state.store import AuthStore, AuthStoreFile


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class AgentState:
    agent_id: str
    state_dir: Path
    config_path: Path
    agent_dir: Path
    is_default: bool

    @classmethod
    def resolve(cls, agent: str | None = None, *, env: Mapping[str, str] | None = None) -> AgentState:
        """The files of `agent` (default: the config's default agent, usually `main`)."""
        env = os.environ if env is None else env
        state_dir = resolve_state_dir(env)
        config_path = resolve_config_path(state_dir, env)
        config = ClawdbotConfig.load(config_path)
        default_id = config.default_agent_id
        agent_id = validate_agent_id(agent) if agent else default_id
        agent_dir = resolve_agent_dir(
            agent_id,
            state_dir,
            default_agent_id=default_id,
            configured_dir=config.agent_dir_override(agent_id),
            env=env,
        )
        return cls(agent_id, state_dir, config_path, agent_dir, agent_id == default_id)

    def config(self) -> ClawdbotConfig:
        return ClawdbotConfig.load(self.config_path)

    @cached_property
    def store_file(self) -> AuthStoreFile:
        # The pre-profile OAuth file is global; only the default agent imports it.
        legacy = legacy_oauth_file(self.state_dir) if self.is_default else None
        return AuthStoreFile(self.agent_dir, legacy_oauth_file=legacy)

    @property
    def dotenv_path(self) -> Path:
        return self.state_dir / ".env"

    def env_credential(self, provider: str, config: ClawdbotConfig | None = None) -> EnvCredential | None:
        config = config or self.config()
        return env_credential(provider, config_env=config.env, dotenv_path=self.dotenv_path)

    def load_store(self, *, config: ClawdbotConfig | None = None, sync_claude_cli: bool = True) -> AuthStore:
        """The agent's store (a shared read-only snapshot), with an opted-in
        `anthropic:claude-cli` profile synced from the CLI.

        Syncing writes (under the lock) only when the CLI holds a newer login.
        """
        store_file = self.store_file
        store = store_file.snapshot()
        if not sync_claude_cli or not self._claude_cli_opted_in(store, config):
            return store
        try:
            login = claude_cli.read_claude_cli_login()
        except ClawdbotError:
            return store  # a broken CLI file must not hide the store; `onboard` reports it
        if login is None or not claude_cli.sync_claude_cli_profile(store.copy(), login, now_ms()):
            return store
        store_file.update(lambda locked: claude_cli.sync_claude_cli_profile(locked, login, now_ms()))
        return store_file.snapshot()

    def _claude_cli_opted_in(self, store: AuthStore, config: ClawdbotConfig | None) -> bool:
        # Per agent: this agent's own store holds the profile (the config is shared by all agents).
        return claude_cli.CLAUDE_CLI_PROFILE_ID in store.data.get("profiles", {})

    def other_store_files(self) -> list[AuthStoreFile]:
        """The auth stores of every other agent under this state dir (legacy `agent/` included)."""
        mine = self.agent_dir.resolve()
        dirs = [
            path.parent
            for path in sorted((self.state_dir / "agents").glob(f"*/agent/{AUTH_PROFILE_FILENAME}"))
        ]
        legacy = self.state_dir / "agent"
        if (legacy / AUTH_PROFILE_FILENAME).is_file():
            dirs.append(legacy)
        return [AuthStoreFile(d) for d in dirs if d.resolve() != mine]
