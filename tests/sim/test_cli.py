"""`clawdbot-nb sim serve`: prints the URL and masked demo credentials, serves, stops on Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import anthropic

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
