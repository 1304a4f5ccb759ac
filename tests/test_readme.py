"""The README's runnable examples (a ```python block right after `<!-- runnable -->`) run as
printed on a fresh machine: a new HOME, no Anthropic or Clawdbot variables, no network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_RUNNABLE = re.compile(r"<!-- runnable -->\n```python\n(.*?)\n```", re.S)
_LEAKY = ("ANTHROPIC_", "CLAWDBOT_", "MOLTBOT_", "OPENCLAW_", "CLAUDE_", "PI_CODING_AGENT")


def runnable_blocks() -> list[str]:
    return _RUNNABLE.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_runnable_examples() -> None:
    assert len(runnable_blocks()) >= 2


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_a_readme_example_runs_as_printed_on_a_fresh_machine(index: int, tmp_path: Path) -> None:
    home, temp = tmp_path / "fresh-home", tmp_path / "tmp"
    home.mkdir()
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_LEAKY)}
    env.update(HOME=str(home), USERPROFILE=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring")
    env.update(TMPDIR=str(temp), MPLCONFIGDIR=str(home / ".matplotlib"))
    child = subprocess.run(
        [sys.executable, "-W", "error::ResourceWarning", "-c", runnable_blocks()[index]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip()
    assert not (home / ".clawdbot").exists(), "the example wrote into the (fresh) home's state dir"
    assert not list(temp.iterdir()), "a sandbox was left behind"
