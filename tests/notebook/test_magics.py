"""The %clawdbot magics in an IPython shell: loading, help, settings, expansion, sending, errors."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from clawdbot_nb import sim
from clawdbot_nb.notebook.extension import magics_of

LONG_DOC = "A long, stable document about prompt caching and cache breakpoints. " * 60


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


@pytest.fixture
def ip(shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch):
    """The shell with the extension loaded for one test, unloaded (and the simulator stopped) after.

    The shell stands for a notebook's kernel: its front-end shows rich output and updates displays
    (terminal IPython is tested for real in test_terminal.py)."""
    monkeypatch.setattr("clawdbot_nb.notebook.display.in_kernel", lambda: True)
    shell.run_line_magic("load_ext", "clawdbot_nb")
    yield shell
    shell.run_line_magic("unload_ext", "clawdbot_nb")
    for name in ("doc", "reply", "key", "q"):
        shell.user_ns.pop(name, None)
    shell.config.pop("ClawdbotMagics", None)


def line(ip: InteractiveShell, text: str):
    with capture_output() as captured:
        result = ip.run_line_magic("clawdbot", text)
    return result, captured


def cell(ip: InteractiveShell, options: str, body: str):
    with capture_output() as captured:
        result = ip.run_cell_magic("clawdbot", options, body)
    return result, captured


@pytest.fixture
def simulated(ip: InteractiveShell):
    """A running simulator (sandboxed) with the demo API key onboarded."""
    line(ip, "sim start")
    line(ip, "onboard --non-interactive --auth-choice apiKey --anthropic-api-key $CLAWDBOT_SIM_API_KEY")
    ip.user_ns["doc"] = LONG_DOC
    return ip


def test_load_unload_reload(shell: InteractiveShell) -> None:
    assert "clawdbot" not in shell.magics_manager.magics["line"]
    for _ in range(2):
        shell.run_line_magic("load_ext", "clawdbot_nb")
        shell.run_line_magic("load_ext", "clawdbot_nb")  # a second load changes nothing
        magics = magics_of(shell)
        assert shell.magics_manager.magics["line"]["clawdbot"] == magics.clawdbot
        assert shell.magics_manager.magics["cell"]["clawdbot"] == magics.clawdbot
        assert sum(type(c).__name__ == "ClawdbotMagics" for c in shell.configurables) == 1
        shell.run_line_magic("unload_ext", "clawdbot_nb")
        assert "clawdbot" not in shell.magics_manager.magics["line"]
        assert "clawdbot" not in shell.magics_manager.magics["cell"]
        assert not any(type(c).__name__ == "ClawdbotMagics" for c in shell.configurables)
    shell.run_line_magic("load_ext", "clawdbot_nb")
    shell.run_line_magic("reload_ext", "clawdbot_nb")
    assert "clawdbot" in shell.magics_manager.magics["line"]
    shell.run_line_magic("unload_ext", "clawdbot_nb")


def test_help_everywhere(ip) -> None:
    _, captured = line(ip, "")
    assert "Line magic" in captured.stdout and "%%clawdbot" in captured.stdout
    _, captured = line(ip, "--help")
    assert "usage: %clawdbot" in captured.stdout and "onboard" in captured.stdout and "sim" in captured.stdout
    for command in (
        "ask --help",
        "models status --help",
        "usage --help",
        "sim start --help",
        "profiles --help",
    ):
        _, captured = line(ip, command)
        assert captured.stdout.startswith("usage: %clawdbot"), command
    _, captured = cell(ip, "--help", "ignored")
    assert "usage: %%clawdbot" in captured.stdout and "--ttl" in captured.stdout
    assert "prompt caching" in ip.find_line_magic("clawdbot").__doc__


def test_settings_through_config(ip) -> None:
    ip.run_line_magic("config", 'ClawdbotMagics.ttl = "1h"')
    ip.run_line_magic("config", 'ClawdbotMagics.stream_mode = "append"')
    magics = magics_of(ip)
    assert (magics.ttl, magics.stream_mode) == ("1h", "append")
    # %config reports a bad value and keeps the old one.
    with capture_output() as captured:
        ip.run_line_magic("config", 'ClawdbotMagics.stream_mode = "sideways"')
        ip.run_line_magic("config", "ClawdbotMagics.max_tokens = 0")
    assert (magics.stream_mode, magics.max_tokens) == ("append", 1024)
    assert "ignoring the setting ClawdbotMagics.stream_mode" in captured.stderr
    assert "expected any of ['update', 'append', 'final']" in captured.stderr
    # A bad setting left in the config does not stop the next load; it is reported and skipped.
    ip.config.ClawdbotMagics.max_tokens = 0
    ip.run_line_magic("unload_ext", "clawdbot_nb")
    with capture_output() as captured:
        ip.run_line_magic("load_ext", "clawdbot_nb")
    assert "ignoring the setting ClawdbotMagics.max_tokens: max_tokens must be at least 1" in captured.stderr
    assert magics_of(ip).max_tokens == 1024
    ip.run_line_magic("config", 'ClawdbotMagics.ttl = ""')
    ip.run_line_magic("config", 'ClawdbotMagics.stream_mode = "update"')


def test_sim_start_sandboxes_and_stop_restores(ip, state_dir) -> None:
    before = {k: os.environ.get(k) for k in ("ANTHROPIC_BASE_URL", "CLAWDBOT_STATE_DIR", "CLAUDE_CONFIG_DIR")}
    _, captured = line(ip, "sim start")
    assert "Simulator running at http://127.0.0.1:" in captured.stdout
    assert sim.DEMO_API_KEY not in captured.stdout and "sk-ant-api03-…" in captured.stdout
    assert os.environ["ANTHROPIC_BASE_URL"].startswith("http://127.0.0.1:")
    assert os.environ["CLAWDBOT_STATE_DIR"] != before["CLAWDBOT_STATE_DIR"]
    _, captured = line(ip, "sim start")
    assert "already running" in captured.stdout
    line(ip, "sim stop")
    assert {k: os.environ.get(k) for k in before} == before
    assert "CLAWDBOT_SIM_API_KEY" not in os.environ
    assert not state_dir.exists()  # the real state dir was never written


def test_onboard_with_an_environment_variable_and_no_secret_in_output(simulated) -> None:
    table, captured = line(simulated, "profiles")
    assert captured.stderr == ""
    frame = table.frame
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == ["anthropic:default"]
    assert frame.loc["anthropic:default", "secret"] == "sk-ant-api03-…orAA"
    assert sim.DEMO_API_KEY not in frame.to_string() + table.html() + table.text()


def test_unset_dollar_variable_is_one_line(ip) -> None:
    _, captured = line(
        ip, "onboard --non-interactive --auth-choice apiKey --anthropic-api-key $NOT_SET_ANYWHERE"
    )
    assert captured.stderr.startswith("clawdbot: $NOT_SET_ANYWHERE is not set")
    assert captured.stderr.count("\n") == 1


def test_a_literal_secret_in_a_cell_is_warned_about(ip) -> None:
    literal = "sk-ant-api03-" + "L" * 60 + "LITL"
    _, captured = line(ip, f"onboard --non-interactive --auth-choice apiKey --anthropic-api-key {literal}")
    assert "warning: this cell holds a literal secret (sk-ant-api03-…LITL)" in captured.stderr
    assert literal not in captured.stderr + captured.stdout


def test_cell_magic_streams_interpolates_and_binds(simulated) -> None:
    simulated.user_ns["q"] = "What is a cache breakpoint?"
    _, first = cell(simulated, "--system {doc} --stream-mode append", "Question: {q}")
    assert 'Simulated reply to: "Question: What is a cache breakpoint?"' in first.stdout
    assert "— write · " in first.outputs[-1].data["text/plain"]
    _, second = cell(simulated, "--system {doc} -o reply --stream-mode final", "Question: {q}")
    reply = simulated.user_ns["reply"]
    assert reply.verdict == "hit" and reply.usage.cache_read_tokens > 1000
    assert second.outputs[0].data["text/markdown"].startswith("Simulated reply to:")
    # The system prompt is read; the one-shot question is sent uncached (planner.py).
    assert "hit 98%" in second.outputs[-1].data["text/html"]
    assert "marked system (one-shot)" in second.outputs[-1].data["text/html"]
    assert magics_of(simulated).last_reply is reply


def test_raw_cells_and_unknown_names_stay_as_written(simulated) -> None:
    cell(simulated, "--raw -o reply --stream-mode final", "Keep {doc} and {unknown} literally")
    assert 'Keep {doc} and {unknown} literally"' in simulated.user_ns["reply"].text
    cell(simulated, "-o reply --stream-mode final", "{missing} stays, {{braces}} unescape")
    assert simulated.user_ns["reply"].text.startswith(
        'Simulated reply to: "{missing} stays, {braces} unescape"'
    )


def test_update_mode_renders_one_markdown_output(simulated) -> None:
    _, captured = cell(simulated, "--system {doc}", "Tell me more")
    markdowns = [o for o in captured.outputs if "text/markdown" in o.data]
    assert markdowns and markdowns[-1].data["text/markdown"].startswith("Simulated reply to:")


def test_ttl_setting_and_oauth_note_in_the_footer(simulated) -> None:
    line(
        simulated,
        "onboard --non-interactive --auth-choice token --token-provider anthropic --token $CLAWDBOT_SIM_SETUP_TOKEN --token-profile-id anthropic:sub",
    )
    _, captured = cell(simulated, "--system {doc} --ttl 1h --profile anthropic:sub --stream-mode final", "Hi")
    footer = captured.outputs[-1].data["text/plain"]
    assert "TTL 5m (TTL ignored for OAuth/setup-token credentials" in footer


def test_ask_line_usage_and_plot(simulated) -> None:
    line(simulated, 'ask "How big is the cache?" --system-file /dev/null')
    line(simulated, "ask 'How big is the cache?' --stream")
    table, _ = line(simulated, "usage")
    frame = table.frame
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2
    assert frame["cell"].notna().all()
    summary, _ = line(simulated, "usage --summary --by ttl_applied")
    assert summary.frame.loc["5m", "calls"] == 2
    _, captured = line(simulated, "usage --plot")
    assert any("image/png" in o.data for o in captured.outputs)
    _, captured = line(simulated, "usage --json")
    assert '"cache_read_tokens"' in captured.stdout


def test_models_status_and_check(simulated) -> None:
    _, captured = line(simulated, "models status --check")
    assert "anthropic:default=sk-ant-api03-…orAA" in captured.stdout
    assert "check: exit code 0 — ok" in captured.stdout


def test_errors_are_one_line_and_debug_shows_the_traceback(simulated) -> None:
    _, captured = cell(simulated, "--model claude-made-up", "hello")
    assert captured.stderr.startswith("clawdbot: Unknown model") and captured.stderr.count("\n") == 1
    _, captured = line(simulated, "ask hello --ttl 2h")
    assert "invalid choice: '2h'" in captured.stderr
    _, captured = line(simulated, "frobnicate")
    assert "invalid choice: 'frobnicate'" in captured.stderr
    simulated.run_line_magic("config", "ClawdbotMagics.debug = True")
    with pytest.raises(Exception, match="Unknown model"):
        simulated.run_cell_magic("clawdbot", "--model claude-made-up", "hello")
    simulated.run_line_magic("config", "ClawdbotMagics.debug = False")
    with pytest.raises(Exception, match="Unknown model"):  # --debug: this one command only
        simulated.run_line_magic("clawdbot", "--debug ask hello --model claude-made-up")
    _, captured = line(simulated, "ask hello --model claude-made-up")
    assert captured.stderr.startswith("clawdbot: Unknown model")


def test_no_profile_message_for_a_new_agent(simulated) -> None:
    _, captured = cell(simulated, "--agent research", "hello")
    assert captured.stderr.startswith(
        'clawdbot: No API key found for provider "anthropic" (agent "research")'
    )


def test_onboard_without_widgets_uses_hidden_prompts(ip, monkeypatch) -> None:
    answers = iter(["1"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    secrets: list[str] = []
    pasted = iter([sim.DEMO_API_KEY, sim.DEMO_API_KEY, sim.DEMO_SETUP_TOKEN])

    def fake_getpass(prompt: str = "") -> str:
        secrets.append(prompt)
        return next(pasted)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    line(ip, "sim start")
    _, captured = line(ip, "onboard")
    assert secrets == ["Paste Anthropic API key (hidden): "]
    assert "Saved anthropic:default (api_key sk-ant-api03-…orAA)" in captured.stdout
    assert sim.DEMO_API_KEY not in captured.stdout
    secrets.clear()
    _, captured = line(ip, "models auth paste-token --provider anthropic --profile-id anthropic:pasted")
    # An API key pasted as a token is refused and asked again; the setup-token is stored.
    assert secrets == ["Paste token for anthropic (hidden): "] * 2
    assert "not a setup-token" in captured.stdout and "anthropic:pasted" in captured.stdout
    assert sim.DEMO_API_KEY not in captured.stdout + captured.stderr
    line(ip, "sim stop")


def test_advance_moves_the_simulator_clock(simulated) -> None:
    cell(simulated, "--system {doc} -o reply --stream-mode final", "Q")
    line(simulated, "sim advance 6m")
    cell(simulated, "--system {doc} -o reply --stream-mode final", "Q")
    assert simulated.user_ns["reply"].verdict == "write"
    _, captured = line(simulated, "sim advance soon")
    assert captured.stderr.startswith("clawdbot:")


# -- mistakes a user can make, each one line with a fix in the notebook's words ---------------------


def test_a_bad_duration_for_the_clock_is_one_line_with_an_example(simulated) -> None:
    for duration in ("2x", "soon", "1.5.2h"):
        _, captured = line(simulated, f"sim advance {duration}")
        assert captured.stderr == (
            f"clawdbot: {duration!r} is not a duration. Fix: give one such as 90s, 6m, 1h or 1h30m, "
            "e.g. %clawdbot sim advance 6m\n"
        )


def test_ctrl_d_at_the_onboarding_prompt_cancels_without_a_traceback(ip, monkeypatch) -> None:
    def ctrl_d(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", ctrl_d)
    line(ip, "sim start")
    _, captured = line(ip, "onboard --no-widget")
    assert captured.stderr == "clawdbot: cancelled; nothing saved.\n"
    assert "unexpected" not in captured.stdout + captured.stderr
    line(ip, "sim stop")


def test_an_empty_prompt_says_what_to_write_in_the_notebook(simulated) -> None:
    _, captured = cell(simulated, "", "   ")
    assert captured.stderr.startswith("clawdbot: The prompt is empty. Fix: write the prompt under %%clawdbot")
    _, captured = line(simulated, "ask ''")
    assert "ws.ask" not in captured.stderr and "%clawdbot ask" in captured.stderr


def test_offline_names_the_host_and_what_to_check(ip, state_dir, monkeypatch) -> None:
    line(
        ip,
        "onboard --non-interactive --auth-choice apiKey --anthropic-api-key $KEY".replace(
            "$KEY", sim.DEMO_API_KEY
        ),
    )
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    _, captured = line(ip, "ask hello")
    assert captured.stderr.startswith("clawdbot: Cannot reach 127.0.0.1:9: ")
    assert "check the network, or ANTHROPIC_BASE_URL" in captured.stderr
    assert "%clawdbot sim start" in captured.stderr and captured.stderr.count("\n") == 1


def test_ask_takes_the_options_of_the_cell_magic(simulated) -> None:
    _, captured = line(simulated, "ask 'Keep {doc} as is' --raw --ttl none -o reply --stream-mode append")
    reply = simulated.user_ns["reply"]
    assert 'Simulated reply to: "Keep {doc} as is"' in captured.stdout  # append: plain text chunks
    assert reply.verdict == "off" and reply.plan.ttl_applied == "none"
    line(simulated, "ask 'Fill {doc}' -o reply --stream-mode final")
    assert "A long, stable document" in simulated.user_ns["reply"].text


# -- sandboxes never outlive their kernel ------------------------------------------------------------


def test_a_kernel_that_exits_without_sim_stop_leaves_no_sandbox(tmp_path) -> None:
    import subprocess
    import sys

    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'clawdbot_nb')\n"
        "ip.run_line_magic('clawdbot', 'sim start')\n"
        "ip.run_line_magic('clawdbot', 'onboard --non-interactive --auth-choice apiKey "
        "--anthropic-api-key $CLAWDBOT_SIM_API_KEY')\n"
        "import os; print('SANDBOX', os.environ['CLAWDBOT_STATE_DIR'])\n"
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    sandbox = done.stdout.split("SANDBOX ")[1].strip()
    assert sandbox.startswith(str(temp)) and "Saved anthropic:default" in done.stdout
    assert list(temp.iterdir()) == []  # removed at exit, auth-profiles.json with it


def test_sim_start_removes_the_sandboxes_of_dead_kernels(ip, tmp_path, monkeypatch) -> None:
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"clawdbot-nb-sandbox-{gone.pid}-abc123"
    live = tmp_path / f"clawdbot-nb-sandbox-{os.getppid()}-def456"  # a process that is alive
    other = tmp_path / "clawdbot-nb-sandbox-notapid"
    for folder in (stale, live, other):
        (folder / "clawdbot").mkdir(parents=True)
        (folder / "clawdbot" / "auth-profiles.json").write_text("{}")
    line(ip, "sim start")
    assert not stale.exists() and live.exists() and other.exists()
    ours = [p for p in tmp_path.iterdir() if p.name.startswith(f"clawdbot-nb-sandbox-{os.getpid()}-")]
    assert len(ours) == 1
    line(ip, "sim stop")
    assert not ours[0].exists()
