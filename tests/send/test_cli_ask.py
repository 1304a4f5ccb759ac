"""`clawdbot-nb ask` and `clawdbot-nb usage` against a loopback simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from clawdbot_nb import cli, sim
from tests.send.conftest import LONG_SYSTEM, store_api_key


@pytest.fixture
def server(agent, monkeypatch):
    store_api_key(agent, sim.DEMO_API_KEY)
    with sim.serve() as running:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.base_url)
        yield running


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ask_prints_the_reply_then_a_usage_line(capsys, server, tmp_path) -> None:
    system_file = tmp_path / "system.txt"
    system_file.write_text(LONG_SYSTEM)
    code, out, err = run(capsys, "ask", "--system-file", str(system_file), "What is caching?")
    assert code == 0 and out.startswith('Simulated reply to: "What is caching?"')
    assert err.strip().startswith("write · in ") and "write 5m" in err and "cost $" in err
    code, out, err = run(
        capsys, "ask", "--ttl", "1h", "--stream", "--system-file", str(system_file), "What is caching?"
    )
    assert code == 0 and err.strip().startswith("hit · ") and "hit 99%" in err and "TTL 1h" in err
    assert "marked system (one-shot)" in err


def test_usage_table_json_csv_and_summary(capsys, server) -> None:
    run(capsys, "ask", "--system", LONG_SYSTEM, "one")
    run(capsys, "ask", "--system", LONG_SYSTEM, "one")
    code, out, _ = run(capsys, "usage")
    assert code == 0 and "2 calls · 1 hit · hit ratio" in out
    code, out, _ = run(capsys, "usage", "--json")
    rows = json.loads(out)
    assert [r["hit"] for r in rows] == [False, True] and rows[1]["cache_read_tokens"] > 1000
    code, out, _ = run(capsys, "usage", "--csv")
    assert out.splitlines()[0].startswith("id,time,")
    code, out, _ = run(capsys, "usage", "--summary", "--by", "model", "--json")
    (summary,) = json.loads(out)
    assert summary["model"] == "claude-sonnet-5-5" and summary["calls"] == 2


def test_usage_before_any_call(capsys, state_dir) -> None:
    code, out, _ = run(capsys, "usage")
    assert code == 0 and "No calls recorded yet" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", "--model", "claude-nope", "hi"], "Unknown model"),
        (["ask", "--max-tokens", "0", "hi"], "max_tokens must be a whole number"),
        (["ask", ""], "The prompt is empty"),
        (["ask", "--system-file", "/nonexistent/file.txt", "hi"], "Cannot read --system-file"),
        (["ask", "--profile", "anthropic:ghost", "hi"], "No credentials found for profile anthropic:ghost"),
    ],
)
def test_ask_errors_are_one_line_exit_1(capsys, server, argv, message) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 1 and message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_ask_with_no_profile_for_a_new_agent(capsys, server) -> None:
    code, _, err = run(capsys, "ask", "--agent", "fresh", "hi")
    assert code == 1 and 'No API key found for provider "anthropic"' in err and "--agent fresh" in err


def test_ask_reads_the_prompt_from_stdin_in_a_real_process(server) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "clawdbot_nb", "ask", "-"],
        input="piped question",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith('Simulated reply to: "piped question"')
