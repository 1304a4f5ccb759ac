"""Helpers of the gateway interop tests: run both sides, compare, record the figures."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clawdbot_nb import cli
from tests.gateway.compare import compare_status
from tests.gateway.conftest import Gateway

MIN, HOUR = 60_000, 3_600_000
OTHER_TOKEN = "sk-ant-oat01-" + "b3RoZXJzZXR1cHRva2Vu" * 4 + "-OTH2"


def ours(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out


def in_parallel(*calls):
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(call) for call in calls]
        return [f.result() for f in futures]


def store_of(state_dir: Path, agent: str = "main") -> Path:
    return state_dir / "agents" / agent / "agent" / "auth-profiles.json"


def assert_same_status(
    record_property,
    gateway: Gateway,
    capsys,
    *,
    env: dict[str, str] | None = None,
    agent: str | None = None,
    also: tuple[tuple[str, ...], ...] = (),
) -> tuple[dict, list]:
    """Both sides' `models status --json --check` on the state as it is: same document (but
    masks), same exit code. `also`: more gateway commands to run meanwhile (node start-up is
    the slow part). Returns the gateway's document and the results of `also`."""
    gateway_env = dict(env or {})
    our_args = ["models", "status", "--json", "--check"]
    if agent is not None:
        gateway_env["CLAWDBOT_AGENT_DIR"] = str(gateway.state_dir / "agents" / agent / "agent")
        our_args += ["--agent", agent]
    theirs, *others = in_parallel(
        lambda: gateway.run("models", "status", "--json", "--check", env=gateway_env),
        *[lambda args=args: gateway.run(*args, env=gateway_env) for args in also],
    )
    code, out = ours(capsys, *our_args)
    comparison = compare_status(theirs.json(), json.loads(out))
    assert comparison.differences == [], "\n".join(comparison.differences)
    assert code == theirs.returncode, (code, theirs.returncode, theirs.stderr)
    record_property("interop_fields_compared", comparison.fields)
    record_property("interop_states", 1)
    return theirs.json(), others


def point_gateway_at(simulator_url: str, config_path: Path) -> None:
    """The gateway ignores ANTHROPIC_BASE_URL; its config's provider entry moves it."""
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("models", {}).setdefault("providers", {})["anthropic"] = {
        "baseUrl": simulator_url,
        "models": [],
    }
    config_path.write_text(json.dumps(config, indent=2))
