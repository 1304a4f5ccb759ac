"""States written by the real gateway, read by clawdbot-nb: onboarding, order set/get, and the
cooldown and billing disable it records after failed requests (against our simulator)."""

from __future__ import annotations

import json

from clawdbot_nb import sim
from clawdbot_nb.state import onboarding
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.cooldown import record_failure
from clawdbot_nb.state.status import models_status
from tests.gateway.conftest import Gateway
from tests.gateway.helpers import (
    HOUR,
    MIN,
    assert_same_status,
    in_parallel,
    ours,
    point_gateway_at,
)
from tests.state.fakes import API_KEY, SETUP_TOKEN

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
        point_gateway_at(server.base_url, agent.config_path)
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
