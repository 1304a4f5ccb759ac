"""`clawdbot-nb` auth commands: output, exit codes, and no traceback on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clawdbot_nb import cli
from tests.state.fakes import API_KEY, SETUP_TOKEN, read_json, write_json


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def store_file(state_dir: Path, agent: str = "main") -> Path:
    return state_dir / "agents" / agent / "agent" / "auth-profiles.json"


def test_onboard_api_key_and_status(capsys, state_dir: Path) -> None:
    code, out, _err = run(
        capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY
    )
    assert code == 0 and "Saved anthropic:default (api_key sk-ant-api03-…WXYZ)" in out and API_KEY not in out
    code, out, _ = run(capsys, "models", "status")
    assert code == 0 and "anthropic:default=sk-ant-api03-…WXYZ" in out
    code, out, _ = run(capsys, "models", "status", "--json")
    assert json.loads(out)["auth"]["providers"][0]["profiles"]["count"] == 1
    code, out, _ = run(capsys, "models", "status", "--plain")
    assert out.strip() == "anthropic/claude-opus-4-5"  # the gateway's default: none configured


def test_status_check_exit_codes(capsys, state_dir: Path) -> None:
    assert run(capsys, "models", "status", "--check")[0] == 1  # provider in use with no auth
    now = int(time.time() * 1000)
    entry = {"type": "token", "provider": "anthropic", "token": SETUP_TOKEN, "expires": now + 3_600_000}
    write_json(store_file(state_dir), {"version": 1, "profiles": {"anthropic:manual": entry}})
    assert run(capsys, "models", "status", "--check")[0] == 2
    assert run(capsys, "models", "status", "--check", "--json")[0] == 2
    entry["expires"] = now + 48 * 3_600_000
    write_json(store_file(state_dir), {"version": 1, "profiles": {"anthropic:manual": entry}})
    assert run(capsys, "models", "status", "--check")[0] == 0
    entry["expires"] = now - 1
    write_json(store_file(state_dir), {"version": 1, "profiles": {"anthropic:manual": entry}})
    assert run(capsys, "models", "status", "--check")[0] == 1
    assert (
        run(capsys, "models", "status")[0] == 0
    )  # without --check the verdict does not change the exit code


def test_paste_token_reads_stdin_never_argv(capsys, state_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(SETUP_TOKEN + "\n"))
    code, out, _ = run(
        capsys, "models", "auth", "paste-token", "--provider", "anthropic", "--expires-in", "30d"
    )
    assert code == 0 and "anthropic:manual" in out
    assert read_json(store_file(state_dir))["profiles"]["anthropic:manual"]["token"] == SETUP_TOKEN
    with pytest.raises(SystemExit) as info:
        cli.main(["models", "auth", "paste-token", "--provider", "anthropic", SETUP_TOKEN])
    assert info.value.code == 2
    assert SETUP_TOKEN not in capsys.readouterr().err


def test_order_commands(capsys, state_dir: Path) -> None:
    run(capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY)
    run(capsys, "onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic",
        "--token", SETUP_TOKEN, "--token-profile-id", "anthropic:manual")  # fmt: skip
    code, out, _ = run(
        capsys,
        "models",
        "auth",
        "order",
        "set",
        "--provider",
        "anthropic",
        "anthropic:manual",
        "anthropic:default",
    )
    assert code == 0 and "anthropic:manual, anthropic:default" in out
    code, out, _ = run(capsys, "models", "auth", "order", "get", "--provider", "anthropic", "--json")
    assert json.loads(out) == {  # the gateway's keys
        "agentId": "main",
        "agentDir": str(state_dir / "agents" / "main" / "agent"),
        "provider": "anthropic",
        "authStorePath": "~/.clawdbot/agents/main/agent/auth-profiles.json",
        "order": ["anthropic:manual", "anthropic:default"],
    }
    code, out, err = run(
        capsys, "models", "auth", "order", "set", "--provider", "anthropic", "anthropic:ghost"
    )
    assert code == 1 and "Not a stored anthropic profile: anthropic:ghost" in err and "Traceback" not in err
    assert run(capsys, "models", "auth", "order", "clear", "--provider", "anthropic")[0] == 0
    out = run(capsys, "models", "auth", "order", "get", "--provider", "anthropic")[1]
    assert "Order override: (none)" in out and "round robin" in out
    assert (
        json.loads(run(capsys, "models", "auth", "order", "get", "--provider", "Anthropic", "--json")[1])[
            "order"
        ]
        is None
    )


def test_agent_flag_isolates_stores(capsys, state_dir: Path) -> None:
    run(
        capsys,
        "onboard",
        "--non-interactive",
        "--auth-choice",
        "apiKey",
        "--anthropic-api-key",
        API_KEY,
        "--agent",
        "research",
    )
    assert store_file(state_dir, "research").exists()
    assert not store_file(state_dir).exists()
    code, _, err = run(capsys, "models", "status", "--agent", "../etc")
    assert code == 1 and "Invalid agent id" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["onboard", "--non-interactive", "--auth-choice", "apiKey"], "No API key given"),
        (["onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic", "--token", "sk-ant-oat01-x"],
         "Token looks too short; paste the full setup-token"),
        (["onboard", "--non-interactive", "--auth-choice", "setup-token"], 'Auth choice "setup-token" requires interactive mode'),
        (["onboard", "--non-interactive", "--auth-choice", "claude-cli"], "No Claude Code CLI login found"),
        (["onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", SETUP_TOKEN], "not an API key"),
    ],
)  # fmt: skip
def test_bad_input_exits_1_with_one_line(capsys, state_dir: Path, argv: list[str], message: str) -> None:
    code, _out, err = run(capsys, *argv)
    assert code == 1
    assert err.startswith("clawdbot-nb: error: ") and message in err
    assert "Fix:" in err and len(err.strip().splitlines()) == 1
    assert SETUP_TOKEN not in err


def test_broken_store_is_exit_1_and_untouched(capsys, state_dir: Path) -> None:
    path = store_file(state_dir)
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "profiles": {')
    code, _, err = run(
        capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY
    )
    assert code == 1 and f"{path}:1:" in err and "not valid JSON5" in err
    assert path.read_text() == '{"version": 1, "profiles": {'


def test_usage_errors_exit_2(capsys) -> None:
    assert cli.main([]) == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["models", "status", "--bogus"])
    assert info.value.code == 2
    assert cli.main(["models"]) == 2


def test_interrupt_exits_130(capsys, monkeypatch) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("clawdbot_nb.commands.auth._run_status", interrupted)
    assert cli.main(["models", "status"]) == 130


def test_debug_shows_the_traceback(capsys) -> None:
    with pytest.raises(Exception, match="No API key given"):
        cli.main(["--debug", "onboard", "--non-interactive", "--auth-choice", "apiKey"])


def test_console_script_and_module_run_without_traceback(state_dir: Path) -> None:
    env = {**os.environ}
    for command in (
        [sys.executable, "-m", "clawdbot_nb", "models", "status", "--check"],
        [str(Path(sys.executable).parent / "clawdbot-nb"), "models", "status", "--check"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 1, done.stderr
        assert "Missing auth" in done.stdout and "Traceback" not in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "clawdbot_nb", "onboard", "--non-interactive", "--auth-choice", "apiKey"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_onboard_without_flags_needs_a_terminal(capsys, monkeypatch) -> None:
    monkeypatch.setattr("clawdbot_nb.commands.auth._interactive", lambda: False)
    code, _, err = run(capsys, "onboard")
    assert code == 1 and "needs a terminal" in err and "--non-interactive" in err


class _Stdin:
    def __init__(self, text: str) -> None:
        self.text = text

    def isatty(self) -> bool:
        return False

    def read(self, size: int = -1) -> str:
        return self.text if size < 0 else self.text[:size]
