"""`cache`, `cache ttl`, `usage --what-if` and `--ttl auto` on the CLI and in the %clawdbot magics."""

from __future__ import annotations

import json
import re

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from clawdbot_nb import cli, sim
from clawdbot_nb.cache_tables import COUNTDOWN_CLASS
from clawdbot_nb.notebook.extension import magics_of
from clawdbot_nb.state import nb_settings
from tests.cache.conftest import LONG_SYSTEM


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def served(simulator, agent, monkeypatch):
    """The simulator on loopback, with this process's clients pointed at it."""
    with sim.serve(simulator) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        yield simulator


def test_cli_cache_before_and_after_calls(served, capsys) -> None:
    code, out, _ = run_cli(capsys, "cache")
    assert code == 0 and out.startswith("No calls watched yet for agent main")
    code, _, err = run_cli(capsys, "ask", "What is cached?", "--system", LONG_SYSTEM, "--ttl", "1h")
    assert code == 0 and "write" in err
    code, out, _ = run_cli(capsys, "cache")
    lines = out.splitlines()
    assert lines[0] == "Cached now"
    assert lines[1].split() == ["breakpoint", "tokens", "TTL", "expires", "in", "hits", "saved"]
    # The entry's size is the API's count: the call wrote the system prompt only (the one-shot
    # question is not marked), so it is the call's cache_creation as the simulator reported it.
    usage = served.requests.messages()[-1].usage
    written = usage["cache_creation_input_tokens"]
    assert written == usage["cache_creation"]["ephemeral_1h_input_tokens"] > 512
    assert lines[2].split()[:3] == ["system", f"{written:,}", "1h"]
    assert re.search(r"\b(59:\d\d|1 h 00 min)\b", lines[2])  # the CLI counts on the wall clock
    assert all(len(line) <= 80 for line in lines)
    assert lines[-1].startswith("1 live entry · extra $")
    code, out, _ = run_cli(capsys, "cache", "--json")
    assert [row["breakpoint"] for row in json.loads(out)] == ["system"]
    code, out, _ = run_cli(capsys, "cache", "--timeline")
    assert out.splitlines()[0] == "Cache entries over time" and out.count("write") == 1


def test_cli_ttl_auto_is_our_own_setting(served, agent, capsys) -> None:
    agent.config_path.write_text(json.dumps({"agents": {"defaults": {"models": {}}}}))
    before = agent.config_path.read_text()
    code, out, _ = run_cli(capsys, "cache", "ttl")
    assert code == 0 and out.startswith("claude-sonnet-5-5: 5m, from the default")
    code, out, _ = run_cli(capsys, "cache", "ttl", "auto")
    assert code == 0 and "set to auto" in out and "the gateway's config is not changed" in out
    assert nb_settings.cache_ttl(agent.state_dir, "claude-sonnet-5-5").ttl == "auto"
    assert agent.config_path.read_text() == before
    code, _, err = run_cli(capsys, "ask", "q", "--system", LONG_SYSTEM)
    assert "TTL 1h (auto: " in err
    code, out, _ = run_cli(capsys, "cache", "ttl", "--clear")
    assert "cleared" in out and nb_settings.cache_ttl(agent.state_dir, "claude-sonnet-5-5") is None
    with pytest.raises(SystemExit) as exited:
        cli.main(["cache", "ttl", "2h"])
    assert exited.value.code == 2 and "invalid choice: '2h'" in capsys.readouterr().err


def test_cli_ask_ttl_auto_and_usage_what_if(served, capsys) -> None:
    for question in ("first", "second"):
        code, _, err = run_cli(capsys, "ask", question, "--system", LONG_SYSTEM, "--ttl", "auto")
        assert code == 0
    assert "TTL 5m (auto: the prefix is cached (1h, until" in err
    code, out, _ = run_cli(capsys, "usage", "--what-if")
    lines = out.splitlines()
    assert lines[0] == "Your 2 calls under each TTL policy"
    assert [line.split()[0] for line in lines[2:7]] == ["paid", "replayed", "always-5m", "always-1h", "auto"]
    assert lines[-1].startswith("2 calls: paid $")
    code, out, _ = run_cli(capsys, "usage", "--what-if", "--json")
    rows = {row["policy"]: row for row in json.loads(out)}
    assert rows["replayed as sent"]["cost_usd"] == pytest.approx(rows["paid"]["cost_usd"], rel=1e-9)


# -- the magics ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


@pytest.fixture
def ip(shell, monkeypatch, state_dir):
    monkeypatch.setattr("clawdbot_nb.notebook.display.in_kernel", lambda: True)
    shell.run_line_magic("load_ext", "clawdbot_nb")
    with capture_output():
        shell.run_line_magic("clawdbot", "sim start")
        shell.run_line_magic(
            "clawdbot",
            "onboard --non-interactive --auth-choice apiKey --anthropic-api-key $CLAWDBOT_SIM_API_KEY",
        )
    shell.user_ns["doc"] = LONG_SYSTEM
    yield shell
    with capture_output():
        shell.run_line_magic("clawdbot", "sim stop")
    shell.run_line_magic("unload_ext", "clawdbot_nb")
    shell.user_ns.pop("doc", None)
    shell.config.pop("ClawdbotMagics", None)


def magic(ip, line: str, cell: str | None = None):
    with capture_output() as captured:
        if cell is None:
            result = ip.run_line_magic("clawdbot", line)
        else:
            result = ip.run_cell_magic("clawdbot", line, cell)
    return result, captured


def test_magic_ttl_auto_cache_table_timeline_and_what_if(ip) -> None:
    magic(ip, "--ttl auto --system {doc}", "What is cached?")
    reply = magics_of(ip).last_reply
    assert reply.plan.ttl_requested == "auto" and reply.plan.ttl_applied == "1h"
    assert "auto: no history yet" in reply.footer()
    magic(ip, "sim advance 70m")
    magic(ip, "--ttl auto --system {doc}", "What is cached?")
    reply = magics_of(ip).last_reply
    assert reply.why_miss.code == "expired" and "why: expired: gap 70 min > 1 h" in reply.footer()

    view, _ = magic(ip, "cache")
    html = view._repr_html_()
    assert f'class="{COUNTDOWN_CLASS}"' in html and "<script>" in html and "setTimeout" in html
    assert list(view.frame["breakpoint"]) == ["system"]  # the one-shot question is not marked
    assert "system" in repr(view) and "expires in" in repr(view)

    table, captured = magic(ip, "cache --timeline")
    assert list(table.frame["event"]) == ["write", "expire", "write"]
    assert captured.outputs and "image/png" in captured.outputs[0].data

    result, _ = magic(ip, "usage --what-if")
    assert list(result.frame.index) == ["paid", "replayed as sent", "always-5m", "always-1h", "auto"]
    assert "<table" in result._repr_html_()


def test_magic_ttl_auto_from_config_and_our_setting(ip) -> None:
    ip.run_line_magic("config", 'ClawdbotMagics.ttl = "auto"')
    magic(ip, "--system {doc}", "q")
    assert magics_of(ip).last_reply.plan.ttl_requested == "auto"
    ip.run_line_magic("config", 'ClawdbotMagics.ttl = ""')
    _, captured = magic(ip, "cache ttl 1h")
    assert "set to 1h" in captured.stdout
    magic(ip, "--system {doc}", "q2")
    assert magics_of(ip).last_reply.plan.ttl_source == "clawdbot-nb settings cacheControlTtl"
