"""clawdbot-nb next to the real Clawdbot gateway (npm `clawdbot@2026.1.24-3`), both directions.

Each test builds a state in a temp HOME/state dir, has one side write it and both sides read
it, and compares `models status` field by field (masks unified: the gateway shows 8 + 8
characters of a secret, we the known prefix + 4). The counts of fields compared, states and
reads during gateway writes are recorded as `interop_*` properties (summed at the end of the
run). Gateway commands take ~5 s each (node start-up), so independent ones run side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from clawdbot_nb import cli, sim
from clawdbot_nb.errors import ParseError
from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.cooldown import record_failure
from clawdbot_nb.state.status import models_status
from tests.gateway.compare import compare_status, compare_text
from tests.gateway.conftest import Gateway
from tests.state.fakes import API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, SETUP_TOKEN, write_json

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


# -- states written by us, read by the gateway ------------------------------------------------------


def test_states_we_write_read_the_same_by_the_gateway(gateway: Gateway, capsys, record_property) -> None:
    agent = AgentState.resolve()
    now = now_ms()
    # 1. Nothing yet: the gateway's default model, anthropic missing (--check 1).
    empty, _ = assert_same_status(record_property, gateway, capsys)
    assert empty["auth"]["missingProvidersInUse"] == ["anthropic"]

    # 2. An API key and setup-tokens onboarded by us: static, expiring in 3 h (--check 2).
    assert (
        ours(
            capsys, "onboard", "--non-interactive", "--auth-choice", "apiKey", "--anthropic-api-key", API_KEY
        )[0]
        == 0
    )
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:manual", expires_in="3h")
    onboarding.save_setup_token(agent, OTHER_TOKEN, profile_id="anthropic:work", expires_in="30d")
    assert (
        assert_same_status(record_property, gateway, capsys)[0]["auth"]["oauth"]["providers"][0]["status"]
        == "expiring"
    )

    # 3. A cooldown (2nd failure: 5 min) and a billing disable (5 h) written by us, an explicit
    #    order, an expired token (--check 1), a model config with fallbacks, aliases, an image model.
    def failures(store) -> None:
        stats = record_failure(
            store.stats("anthropic:default"), "rate_limit", now - 10_000, provider="anthropic"
        )
        stats = record_failure(stats, "rate_limit", now - 5_000, provider="anthropic")
        store.set_stats("anthropic:default", stats)
        store.set_stats(
            "anthropic:work",
            record_failure(store.stats("anthropic:work"), "billing", now, provider="anthropic"),
        )
        raw = store.data["profiles"]["anthropic:manual"]
        raw["expires"] = now - 2 * HOUR

    agent.store_file.update(failures)
    onboarding.set_order(agent, "anthropic", ["anthropic:work", "anthropic:default"])
    config = json.loads(agent.config_path.read_text())
    config["agents"] = {
        "defaults": {
            "model": {
                "primary": "anthropic/claude-sonnet-4-5",
                "fallbacks": ["anthropic/claude-haiku-4-5", "openai/gpt-5"],
            },
            "imageModel": {"primary": "anthropic/claude-haiku-4-5"},
            "models": {"anthropic/claude-sonnet-4-5": {"alias": "sonnet"}, "anthropic/claude-haiku-4-5": {}},
        }
    }
    agent.config_path.write_text(json.dumps(config, indent=2))
    blocked, (text_theirs, plain) = assert_same_status(
        record_property, gateway, capsys, also=(("models", "status"), ("models", "status", "--plain"))
    )
    kinds = {u["profileId"]: (u["kind"], u.get("reason")) for u in blocked["auth"]["unusableProfiles"]}
    assert kinds == {"anthropic:default": ("cooldown", None), "anthropic:work": ("disabled", "billing")}
    assert blocked["auth"]["missingProvidersInUse"] == ["openai"]
    _, text_ours = ours(capsys, "models", "status")
    assert compare_text(text_theirs.stdout, text_ours) == []
    assert (
        plain.stdout.strip()
        == ours(capsys, "models", "status", "--plain")[1].strip()
        == "anthropic/claude-sonnet-4-5"
    )
    record_property("interop_states", 1)


def test_claude_cli_oauth_and_environment_states(
    gateway: Gateway, capsys, record_property, monkeypatch
) -> None:
    home = gateway.home
    agent = AgentState.resolve()
    now = now_ms()
    # The Claude Code login where both look for it ($HOME/.claude): onboarded by us (opt-in).
    write_json(home / ".claude" / ".credentials.json", {"claudeAiOauth": {
        "accessToken": OAUTH_ACCESS, "refreshToken": OAUTH_REFRESH, "expiresAt": now + 30 * HOUR,
        "scopes": ["user:inference"], "subscriptionType": "max"}})  # fmt: skip
    onboarding.import_claude_cli(agent)
    # An OAuth login with an email in the config, and one without an expiry (status missing).
    agent.store_file.update(lambda store: store.data["profiles"].update({
        "anthropic:me@example.com": {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS,
                                     "refresh": OAUTH_REFRESH, "expires": now + 50 * HOUR, "email": "me@example.com"},
        "anthropic:noexpiry": {"type": "oauth", "provider": "anthropic", "access": OAUTH_ACCESS, "refresh": OAUTH_REFRESH},
    }))  # fmt: skip
    state, (text_theirs,) = assert_same_status(record_property, gateway, capsys, also=(("models", "status"),))
    assert compare_text(text_theirs.stdout, ours(capsys, "models", "status")[1]) == []
    sources = {p["profileId"]: p["source"] for p in state["auth"]["oauth"]["profiles"]}
    assert sources["anthropic:claude-cli"] == "claude-cli"


def test_environment_only_states(gateway: Gateway, capsys, record_property, monkeypatch) -> None:
    """No profile anywhere (the gateway would merge the main agent's into a sub-agent's view)."""
    gateway.state_dir.mkdir(parents=True, exist_ok=True)
    (gateway.state_dir / ".env").write_text(f"ANTHROPIC_API_KEY={API_KEY}\n")
    key, _ = assert_same_status(record_property, gateway, capsys)
    assert key["auth"]["providers"][0]["effective"]["kind"] == "env"
    monkeypatch.setenv("ANTHROPIC_OAUTH_TOKEN", SETUP_TOKEN)
    token, (text_theirs,) = assert_same_status(
        record_property,
        gateway,
        capsys,
        env={"ANTHROPIC_OAUTH_TOKEN": SETUP_TOKEN},
        agent="research",
        also=(("models", "status"),),
    )
    assert token["auth"]["providersWithOAuth"] == ["anthropic (1)"]
    assert compare_text(text_theirs.stdout, ours(capsys, "models", "status", "--agent", "research")[1]) == []


# -- states written by the gateway, read by us ------------------------------------------------------

ONBOARD_FLAGS = ("--non-interactive", "--accept-risk", "--mode", "local", "--skip-daemon", "--skip-channels",
                 "--skip-skills", "--skip-health", "--skip-ui")  # fmt: skip


def test_what_the_gateway_onboards_and_orders_we_read(gateway: Gateway, capsys, record_property) -> None:
    workspace = str(gateway.home / "clawd")
    key = gateway.run("onboard", *ONBOARD_FLAGS, "--workspace", workspace, "--auth-choice", "apiKey",
                      "--anthropic-api-key", API_KEY)  # fmt: skip
    assert key.returncode == 0, key.stdout + key.stderr
    token = gateway.run("onboard", *ONBOARD_FLAGS, "--workspace", workspace, "--auth-choice", "token",
                        "--token-provider", "anthropic", "--token", SETUP_TOKEN, "--token-profile-id",
                        "anthropic:manual", "--token-expires-in", "30d")  # fmt: skip
    assert token.returncode == 0, token.stdout + token.stderr
    store = AgentState.resolve().store_file.load()
    assert store.get("anthropic:default").secret == API_KEY
    assert store.get("anthropic:manual").secret == SETUP_TOKEN
    assert store.get("anthropic:manual").expires > now_ms() + 29 * 24 * HOUR
    assert_same_status(record_property, gateway, capsys)

    # order set by the gateway, read by us; set by us, read by the gateway; same `get --json`.
    done = gateway.run(
        "models", "auth", "order", "set", "--provider", "anthropic", "anthropic:manual", "anthropic:default"
    )
    assert done.returncode == 0, done.stderr
    theirs, mine = in_parallel(
        lambda: gateway.run("models", "auth", "order", "get", "--provider", "anthropic", "--json").json(),
        lambda: json.loads(
            ours(capsys, "models", "auth", "order", "get", "--provider", "anthropic", "--json")[1]
        ),
    )
    assert mine == theirs and theirs["order"] == ["anthropic:manual", "anthropic:default"]
    assert set(theirs) == {"agentId", "agentDir", "provider", "authStorePath", "order"}
    assert (
        ours(capsys, "models", "auth", "order", "set", "--provider", "Anthropic", "anthropic:default")[0] == 0
    )
    theirs = gateway.run("models", "auth", "order", "get", "--provider", "anthropic", "--json").json()
    assert theirs["order"] == ["anthropic:default"]
    assert ours(capsys, "models", "auth", "order", "clear", "--provider", "anthropic")[0] == 0
    theirs = gateway.run("models", "auth", "order", "get", "--provider", "anthropic", "--json").json()
    assert theirs["order"] is None
    record_property("interop_fields_compared", 5 * 3)
    record_property("interop_states", 3)


def _point_gateway_at(simulator_url: str, config_path: Path) -> None:
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    config.setdefault("models", {}).setdefault("providers", {})["anthropic"] = {
        "baseUrl": simulator_url,
        "models": [],
    }
    config_path.write_text(json.dumps(config, indent=2))


def test_a_cooldown_and_a_billing_disable_written_by_the_gateway(
    gateway: Gateway, capsys, record_property
) -> None:
    agent = AgentState.resolve()
    onboarding.save_api_key(agent, sim.DEMO_API_KEY)
    onboarding.save_setup_token(agent, sim.DEMO_SETUP_TOKEN, profile_id="anthropic:manual")
    spare = "sk-ant-api03-" + "c3BhcmVrZXk" * 8 + "-SPR1"
    onboarding.save_api_key(agent, spare, profile_id="anthropic:spare")
    with sim.serve() as server:
        server.simulator.credentials.add_api_key(spare)
        _point_gateway_at(server.base_url, agent.config_path)
        # The gateway tries the token (402: billing), then the first key (429: rate limit),
        # then the spare key, which answers. (It marks the last profile tried as good even
        # when that one failed too, so a spare is needed to see the others' marks.)
        server.simulator.faults.next(status=429, credential=sim.DEMO_API_KEY, times=None, retry_after=0.01)
        server.simulator.faults.next(status=402, credential=sim.DEMO_SETUP_TOKEN, times=None)
        started = now_ms()
        run = gateway.run("agent", "--local", "--session-id", "interop", "--message", "Hello", "--json")
        assert run.returncode == 0, run.stderr[-2000:]
    store = agent.store_file.load()
    cooling, disabled = store.stats("anthropic:default"), store.stats("anthropic:manual")
    # The gateway's marks, read by us: 1st failure → 1 min; 1st billing failure → 5 h.
    assert cooling.failure_counts == {"rate_limit": 1} and cooling.error_count == 1
    assert cooling.cooldown_until - cooling.last_failure_at == MIN
    assert disabled.disabled_reason == "billing" and disabled.failure_counts == {"billing": 1}
    assert disabled.disabled_until - disabled.last_failure_at == 5 * HOUR
    assert started <= cooling.last_failure_at <= now_ms()
    # Our arithmetic on the same events agrees step by step.
    ours_cooling = record_failure(
        store.stats("none"), "rate_limit", cooling.last_failure_at, provider="anthropic"
    )
    ours_billing = record_failure(
        store.stats("none"), "billing", disabled.last_failure_at, provider="anthropic"
    )
    assert ours_cooling.cooldown_until == cooling.cooldown_until
    assert ours_billing.disabled_until == disabled.disabled_until
    report = models_status(agent)
    assert {u.profile_id: u.kind for u in report.unusable} == {
        "anthropic:default": "cooldown",
        "anthropic:manual": "disabled",
    }
    assert_same_status(record_property, gateway, capsys)


def test_our_config_writes_keep_the_gateway_runnable(gateway: Gateway, capsys, record_property) -> None:
    """The gateway's schema is strict: one key it does not know and every command refuses."""
    agent = AgentState.resolve()
    write_json(gateway.home / ".claude" / ".credentials.json", {"claudeAiOauth": {
        "accessToken": OAUTH_ACCESS, "refreshToken": OAUTH_REFRESH, "expiresAt": now_ms() + 30 * HOUR}})  # fmt: skip
    onboarding.save_api_key(agent, API_KEY)
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:work", expires_in="365d")
    onboarding.paste_token(agent, SETUP_TOKEN, provider="anthropic")
    onboarding.import_claude_cli(agent)
    onboarding.set_order(agent, "anthropic", ["anthropic:work"])
    research = AgentState.resolve("research")
    onboarding.paste_token(research, OTHER_TOKEN, provider="anthropic", profile_id="anthropic:research")
    onboarding.remove_profile(agent, "anthropic:work")
    config = json.loads(agent.config_path.read_text())
    config["auth"]["order"] = {"anthropic": ["anthropic:default", "anthropic:manual"]}
    agent.config_path.write_text(json.dumps(config))
    onboarding.save_setup_token(agent, SETUP_TOKEN, profile_id="anthropic:manual")  # moves it to the front
    assert json.loads(agent.config_path.read_text())["auth"]["order"]["anthropic"][0] == "anthropic:manual"
    run = gateway.run("models", "status", "--json")
    assert run.returncode == 0 and "Invalid config" not in run.stdout + run.stderr, run.stdout + run.stderr
    assert_same_status(record_property, gateway, capsys)


# -- our reads while the gateway's own writer rewrites the store in place ---------------------------

GATEWAY_WRITER = textwrap.dedent(
    """
    const { saveJsonFile } = await import(process.argv[1]);
    const fs = await import("node:fs");
    const path = process.argv[2], rounds = Number(process.argv[3]);
    const store = JSON.parse(fs.readFileSync(path, "utf8"));
    console.log("ready");
    for (let n = 0; n < rounds; n++) {
      store.usageStats = { "anthropic:default": { lastUsed: Date.now(), errorCount: 0 } };
      store.lastGood = { anthropic: n % 2 ? "anthropic:default" : "anthropic:manual" };
      saveJsonFile(path, store);  // the gateway's writeFileSync: truncate, then write
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    console.log(`wrote ${rounds}`);
    """
)


def test_reads_while_the_gateways_writer_rewrites_the_store(gateway: Gateway, record_property) -> None:
    agent = AgentState.resolve()
    onboarding.save_api_key(agent, API_KEY)
    onboarding.paste_token(agent, SETUP_TOKEN, provider="anthropic")
    path = store_of(gateway.state_dir)
    writer_module = (gateway.dist() / "infra" / "json-file.js").as_uri()
    rounds, reads, errors = 3000, 0, []
    with subprocess.Popen(
        [gateway.node(), "--input-type=module", "-e", GATEWAY_WRITER, writer_module, str(path), str(rounds)],
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            try:
                report = models_status(agent)
                assert len(report.store.profiles) == 2
                agent.store_file.load()
                agent.store_file.update(lambda store: store.data.setdefault("lastGood", {}))
            except ParseError as error:
                errors.append(str(error))
            reads += 3
        assert writer.wait(timeout=60) == 0
        assert writer.stdout.read().strip() == f"wrote {rounds}"
    assert errors == []
    assert list(path.parent.glob("auth-profiles.json.unreadable-*")) == []
    assert reads > 300
    record_property("interop_reads_during_gateway_writes", reads)
    record_property("interop_gateway_writes", rounds)


# -- --probe against the simulator, both sides --------------------------------------------------------


def test_probe_results_match_the_gateways(gateway: Gateway, capsys, record_property, monkeypatch) -> None:
    agent = AgentState.resolve()
    onboarding.save_api_key(agent, sim.DEMO_API_KEY)
    onboarding.save_setup_token(agent, sim.DEMO_SETUP_TOKEN, profile_id="anthropic:manual")
    with sim.serve() as server:
        _point_gateway_at(server.base_url, agent.config_path)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)  # the gateway ignores it; we use it
        theirs = gateway.run("models", "status", "--probe", "--json").json()["auth"]["probes"]
        code, out = ours(capsys, "models", "status", "--probe", "--json")
    mine = json.loads(out)["auth"]["probes"]
    assert code == 0
    assert set(mine) == set(theirs) and mine["options"] == theirs["options"]
    assert mine["totalTargets"] == theirs["totalTargets"] == 2

    def key(result: dict) -> tuple:
        return tuple(
            result.get(k) for k in ("provider", "model", "profileId", "label", "source", "mode", "status")
        )

    assert sorted(map(key, mine["results"])) == sorted(map(key, theirs["results"]))
    assert all(
        set(m) == set(t) for m, t in zip(sorted(mine["results"], key=key), sorted(theirs["results"], key=key))
    )
    record_property("interop_fields_compared", 7 * len(mine["results"]) + 2)
    record_property("interop_states", 1)


def test_gateway_tests_never_touch_the_real_home(gateway: Gateway) -> None:
    assert str(gateway.home) != os.path.expanduser("~root") and gateway.home.name == "home"
    assert gateway.env()["HOME"] == str(gateway.home)
