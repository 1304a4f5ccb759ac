"""The interactive commands on a real pseudo-terminal: prompts, hidden input, the saved profile."""

from __future__ import annotations

import os
import pty
import select
import sys
import time
from pathlib import Path

import pytest

from tests.state.fakes import API_KEY, SETUP_TOKEN, read_json

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")


class Terminal:
    def __init__(self, *argv: str) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal, as in a real shell
            os.execv(sys.executable, [sys.executable, "-m", "clawdbot_nb", *argv])
        self.pid, self.fd, self.seen, self.cursor = pid, fd, "", 0

    def expect(self, text: str, timeout: float = 20) -> None:
        """Wait for `text` after what earlier expects matched (a repeated prompt is a new one)."""
        deadline = time.monotonic() + timeout
        while text not in self.seen[self.cursor :]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"did not see {text!r}; screen so far:\n{self.seen}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"terminal closed before {text!r}; screen:\n{self.seen}")
                self.seen += chunk.decode(errors="replace")
        self.cursor = self.seen.index(text, self.cursor) + len(text)

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def exit_code(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


def test_onboard_wizard_api_key_with_hidden_input(state_dir: Path) -> None:
    term = Terminal("onboard")
    term.expect("Claude Code CLI (reuse existing login)")
    term.expect("Choose [1-3]: ")
    term.send("1")
    term.expect("Paste Anthropic API key (hidden): ")
    term.send(API_KEY)
    term.expect("Saved anthropic:default (api_key sk-ant-api03-…WXYZ)")
    assert term.exit_code() == 0
    assert API_KEY not in term.seen  # not echoed
    profiles = read_json(state_dir / "agents" / "main" / "agent" / "auth-profiles.json")["profiles"]
    assert profiles["anthropic:default"]["key"] == API_KEY


def test_paste_token_prompt_is_hidden_and_reasks(state_dir: Path) -> None:
    term = Terminal("models", "auth", "setup-token", "--provider", "anthropic")
    term.expect("claude setup-token")
    term.expect("Paste Anthropic setup-token (hidden): ")
    term.send("sk-ant-oat01-too-short")
    term.expect("Token looks too short; paste the full setup-token")
    term.expect("Paste Anthropic setup-token (hidden): ")
    term.send(SETUP_TOKEN)
    term.expect("Saved anthropic:manual (token sk-ant-oat01-…ABCD)")
    assert term.exit_code() == 0
    assert SETUP_TOKEN not in term.seen
