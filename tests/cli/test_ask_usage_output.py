"""What `clawdbot-nb ask` and `clawdbot-nb usage` show a person at an 80-column terminal: tables
that fit, amounts in words, one-line errors with a fix in the CLI's words, `--version`."""

from __future__ import annotations

import pytest

from clawdbot_nb import cli, sim
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.onboarding import save_api_key

LONG_SYSTEM = "You answer questions about prompt caching, briefly and precisely. " * 80


@pytest.fixture
def agent(state_dir) -> AgentState:
    agent = AgentState.resolve()
    save_api_key(agent, sim.DEMO_API_KEY)
    return agent


@pytest.fixture
def server(agent, monkeypatch):
    with sim.serve() as running:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.base_url)
        yield running


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_usage_fits_80_columns_and_wide_shows_everything(capsys, server) -> None:
    for _ in range(2):
        run(capsys, "ask", "--system", LONG_SYSTEM, "What is a cache read?")
    code, out, _ = run(capsys, "usage")
    lines = out.splitlines()
    assert code == 0 and max(map(len, lines)) <= 80, out
    # The second call reads the system prompt; its one-shot question is not cached (planner.py).
    assert lines[0].split()[:3] == ["#", "TTL", "cache"] and "extra $0.0" in lines[1] and "99%" in lines[2]
    assert lines[-1].startswith("2 calls · 1 hit · hit ratio ") and "$-" not in out and "0.99" not in out
    code, out, _ = run(capsys, "usage", "--wide")
    assert "request id" in out.splitlines()[0] and "claude-sonnet-5-5" in out
    code, out, _ = run(capsys, "usage", "--summary", "--by", "ttl_applied")
    assert out.splitlines()[1].split()[:3] == ["5m", "2", "1"] and max(map(len, out.splitlines())) <= 80


def test_no_calls_yet_is_said_in_words(capsys, agent) -> None:
    code, out, _ = run(capsys, "usage")
    assert code == 0 and out.startswith("No calls recorded yet for agent main")
    assert "Empty DataFrame" not in out and "nan" not in out


def test_an_empty_prompt_says_how_to_give_one_on_the_command_line(capsys, agent) -> None:
    code, _, err = run(capsys, "ask", "  ")
    assert code == 1 and err.startswith("clawdbot-nb: error: The prompt is empty. Fix: give the prompt")
    assert "ws.ask" not in err and err.count("\n") == 1


def test_offline_names_the_host_and_what_to_check(capsys, agent, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    code, _, err = run(capsys, "ask", "hello")
    assert code == 1 and err.startswith("clawdbot-nb: error: Cannot reach 127.0.0.1:9: ")
    assert "check the network, or ANTHROPIC_BASE_URL" in err and "clawdbot-nb sim serve" in err
    assert "report the request id" not in err and err.count("\n") == 1


def test_ask_takes_ttl_none(capsys, server) -> None:
    code, _, err = run(capsys, "ask", "--ttl", "none", "--system", LONG_SYSTEM, "hello")
    assert code == 0 and err.startswith("off · ") and "TTL none" in err


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == "clawdbot-nb 0.1.0"
