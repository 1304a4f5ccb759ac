#!/usr/bin/env python3
"""The project's set-up commands; needs nothing but python3.

    python3 dev.py demo     run the main job (offline, no key, no network)
    python3 dev.py test     run the whole test suite
    python3 dev.py bench    run the benchmarks in bench/
    python3 dev.py lint     ruff

Each command first makes sure `.venv/` exists and holds this checkout installed with its
`dev` extra; the install is redone only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".clawdbot-nb-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    print("dev.py: installing clawdbot_nb[dev] into .venv", flush=True)
    quiet = ["-q"] if os.environ.get("CI") != "true" else []
    if _run(PYTHON, "-m", "pip", "install", *quiet, "--upgrade", "pip") != 0:
        sys.exit("dev.py: could not upgrade pip in .venv")
    if _run(PYTHON, "-m", "pip", "install", *quiet, "-e", ".[dev]") != 0:
        sys.exit("dev.py: installing the package failed (see pip's message above)")
    STAMP.write_text(wanted + "\n")


def demo(args: list[str]) -> int:
    """Onboard two demo profiles into a throwaway state dir and show `models status`."""
    import shutil

    state = ROOT / "out" / "demo-state"
    shutil.rmtree(state, ignore_errors=True)
    env = {**os.environ, "CLAWDBOT_STATE_DIR": str(state), "CLAUDE_CONFIG_DIR": str(state / "claude")}
    cli = [PYTHON, "-m", "clawdbot_nb"]
    demo_key = "sk-ant-api03-demo-not-a-real-key-" + "0" * 60 + "DEMO"
    demo_token = "sk-ant-oat01-demo-not-a-real-token-" + "0" * 60 + "DEMO"
    steps = [
        [*cli, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", demo_key],
        [*cli, "onboard", "--non-interactive", "--auth-choice", "token", "--token-provider", "anthropic",
         "--token", demo_token, "--token-profile-id", "anthropic:manual", "--token-expires-in", "365d"],
        [*cli, "models", "status"],
    ]  # fmt: skip
    for step in steps:
        status = _run(*step, env=env)
        if status:
            return status
    print(f"\ndemo state dir: {state}")
    return 0


def test(args: list[str]) -> int:
    # Two workers fit the 2-core CI machine; -n0 (or any -n) on the command line wins.
    workers = [] if any(a.startswith("-n") for a in args) else ["-n", "2"]
    return _run(PYTHON, "-m", "pytest", *workers, *args)


def bench(args: list[str]) -> int:
    scripts = sorted((ROOT / "bench").glob("bench_*.py"))
    chosen = [s for s in scripts if not args or any(a in s.name for a in args)]
    status = 0
    for script in chosen:
        print(f"== {script.name}", flush=True)
        status |= _run(PYTHON, script)
    return status


def lint(args: list[str]) -> int:
    return _run(PYTHON, "-m", "ruff", "check", ".", *args) or _run(
        PYTHON, "-m", "ruff", "format", "--check", "."
    )


COMMANDS = {"demo": demo, "test": test, "bench": bench, "lint": lint}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 2
    ensure_venv()
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
