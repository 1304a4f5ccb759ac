#!/usr/bin/env python3
"""The project's set-up commands; needs nothing but python3.

    python3 dev.py demo     run the main job: notebooks/quickstart.ipynb, offline (no key, no
                            network), saved executed as out/quickstart.ipynb and out/quickstart.html
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
import time
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".clawdbot-nb-installed"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def _run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


#: pip's lines worth showing while it works (the rest is shown only when it fails).
_PIP_PROGRESS = ("Collecting ", "Building ", "Installing collected packages", "Successfully installed")


def _pip(*args: str, what: str, attempts: int = 3) -> None:
    """Run pip in .venv, saying what it is fetching and installing as it goes (a first install takes
    a few minutes: JupyterLab, Playwright, pandas ...); its whole output only if it fails. A failed
    install is tried again (the registry may be briefly unreachable)."""
    print(f"dev.py: {what}", flush=True)
    command = [str(PYTHON), "-m", "pip", *args, "--progress-bar", "off", "--disable-pip-version-check"]
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        lines: list[str] = []
        with subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        ) as process:
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line)
                if line.startswith(_PIP_PROGRESS):
                    text = line.strip()
                    print(f"dev.py:   {text[:150]}{'…' if len(text) > 150 else ''}", flush=True)
        if process.returncode == 0:
            print(f"dev.py:   done in {time.monotonic() - started:.0f} s", flush=True)
            return
        sys.stdout.write("".join(lines))
        if attempt < attempts:
            print(f"dev.py: {what} failed (attempt {attempt}); trying again in {10 * attempt} s", flush=True)
            time.sleep(10 * attempt)
    sys.exit(f"dev.py: {what} failed (pip's output above)")


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted and PYTHON.exists():
        return
    if not PYTHON.exists():
        print("dev.py: creating .venv (the first time only)", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    _pip("install", "--upgrade", "pip", what="upgrading pip in .venv")
    _pip(
        "install",
        "-e",
        ".[dev]",
        what="installing clawdbot_nb[dev] into .venv (pyproject.toml changed or first run; "
        "the first install takes a few minutes)",
    )
    STAMP.write_text(wanted + "\n")


DEMO_NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"
OUT = ROOT / "out"
#: dev.py runs itself in .venv with this first argument to execute a notebook (nbclient lives there).
RUN_NOTEBOOK = "_run-notebook"
#: Variables of the user's machine the demo must not see: credentials, API addresses, state dirs.
_LEAKY_PREFIXES = ("ANTHROPIC_", "CLAWDBOT_", "MOLTBOT_", "OPENCLAW_", "CLAUDE_", "PI_CODING_AGENT")
#: Folders of the user's home that Python, IPython, Jupyter and matplotlib would otherwise use.
_HOME_DIRS = {
    "CLAWDBOT_STATE_DIR": ".clawdbot",
    "CLAUDE_CONFIG_DIR": ".claude",
    "IPYTHONDIR": ".ipython",
    "MPLCONFIGDIR": ".matplotlib",
    "JUPYTER_CONFIG_DIR": ".jupyter",
    "JUPYTER_DATA_DIR": ".local/share/jupyter",
    "JUPYTER_RUNTIME_DIR": ".local/share/jupyter/runtime",
    "XDG_CONFIG_HOME": ".config",
    "XDG_CACHE_HOME": ".cache",
    "XDG_DATA_HOME": ".local/share",
    # The simulator's sandbox is a temp dir: under out/ too.
    "TMPDIR": "tmp",
}


def demo_environment(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (the process environment) with every home folder moved into `home` and no
    Anthropic/Clawdbot/Claude variable, so the demo never reads or writes the user's real ones."""
    env = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.startswith(_LEAKY_PREFIXES) and name != "JUPYTER_PATH"
    }
    env.update({"HOME": str(home), "USERPROFILE": str(home)})
    env.update({name: str(home / folder) for name, folder in _HOME_DIRS.items()})
    # keyring must not reach the user's keychain either.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    return env


def demo(args: list[str]) -> int:
    """Run notebooks/quickstart.ipynb headless against the built-in simulator (no key, no network)
    and save it executed as out/quickstart.ipynb and out/quickstart.html."""
    import shutil

    home = OUT / "demo-home"
    shutil.rmtree(home, ignore_errors=True)
    (home / "tmp").mkdir(parents=True)
    print(f"dev.py: running {DEMO_NOTEBOOK.relative_to(ROOT)}; home and state dirs in {home}", flush=True)
    env = demo_environment(home)
    return _run(PYTHON, Path(__file__).resolve(), RUN_NOTEBOOK, DEMO_NOTEBOOK, OUT, env=env)


def execute_notebook(
    source: Path, out_dir: Path, *, env: dict[str, str] | None = None, timeout: int = 300
) -> tuple[Any, list[str]]:
    """Execute `source` in a `python3` kernel (working dir: the notebook's folder) and write it, with
    its outputs, to `out_dir` as .ipynb and .html. Returns the executed notebook and its problems:
    a failed cell, or a `clawdbot:` error line a magic printed instead of raising. Needs .venv."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(source.parent)}},
        # The kernel's start-up notes (e.g. TCP without CurveZMQ, on loopback) are not the demo's.
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )
    problems: list[str] = []
    try:
        client.execute(**({"env": env} if env is not None else {}))
    except Exception as error:  # a failed cell, a timeout or a dead kernel: report, keep the outputs
        problems.append(f"{type(error).__name__}: {error}")
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                problems += [
                    f"cell {cell.get('id')}: {line}"
                    for line in output.get("text", "").splitlines()
                    if line.startswith("clawdbot:")
                ]
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / source.stem
    stem.with_suffix(".ipynb").write_text(nbformat.writes(notebook), encoding="utf-8")
    body, _ = HTMLExporter().from_notebook_node(notebook)
    stem.with_suffix(".html").write_text(body, encoding="utf-8")
    return notebook, problems


def _run_notebook_command(args: list[str]) -> int:
    source, out_dir = Path(args[0]), Path(args[1])
    _, problems = execute_notebook(source, out_dir)
    stem = out_dir / source.stem
    print(f"dev.py: executed notebook {stem.with_suffix('.ipynb')}")
    print(f"dev.py: HTML copy         {stem.with_suffix('.html')} (open it in a browser)")
    if problems:
        print(f"dev.py: {source.name} failed:", *problems, sep="\n", file=sys.stderr)
        return 1
    return 0


def test(args: list[str]) -> int:
    # Two workers fit the 2-core CI machine; -n0 (or any -n) on the command line wins. loadfile
    # keeps the tests of one file in one worker (tests/browser shares one JupyterLab).
    workers = [] if any(a.startswith("-n") for a in args) else ["-n", "2", "--dist", "loadfile"]
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
    if argv[:1] == [RUN_NOTEBOOK]:  # dev.py itself, started in .venv by `demo`
        return _run_notebook_command(argv[1:])
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 2
    ensure_venv()
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
