"""The interactive onboarding flows, over a `Prompter` so a terminal and a notebook share them.

Secrets are always read with a hidden prompt (`getpass`), validated, and re-asked on a
mistake; only masked forms are ever printed.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from clawdbot_nb.errors import ClawdbotError, CredentialError, UsageError
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.credentials import mask_secret, normalize_pasted_secret, validate_setup_token
from clawdbot_nb.state.durations import format_remaining, parse_duration_ms
from clawdbot_nb.state.onboarding import (
    MANUAL_PROFILE_ID,
    OnboardResult,
    import_claude_cli,
    paste_token,
    save_api_key,
    save_setup_token,
    token_profile_id,
)

#: The three choices of the Clawdbot docs: (auth choice, label, hint).
WIZARD_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("apiKey", "Anthropic API key", "standard API access billed by usage (Anthropic Console key)"),
    (
        "token",
        "Anthropic token (paste setup-token)",
        "a Claude subscription token made by `claude setup-token`",
    ),
    (
        "claude-cli",
        "Claude Code CLI (reuse existing login)",
        "reuses this machine's Claude Code OAuth login (opt-in; refreshed tokens are written back)",
    ),
)
MAX_ATTEMPTS = 3
T = TypeVar("T")


class Prompter(Protocol):
    def say(self, text: str) -> None: ...
    def ask(self, prompt: str) -> str: ...
    def ask_secret(self, prompt: str) -> str: ...


class TerminalPrompter:
    """Plain `input` and `getpass` (also what a notebook kernel offers without widgets)."""

    def say(self, text: str) -> None:
        print(text, flush=True)

    def ask(self, prompt: str) -> str:
        return input(prompt)

    def ask_secret(self, prompt: str) -> str:
        return getpass.getpass(prompt)


def _ask_valid(prompter: Prompter, prompt: str, validate: Callable[[str], T], *, secret: bool) -> T:
    """Ask until `validate` accepts (at most 3 times); each refusal prints its message."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        raw = prompter.ask_secret(prompt) if secret else prompter.ask(prompt)
        try:
            return validate(raw)
        except ClawdbotError as error:
            if attempt == MAX_ATTEMPTS:
                raise
            prompter.say(f"  {error}")
    raise AssertionError("unreachable")


def _expires_in(prompter: Prompter) -> str | None:
    def check(raw: str) -> str:
        text = raw.strip()
        if text:
            parse_duration_ms(text, argument="expiry")
        return text

    return (
        _ask_valid(prompter, "Does this token expire? (blank = no, or e.g. 365d): ", check, secret=False)
        or None
    )


def ask_api_key(agent: AgentState, prompter: Prompter, env: Mapping[str, str]) -> OnboardResult:
    existing = normalize_pasted_secret(env.get("ANTHROPIC_API_KEY", ""))
    if existing:
        answer = prompter.ask(f"Use existing ANTHROPIC_API_KEY (env, {mask_secret(existing)})? [Y/n] ")
        if answer.strip().lower() in ("", "y", "yes"):
            return save_api_key(agent, existing)
    return _ask_valid(
        prompter, "Paste Anthropic API key (hidden): ", lambda raw: save_api_key(agent, raw), secret=True
    )


def ask_setup_token(agent: AgentState, prompter: Prompter, *, profile_id: str | None = None) -> OnboardResult:
    token = _ask_valid(prompter, "Paste Anthropic setup-token (hidden): ", validate_setup_token, secret=True)
    if profile_id is None:
        profile_id = token_profile_id(prompter.ask("Token name (blank = default): "))
    return save_setup_token(agent, token, profile_id=profile_id, expires_in=_expires_in(prompter))


def confirm_claude_cli(agent: AgentState, prompter: Prompter) -> OnboardResult | None:
    login = claude_cli.require_claude_cli_login()
    remaining = login.expires_ms - now_ms()
    state = f"expires in {format_remaining(remaining)}" if remaining > 0 else "expired (will be refreshed)"
    prompter.say(
        f"Found a Claude Code login in {login.location}: {mask_secret(login.access)}, {state}, "
        f"{'refreshable' if login.refresh else 'no refresh token'}."
    )
    prompter.say(
        "Claude subscription credentials are meant for Claude Code and Anthropic's own apps; reuse them "
        "here only if that is your choice."
    )
    if prompter.ask("Reuse it as anthropic:claude-cli? [y/N] ").strip().lower() not in ("y", "yes"):
        prompter.say("Nothing saved.")
        return None
    return import_claude_cli(agent)


def run_wizard(
    agent: AgentState, prompter: Prompter, env: Mapping[str, str] | None = None
) -> OnboardResult | None:
    """`onboard` on a terminal: the three choices of the Clawdbot docs."""
    env = os.environ if env is None else env
    prompter.say(f"Anthropic auth for agent {agent.agent_id} (setup-token + API key)")
    for number, (_, label, hint) in enumerate(WIZARD_CHOICES, start=1):
        prompter.say(f"  {number}) {label} — {hint}")

    def pick(raw: str) -> str:
        text = raw.strip()
        if text in {"1", "2", "3"}:
            return WIZARD_CHOICES[int(text) - 1][0]
        raise UsageError(f"Please answer 1, 2 or 3 (got {text!r}).")

    choice = _ask_valid(prompter, "Choose [1-3]: ", pick, secret=False)
    if choice == "apiKey":
        return ask_api_key(agent, prompter, env)
    if choice == "token":
        return ask_setup_token(agent, prompter)
    return confirm_claude_cli(agent, prompter)


#: A token is a few hundred characters; more than this on stdin is not a token.
MAX_STDIN_SECRET = 16_384


def _read_stdin_secret() -> str:
    try:
        text = sys.stdin.read(MAX_STDIN_SECRET + 1)
    except UnicodeDecodeError as error:
        raise CredentialError(
            "Standard input is not UTF-8 text, so it cannot hold a token.",
            fix="pipe the token itself: clawdbot-nb models auth paste-token --provider anthropic < token.txt",
        ) from error
    if len(text) > MAX_STDIN_SECRET:
        raise CredentialError(
            f"Standard input holds more than {MAX_STDIN_SECRET:,} characters: not a token.",
            fix="pipe only the token: clawdbot-nb models auth paste-token --provider anthropic < token.txt",
        )
    return text


def _read_secret(prompter: Prompter, prompt: str, accept: Callable[[str], T], tty: bool) -> T:
    """On a terminal a hidden prompt (re-asked on a mistake); from a pipe, stdin once (bounded)."""
    if tty:
        return _ask_valid(prompter, prompt, accept, secret=True)
    return accept(_read_stdin_secret())


def paste_token_flow(
    agent: AgentState,
    prompter: Prompter,
    *,
    provider: str = "anthropic",
    profile_id: str | None = None,
    expires_in: str | None = None,
    stdin_is_tty: bool | None = None,
) -> OnboardResult:
    """`models auth paste-token`: never from the command line; a hidden prompt or stdin."""
    tty = sys.stdin.isatty() if stdin_is_tty is None else stdin_is_tty
    return _read_secret(
        prompter,
        f"Paste token for {provider} (hidden): ",
        lambda raw: paste_token(agent, raw, provider=provider, profile_id=profile_id, expires_in=expires_in),
        tty,
    )


SETUP_TOKEN_HOWTO = (
    "A setup-token comes from the Claude Code CLI, not the Console: on any machine where Claude Code is "
    "installed and logged in with a Claude subscription, run `claude setup-token` and copy the "
    "sk-ant-oat01-… token it prints."
)


def setup_token_flow(
    agent: AgentState,
    prompter: Prompter,
    *,
    provider: str = "anthropic",
    profile_id: str | None = None,
    expires_in: str | None = None,
    stdin_is_tty: bool | None = None,
    run: Callable[[list[str]], int] = subprocess.call,
) -> OnboardResult:
    """`models auth setup-token`: run `claude setup-token` when possible, then read the paste."""
    if provider.strip().lower() != "anthropic":
        raise UsageError("setup-token is for --provider anthropic only.", fix="use --provider anthropic")
    tty = sys.stdin.isatty() and sys.stdout.isatty() if stdin_is_tty is None else stdin_is_tty
    claude = shutil.which("claude")
    if claude and tty:
        prompter.say("Running `claude setup-token`; copy the token it prints.")
        if run([claude, "setup-token"]) != 0:
            prompter.say("`claude setup-token` did not finish; you can still paste a token made elsewhere.")
    else:
        reason = "the `claude` command is not installed here" if not claude else "no terminal is attached"
        prompter.say(f"Cannot run `claude setup-token` ({reason}). {SETUP_TOKEN_HOWTO}")
    return _read_secret(
        prompter,
        "Paste Anthropic setup-token (hidden): ",
        lambda raw: save_setup_token(
            agent,
            raw,
            profile_id=profile_id or MANUAL_PROFILE_ID,
            expires_in=expires_in,
            expires_argument="--expires-in",
        ),
        tty,
    )
