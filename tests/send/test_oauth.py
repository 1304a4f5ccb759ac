"""OAuth profiles: refresh through the SDK's token cache, forced refresh on 401, the refresh lock
shared across processes and agents, and the write-back to Claude Code's own store."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from clawdbot_nb import sim
from clawdbot_nb.errors import ClawdbotError
from clawdbot_nb.state import claude_cli
from clawdbot_nb.state.agent import AgentState
from clawdbot_nb.state.credentials import OAuthCredential
from clawdbot_nb.state.onboarding import import_claude_cli
from tests.send.conftest import LONG_SYSTEM, store_oauth

TOKEN_PATH = "/v1/oauth/token"


def now_ms() -> int:
    return int(time.time() * 1000)


def refresh_calls(simulator: sim.Simulator) -> int:
    return simulator.requests.count(method="POST", path=TOKEN_PATH)


@pytest.fixture
def login(simulator: sim.Simulator) -> sim.OAuthLogin:
    return simulator.add_oauth_login(expires_in=8 * 3600)


def test_a_valid_oauth_profile_is_used_as_is(workspace, agent, simulator, login) -> None:
    store_oauth(agent, login.access_token, login.refresh_token, now_ms() + 3_600_000)
    reply = workspace.ask("hi", system=LONG_SYSTEM, ttl="1h")
    assert reply.credential_type == "oauth" and reply.plan.ttl_applied == "5m"
    assert refresh_calls(simulator) == 0
    assert simulator.requests.last(path="/v1/messages").credential_kind == "oauth"


def test_an_expired_access_token_is_refreshed_and_the_rotated_pair_stored(
    workspace, agent, simulator, login
) -> None:
    store_oauth(agent, login.access_token, login.refresh_token, now_ms() - 1000)
    before = now_ms()
    reply = workspace.ask("hi")
    assert reply.profile == "anthropic:me"
    assert refresh_calls(simulator) == 1
    stored = agent.store_file.load().get("anthropic:me")
    assert isinstance(stored, OAuthCredential)
    assert stored.access != login.access_token and stored.refresh != login.refresh_token
    expires_in_ms = simulator.oauth_access_expires_in * 1000
    assert before + expires_in_ms - 300_000 <= stored.expires <= now_ms() + expires_in_ms - 300_000
    # A second call uses the stored token: no second refresh, and the spent refresh token stays dead.
    workspace.ask("again")
    assert refresh_calls(simulator) == 1


def test_a_401_with_a_locally_valid_token_forces_one_refresh(workspace, agent, simulator, login) -> None:
    store_oauth(agent, login.access_token, login.refresh_token, now_ms() + 3_600_000)
    workspace.ask("warm up")
    simulator.expire(login.access_token)  # the server drops it; our store still says valid
    reply = workspace.ask("hi")
    assert reply.attempts == ()
    assert refresh_calls(simulator) == 1
    assert simulator.requests.count(path="/v1/messages", status=401) == 1
    assert agent.store_file.load().get("anthropic:me").access != login.access_token


def test_a_401_on_an_oauth_profile_with_another_behind_it_still_refreshes(
    workspace, agent, simulator, login
) -> None:
    """The fail-fast attempt (another profile follows) keeps the SDK's one forced-refresh retry."""
    from tests.send.conftest import set_order, store_api_key

    store_oauth(agent, login.access_token, login.refresh_token, now_ms() + 3_600_000)
    store_api_key(agent, sim.DEMO_API_KEY, "anthropic:default")
    set_order(agent, "anthropic:me", "anthropic:default")
    workspace.ask("warm up")
    simulator.expire(login.access_token)
    reply = workspace.ask("hi")
    assert reply.profile == "anthropic:me" and reply.attempts == ()
    assert refresh_calls(simulator) == 1


def test_refresh_failure_gives_the_docs_message_and_cools_down(workspace, agent, simulator) -> None:
    store_oauth(agent, "sk-ant-oat01-" + "x" * 60, "sk-ant-ort01-spent-" + "y" * 50, now_ms() - 1000)
    with pytest.raises(ClawdbotError) as info:
        workspace.ask("hi")
    text = str(info.value)
    assert "OAuth token refresh failed for anthropic" in text and "invalid_grant" in text
    assert "setup-token" in text and "claude-cli" in text
    stats = agent.store_file.load().stats("anthropic:me")
    assert stats.failure_counts == {"auth": 1} and stats.cooldown_until > now_ms()
    assert "sk-ant-ort01-spent" not in text


def test_claude_cli_tokens_are_written_back(workspace, agent, simulator, login) -> None:
    path = claude_cli.credentials_file()
    path.parent.mkdir(parents=True)
    payload = {
        "claudeAiOauth": {
            "accessToken": login.access_token,
            "refreshToken": login.refresh_token,
            "expiresAt": now_ms() - 1000,
            "scopes": ["user:inference", "user:profile"],
            "subscriptionType": "max",
        },
        "otherTool": {"keep": True},
    }
    path.write_text(json.dumps(payload))
    import_claude_cli(agent, use_keychain=False)
    workspace.ask("hi")
    assert refresh_calls(simulator) == 1
    stored = agent.store_file.load().get("anthropic:claude-cli")
    written = json.loads(path.read_text())
    assert written["claudeAiOauth"]["accessToken"] == stored.access
    assert written["claudeAiOauth"]["refreshToken"] == stored.refresh
    assert written["claudeAiOauth"]["expiresAt"] == stored.expires
    assert written["claudeAiOauth"]["subscriptionType"] == "max"
    assert written["claudeAiOauth"]["scopes"] == ["user:inference", "user:profile"]
    assert written["otherTool"] == {"keep": True}


def test_a_claude_cli_login_refreshed_by_claude_code_is_used_without_spending_a_refresh(
    workspace, agent, simulator, login
) -> None:
    path = claude_cli.credentials_file()
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": "sk-ant-oat01-old-" + "o" * 40,
                    "refreshToken": "sk-ant-ort01-old-" + "o" * 40,
                    "expiresAt": now_ms() - 1000,
                }
            }
        )
    )
    import_claude_cli(agent, use_keychain=False)
    # Claude Code refreshes on its own and rewrites its file.
    path.write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": login.access_token,
                    "refreshToken": login.refresh_token,
                    "expiresAt": now_ms() + 3_600_000,
                }
            }
        )
    )
    claude_cli.clear_read_cache()
    reply = workspace.ask("hi")
    assert reply.profile == "anthropic:claude-cli" and refresh_calls(simulator) == 0


def test_rotation_reaches_other_agents_holding_the_same_refresh_token(
    make_workspace, agent, simulator, login
) -> None:
    research = AgentState.resolve("research")
    for each in (agent, research):
        store_oauth(each, login.access_token, login.refresh_token, now_ms() - 1000)
    make_workspace().ask("hi from main")
    assert refresh_calls(simulator) == 1
    copied = research.store_file.load().get("anthropic:me")
    assert copied.refresh == agent.store_file.load().get("anthropic:me").refresh != login.refresh_token
    make_workspace("research").ask("hi from research")
    assert refresh_calls(simulator) == 1, "the research agent used the propagated token"


RACE_WORKER = textwrap.dedent(
    """
    import os, sys, time
    import anthropic, httpx2  # imported before the start line, so no process lags behind
    from clawdbot_nb.api.workspace import Workspace
    base_url, name, go = sys.argv[1:4]
    with Workspace(base_url=base_url) as workspace:
        workspace.request("warm the imports")
        print("ready", flush=True)
        while not os.path.exists(go):  # start together, so every process finds the token expired
            time.sleep(0.001)
        reply = workspace.ask("hello from " + name)
    print(reply.profile, reply.text[:20])
    """
)


@pytest.mark.slow
def test_refresh_race_between_processes_spends_one_refresh_token(agent, simulator, login, tmp_path) -> None:
    store_oauth(agent, login.access_token, login.refresh_token, now_ms() - 1000)
    processes = 6
    go = tmp_path / "go"
    with sim.serve(simulator) as server:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", RACE_WORKER, server.base_url, str(i), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(processes)
        ]
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        go.touch()
        results = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0] * processes, [err for _, err in results]
    assert all(out.startswith("anthropic:me") for out, _ in results)
    assert refresh_calls(simulator) == 1
    assert simulator.requests.count(method="POST", path=TOKEN_PATH, status=200) == 1
    assert simulator.requests.count(path="/v1/messages", status=200) == processes


EXPIRY_WORKER = textwrap.dedent(
    """
    import sys
    import anthropic, httpx2
    from clawdbot_nb.api.workspace import Workspace
    base_url, name = sys.argv[1:3]
    with Workspace(base_url=base_url) as workspace:
        workspace.ask("first from " + name)  # the SDK now caches this process's access token
        print("ready", flush=True)
        for line in sys.stdin:  # one line per round: the server has expired the token meanwhile
            reply = workspace.ask("again from " + name)
            print("done", reply.profile, flush=True)
    """
)


@pytest.mark.slow
def test_server_side_expiry_costs_one_refresh_however_many_processes_hold_the_token(
    agent, simulator, login
) -> None:
    """8 processes each hold a cached access token that the server expires, round after round:
    the first one to get its 401 refreshes; the others find the new token in the store and use it
    (a forced refresh used to treat the stored token as the refused one and spend another)."""
    store_oauth(agent, login.access_token, login.refresh_token, now_ms() + 8 * 3600_000)
    processes, rounds = 8, 3
    with sim.serve(simulator) as server:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", EXPIRY_WORKER, server.base_url, str(i)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(processes)
        ]
        try:
            for child in children:
                assert child.stdout.readline().strip() == "ready"
            assert refresh_calls(simulator) == 0
            for number in range(1, rounds + 1):
                simulator.expire(agent.store_file.load().get("anthropic:me").access)
                for child in children:
                    child.stdin.write("go\n")
                    child.stdin.flush()
                for child in children:
                    assert child.stdout.readline().split()[:2] == ["done", "anthropic:me"]
                assert refresh_calls(simulator) == number
        finally:
            errors = []
            for child in children:
                child.stdin.close()
                child.wait(timeout=60)
                errors.append(child.stderr.read())
                child.stdout.close()
                child.stderr.close()
    assert [child.returncode for child in children] == [0] * processes, errors
    assert simulator.requests.count(method="POST", path=TOKEN_PATH, status=200) == rounds
