"""`clawdbot-nb sim serve`: prints the URL and masked demo credentials, serves, stops on Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import anthropic
import pytest

from clawdbot_nb import sim
from clawdbot_nb.cli import main
from tests.sim.sim_support import MODEL


def _start(*args: str) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "clawdbot_nb", "sim", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or not lines[-1].startswith("Press Ctrl-C"):
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else "server exited"
        lines.append(line.rstrip("\n"))
    return process, lines


def _stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=10)
    return process.returncode, out


def test_sim_serve_prints_url_and_masked_credentials() -> None:
    process, lines = _start()
    try:
        base_url = lines[0].rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        text = "\n".join(lines)
        assert "sk-ant-api03-…orAA" in text and "sk-ant-oat01-…" in text
        for secret in (
            sim.DEMO_API_KEY,
            sim.DEMO_SETUP_TOKEN,
            sim.DEMO_OAUTH_ACCESS_TOKEN,
            sim.DEMO_OAUTH_REFRESH_TOKEN,
        ):
            assert secret not in text
        assert "clawdbot_nb.sim.DEMO_API_KEY" in text
        with anthropic.Anthropic(api_key=sim.DEMO_API_KEY, base_url=base_url, max_retries=0) as client:
            reply = client.messages.create(
                model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Reply with served."}]
            )
        assert reply.content[0].text == "served"
    finally:
        code, rest = _stop(process)
    assert code == 0
    assert "stopped" in rest


def test_sim_serve_extra_keys_and_credentials_file(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(
        json.dumps({"api_keys": [{"key": "sk-ant-api03-from-file-1234", "workspace": "wrk_file"}]})
    )
    process, lines = _start(
        "--no-demo", "--api-key", "sk-ant-api03-from-flag-5678", "--credentials", str(creds)
    )
    try:
        base_url = lines[0].rsplit(" ", 1)[-1]
        assert "Also accepting 2 configured credential(s)." in lines
        for key in ("sk-ant-api03-from-flag-5678", "sk-ant-api03-from-file-1234"):
            with anthropic.Anthropic(api_key=key, base_url=base_url, max_retries=0) as client:
                client.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}])
        with anthropic.Anthropic(api_key=sim.DEMO_API_KEY, base_url=base_url, max_retries=0) as client:
            try:
                client.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}])
                raise AssertionError("the demo key must be refused with --no-demo")
            except anthropic.AuthenticationError:
                pass
    finally:
        _stop(process)


def test_sim_serve_bad_credentials_file_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    creds = tmp_path / "creds.json"
    creds.write_text("{not json")
    assert main(["sim", "serve", "--credentials", str(creds)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("clawdbot-nb: error: ") and str(creds) in err and "Fix:" in err
    assert len(err.strip().splitlines()) == 1


def test_sim_without_subcommand_prints_help(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sim"]) == 2
    assert "serve" in capsys.readouterr().out


_SDK_CALL = (
    "import anthropic\n"
    "with anthropic.Anthropic(max_retries=0) as client:\n"
    "    reply = client.messages.create(model='claude-sonnet-4-6', max_tokens=8,\n"
    "        messages=[{'role': 'user', 'content': 'Reply with from the shell.'}])\n"
    "print(reply.content[0].text)\n"
)


@pytest.mark.parametrize("flags", [[], ["--setup-token"]], ids=["api_key", "setup_token"])
def test_sim_env_export_lines_point_the_sdk_at_it(tmp_path: Path, flags: list[str]) -> None:
    """`eval "$(clawdbot-nb sim env --port P)"` is all a terminal needs before an unmodified SDK call."""
    with sim.serve() as server:
        port = server.base_url.rsplit(":", 1)[-1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
        env.update(HOME=str(tmp_path), ANTHROPIC_AUTH_TOKEN="stale", ANTHROPIC_API_KEY="stale")
        script = (
            f'eval "$({shlex.quote(sys.executable)} -m clawdbot_nb sim env --port {port} {" ".join(flags)})" '
            f"&& {shlex.quote(sys.executable)} -c {shlex.quote(_SDK_CALL)}"
        )
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "from the shell"
        kind = "setup_token" if flags else "api_key"
        assert server.simulator.requests.last(path="/v1/messages").credential_kind == kind


def test_sim_env_fits_80_columns_bad_port_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sim", "env"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:8765" in out
    assert f"export ANTHROPIC_API_KEY={sim.DEMO_API_KEY}" in out
    assert all(len(line) <= 80 for line in out if line.startswith("#"))
    assert main(["sim", "env", "--port", "70000"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--port 70000" in err and "Fix:" in err
    assert main(["sim", "serve", "--log-size", "0"]) == 1
    assert "--log-size" in capsys.readouterr().err
