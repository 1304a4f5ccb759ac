"""`models status --probe`: one minimal request per profile, in the gateway's `auth.probes` shape."""

from __future__ import annotations

import json

import pytest

from clawdbot_nb import cli, sim
from clawdbot_nb.api import probe
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.status import models_status
from tests.state.fakes import write_json


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch):
    with sim.serve() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        yield server.simulator


def _profiles(agent: AgentState, **extra: dict) -> None:
    profiles = {
        "anthropic:default": {"type": "api_key", "provider": "anthropic", "key": sim.DEMO_API_KEY},
        "anthropic:manual": {"type": "token", "provider": "anthropic", "token": sim.DEMO_SETUP_TOKEN},
        **extra,
    }
    write_json(agent.agent_dir / "auth-profiles.json", {"version": 1, "profiles": profiles})


def test_probe_sends_one_request_per_profile(capsys, agent: AgentState, simulator) -> None:
    _profiles(agent, **{"openai:default": {"type": "api_key", "provider": "openai", "key": "sk-proj-xyz"}})
    simulator.faults.next(
        status=402, credential=sim.DEMO_SETUP_TOKEN, message="Your credit balance is too low"
    )
    assert cli.main(["models", "status", "--probe", "--json"]) == 0
    probes = json.loads(capsys.readouterr().out)["auth"]["probes"]
    assert probes["totalTargets"] == 2
    assert probes["options"] == {"profileIds": [], "timeoutMs": 8000, "concurrency": 2, "maxTokens": 8}
    assert probes["durationMs"] == probes["finishedAt"] - probes["startedAt"] >= 0
    results = {r["label"]: r for r in probes["results"]}
    ok = results["anthropic:default"]
    assert ok | {"latencyMs": 0} == {
        "provider": "anthropic", "model": "anthropic/claude-opus-4-5", "profileId": "anthropic:default",
        "label": "anthropic:default", "source": "profile", "mode": "api_key", "status": "ok", "latencyMs": 0,
    }  # fmt: skip
    assert (
        results["anthropic:manual"]["status"] == "billing"
        and "credit balance" in results["anthropic:manual"]["error"]
    )
    assert results["openai:default"]["status"] == "no_model"  # no openai model configured
    requests = [r for r in simulator.requests if r.path.endswith("/messages")]
    assert len(requests) == 2  # one per Anthropic profile, no retry
    assert all(r.status != 200 or r.usage["output_tokens"] <= 8 for r in requests)


def test_probe_honours_filters_and_the_explicit_order(capsys, agent: AgentState, simulator) -> None:
    _profiles(agent)
    data = json.loads((agent.agent_dir / "auth-profiles.json").read_text())
    data["order"] = {"anthropic": ["anthropic:manual"]}
    write_json(agent.agent_dir / "auth-profiles.json", data)
    report = models_status(agent)
    summary = probe.run_probes(agent, report, probe.ProbeOptions(concurrency=1))
    results = {r.label: r for r in summary.results}
    assert results["anthropic:default"].status == "unknown"
    assert results["anthropic:default"].error == "Excluded by auth.order for this provider."
    assert results["anthropic:manual"].status == "ok" and summary.total_targets == 1
    only = probe.run_probes(agent, report, probe.ProbeOptions(profile_ids=("anthropic:manual",)))
    assert [r.label for r in only.results] == ["anthropic:manual"]
    text = report.render()
    assert "Auth probes" in text and "Probed 1 target in " in text


def test_probe_of_the_environment_key(capsys, agent: AgentState, simulator, monkeypatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", sim.DEMO_API_KEY)
    assert cli.main(["models", "status", "--probe", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["auth"]["probes"]["results"]
    assert {k: result[k] for k in ("label", "source", "mode", "status")} == {
        "label": "env", "source": "env", "mode": "api_key", "status": "ok"
    }  # fmt: skip


def test_a_refused_key_is_an_auth_probe_with_a_masked_error(capsys, agent: AgentState, simulator) -> None:
    bad = "sk-ant-api03-" + "Z" * 60 + "-BAD1"
    write_json(
        agent.agent_dir / "auth-profiles.json",
        {
            "version": 1,
            "profiles": {"anthropic:default": {"type": "api_key", "provider": "anthropic", "key": bad}},
        },
    )
    assert cli.main(["models", "status", "--probe"]) == 0
    out = capsys.readouterr().out
    assert "auth · " in out and bad not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--probe", "--plain"], "--probe cannot be used with --plain output."),
        (["--probe", "--probe-timeout", "0"], "--probe-timeout must be a positive number"),
        (["--probe", "--probe-concurrency", "nan"], "--probe-concurrency must be a positive number"),
    ],
)
def test_bad_probe_flags(capsys, agent: AgentState, argv: list[str], message: str) -> None:
    assert cli.main(["models", "status", *argv]) == 1
    assert message in capsys.readouterr().err


def test_failure_status_reads_reason_then_status_then_text() -> None:
    class Failed(Exception):
        def __init__(self, text: str, status: int | None = None, reason: str | None = None) -> None:
            super().__init__(text)
            self.status, self.reason = status, reason

    assert probe.failure_status(Failed("x", 500, "rate_limit")) == "rate_limit"
    assert probe.failure_status(Failed("x", 401)) == "auth"
    assert probe.failure_status(Failed("request timed out")) == "timeout"
    assert probe.failure_status(Failed("weird")) == "unknown"


def test_the_probe_table_fits_an_80_column_terminal() -> None:
    from clawdbot_nb.state.status import ProbeResult, ProbeSummary

    long_error = "Anthropic rejected the API key for profile anthropic:bad (401 authentication_error). " * 2
    summary = ProbeSummary(
        0, 6189, 2, {},
        [ProbeResult("anthropic", "anthropic:default", "profile", "ok", "anthropic/claude-opus-4-5", "anthropic:default", "api_key", None, 376),
         ProbeResult("anthropic", "anthropic:bad", "profile", "auth", "anthropic/claude-opus-4-5", "anthropic:bad", "api_key", long_error, 120)],
    )  # fmt: skip
    lines = summary.render(width=79)
    assert all(len(line) <= 80 for line in lines)
    assert lines[-1] == "Probed 2 targets in 6.2s"
    assert lines[5].startswith("│ anthropic/claude-opus-4-5 │ anthropic:bad (api_key)")  # sorted by label
    assert " ".join(lines).count("rejected") == 2  # the error is wrapped, not cut
