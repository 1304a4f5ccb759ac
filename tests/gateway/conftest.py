"""The real Clawdbot gateway CLI, run in each test's private world (temp HOME and state dir).

Where it comes from: `$CLAWDBOT_GATEWAY` (set by `.ci/run`, which runs
`.ci/install-gateway.sh`), else the team's shared installer if this machine has it. Without
either the tests skip, except in CI (`CI=true`), where a missing gateway is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED_INSTALLER = Path("/work/shared/tools/clawdbot-gateway.sh")
#: Node starts in ~5 s; a command that needs a request (probe, agent) takes longer.
COMMAND_TIMEOUT_S = 240


def _locate_gateway() -> tuple[str | None, str]:
    configured = os.environ.get("CLAWDBOT_GATEWAY", "").strip()
    if configured:
        if os.access(configured, os.X_OK):
            return configured, ""
        return None, f"CLAWDBOT_GATEWAY={configured} is not an executable"
    if SHARED_INSTALLER.is_file():
        done = subprocess.run(["bash", str(SHARED_INSTALLER)], capture_output=True, text=True, timeout=1800)
        path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        if done.returncode == 0 and os.access(path, os.X_OK):
            return path, ""
        return None, f"{SHARED_INSTALLER} failed: {done.stderr.strip()[-300:]}"
    return None, "no gateway: set CLAWDBOT_GATEWAY=$(bash .ci/install-gateway.sh)"


@pytest.fixture(scope="session")
def gateway_cli() -> str:
    path, why = _locate_gateway()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the gateway interop tests must run in CI: {why}")
        pytest.skip(why)
    return path


@dataclass
class GatewayRun:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        """The JSON document of a `--json` command (a sync log line may come first)."""
        start = self.stdout.find("{")
        assert start >= 0, f"no JSON in the gateway's output: {self.stdout!r} {self.stderr!r}"
        return json.loads(self.stdout[start:])


class Gateway:
    """Runs the gateway CLI against the test's HOME and CLAWDBOT_STATE_DIR, never the real ones."""

    def __init__(self, cli: str, home: Path, state_dir: Path) -> None:
        self.cli = cli
        self.home = home
        self.state_dir = state_dir

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "CLAWDBOT_STATE_DIR": str(self.state_dir),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        }
        env.update(extra)
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> GatewayRun:
        done = subprocess.run(
            [self.cli, *args],
            env=self.env(**(env or {})),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return GatewayRun(done.returncode, done.stdout, done.stderr)

    def node(self) -> str:
        """The Node binary the gateway runs on (for scripts that use the gateway's own code)."""
        launcher = Path(self.cli).read_text()
        for word in launcher.split():
            word = word.strip('"')
            if word.endswith("/bin/node") and os.access(word, os.X_OK):
                return word
        found = shutil.which("node")
        assert found, "no node binary for the gateway"
        return found

    def dist(self) -> Path:
        """The gateway's `dist/` folder (its compiled code, read only)."""
        launcher = Path(self.cli).read_text()
        for word in launcher.split():
            word = word.strip('"')
            if word.endswith("dist/entry.js"):
                return Path(word).parent
        raise AssertionError(f"cannot find dist/entry.js in {self.cli}")


@pytest.fixture
def gateway(gateway_cli: str, isolated_home: Path, state_dir: Path) -> Gateway:
    return Gateway(gateway_cli, isolated_home, state_dir)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.gateway)
            item.add_marker(pytest.mark.slow)
