"""Credentials from the environment, used when an agent has no auth profile for a provider.

The gateway looks for `ANTHROPIC_OAUTH_TOKEN`, then `ANTHROPIC_API_KEY`, in its process
environment, which it fills from `<stateDir>/.env` and the config's `env` section without
overriding what is already set. We read the same three sources in that precedence and say
which one won.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from clawdbot_nb.state.credentials import mask_secret, normalize_pasted_secret
from clawdbot_nb.state.jsonfile import read_text

#: Variables the gateway checks per provider, in order (its `resolveEnvApiKey`). Only
#: anthropic's are ever sent anywhere by us; the others are reported by `models status`.
PROVIDER_ENV_VARS: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_OAUTH_TOKEN", "ANTHROPIC_API_KEY"),
    "github-copilot": ("COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN"),
    "chutes": ("CHUTES_OAUTH_TOKEN", "CHUTES_API_KEY"),
    "zai": ("ZAI_API_KEY", "Z_AI_API_KEY"),
    "opencode": ("OPENCODE_API_KEY", "OPENCODE_ZEN_API_KEY"),
    "qwen-portal": ("QWEN_OAUTH_TOKEN", "QWEN_PORTAL_API_KEY"),
    "openai": ("OPENAI_API_KEY",),
    "google": ("GEMINI_API_KEY",),
    "groq": ("GROQ_API_KEY",),
    "deepgram": ("DEEPGRAM_API_KEY",),
    "cerebras": ("CEREBRAS_API_KEY",),
    "xai": ("XAI_API_KEY",),
    "openrouter": ("OPENROUTER_API_KEY",),
    "vercel-ai-gateway": ("AI_GATEWAY_API_KEY",),
    "moonshot": ("MOONSHOT_API_KEY",),
    "kimi-code": ("KIMICODE_API_KEY",),
    "minimax": ("MINIMAX_API_KEY",),
    "synthetic": ("SYNTHETIC_API_KEY",),
    "venice": ("VENICE_API_KEY",),
    "mistral": ("MISTRAL_API_KEY",),
}
#: Providers `models status` lists whenever their variable is set, configured or not.
ENV_PROBE_PROVIDERS = (
    "anthropic", "github-copilot", "openai", "google", "groq", "cerebras", "xai", "openrouter", "zai",
    "mistral", "synthetic",
)  # fmt: skip

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def read_dotenv(path: Path) -> dict[str, str]:
    """`NAME=value` lines of a `.env` file; comments and blank lines ignored, quotes removed."""
    text = read_text(path, what=".env file")
    values: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            continue
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


@dataclass(frozen=True, repr=False)
class EnvCredential:
    """A secret found in the environment, and where: `env`, `.env` or `config env`."""

    variable: str
    value: str
    source: str  # e.g. "env: ANTHROPIC_API_KEY"

    @property
    def mode(self) -> str:
        """A variable named like `*OAUTH_TOKEN*` is reported as an oauth credential."""
        return "oauth" if "OAUTH_TOKEN" in self.variable else "api_key"

    @property
    def masked(self) -> str:
        return mask_secret(self.value)

    def __repr__(self) -> str:
        return f"EnvCredential(source={self.source!r}, value={self.masked!r})"

    __str__ = __repr__


def env_credential(
    provider: str,
    *,
    config_env: Mapping[str, str],
    dotenv_path: Path | None,
    process_env: Mapping[str, str] | None = None,
) -> EnvCredential | None:
    """The first provider variable set in the process env, `<state>/.env`, or config `env`."""
    names = PROVIDER_ENV_VARS.get(provider.lower(), ())
    if not names:
        return None
    process_env = os.environ if process_env is None else process_env
    dotenv = read_dotenv(dotenv_path) if dotenv_path is not None else {}
    sources = (
        ("env", process_env),
        (dotenv_path.name if dotenv_path else ".env", dotenv),
        ("config env", config_env),
    )
    for name in names:
        for label, mapping in sources:
            value = normalize_pasted_secret(mapping.get(name, ""))
            if value:
                return EnvCredential(name, value, f"{label}: {name}")
    return None
