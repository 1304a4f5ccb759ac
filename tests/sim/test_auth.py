"""Authentication: API keys, setup-tokens and OAuth tokens, the oauth beta, the real 401 texts."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import pytest
from anthropic.lib.credentials import AccessToken, StaticToken

from clawdbot_nb import sim
from clawdbot_nb.errors import ParseError
from tests.sim.sim_support import Api, ask


def _auth_error(call) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(anthropic.AuthenticationError) as caught:
        call()
    error = caught.value
    assert error.status_code == 401
    assert error.body["request_id"] == error.response.headers["request-id"]
    return error.body["error"]


def test_sdk_sends_api_keys_as_bearer_and_they_work(api: Api) -> None:
    ask(api.client(sim.DEMO_API_KEY))
    record = api.simulator.requests.last(path="/v1/messages")
    assert record.status == 200
    assert record.credential_kind == "api_key"
    assert record.credential == "sk-ant-api03-…orAA"


def test_api_key_in_x_api_key_header(api: Api) -> None:
    client = api.client(
        sim.DEMO_API_KEY, default_headers={"Authorization": anthropic.Omit(), "x-api-key": sim.DEMO_API_KEY}
    )
    assert ask(client, "Reply with ok.").content[0].text == "ok"


def test_x_api_key_wins_when_both_headers_are_sent(api: Api) -> None:
    good_header = api.client(
        auth_token="sk-ant-api03-not-registered", default_headers={"x-api-key": sim.DEMO_API_KEY}
    )
    assert ask(good_header).stop_reason == "end_turn"
    bad_header = api.client(sim.DEMO_API_KEY, default_headers={"x-api-key": "sk-ant-api03-not-registered"})
    assert _auth_error(lambda: ask(bad_header)) == {
        "type": "authentication_error",
        "message": "invalid x-api-key",
    }


def test_unknown_credentials_get_the_real_401_texts(api: Api) -> None:
    bearer = api.client("sk-ant-api03-unknown-key-0000")
    assert _auth_error(lambda: ask(bearer))["message"] == "Invalid bearer token"
    header = api.client(
        "unused",
        default_headers={"Authorization": anthropic.Omit(), "x-api-key": "sk-ant-api03-unknown-key-0000"},
    )
    assert _auth_error(lambda: ask(header))["message"] == "invalid x-api-key"
    nothing = api.client("unused", default_headers={"Authorization": anthropic.Omit()})
    assert _auth_error(lambda: ask(nothing))["message"] == "x-api-key header is required"


def test_setup_token_needs_bearer_and_the_oauth_beta(api: Api) -> None:
    without_beta = api.client(auth_token=sim.DEMO_SETUP_TOKEN)
    assert (
        _auth_error(lambda: ask(without_beta))["message"]
        == "OAuth authentication is currently not supported."
    )
    with_beta = api.client(auth_token=sim.DEMO_SETUP_TOKEN, oauth=True)
    assert ask(with_beta, "Reply with OK.").content[0].text == "OK"
    assert api.simulator.requests.last(status=200).credential_kind == "setup_token"


def test_oauth_token_as_x_api_key_is_rejected(inproc: Api) -> None:
    client = inproc.client(
        "unused",
        oauth=True,
        default_headers={"Authorization": anthropic.Omit(), "x-api-key": sim.DEMO_OAUTH_ACCESS_TOKEN},
    )
    assert _auth_error(lambda: ask(client))["message"] == "OAuth authentication is currently not supported."


def test_oauth_beta_among_other_betas_is_accepted(inproc: Api) -> None:
    client = inproc.client(
        auth_token=sim.DEMO_OAUTH_ACCESS_TOKEN,
        default_headers={"anthropic-beta": "context-1m-2025-08-07, oauth-2025-04-20"},
    )
    assert ask(client).stop_reason == "end_turn"


def test_sdk_credentials_provider_adds_oauth_beta(api: Api) -> None:
    client = api.client(credentials=StaticToken(sim.DEMO_OAUTH_ACCESS_TOKEN))
    assert ask(client, "Reply with provider.").content[0].text == "provider"
    assert api.simulator.requests.last(path="/v1/messages").credential_kind == "oauth"


def test_expired_oauth_access_token_is_401(api: Api) -> None:
    login = api.simulator.add_oauth_login(expires_in=3600)
    client = api.client(auth_token=login.access_token, oauth=True)
    ask(client)
    api.simulator.clock.advance("1h")
    assert _auth_error(lambda: ask(client)) == {
        "type": "authentication_error",
        "message": "OAuth token has expired. Please obtain a new token or refresh your existing token.",
    }


def test_expired_setup_token_is_401(inproc: Api) -> None:
    token = inproc.simulator.add_setup_token(expires_in=60)
    client = inproc.client(auth_token=token, oauth=True)
    ask(client)
    inproc.simulator.clock.advance(61)
    assert "expired" in _auth_error(lambda: ask(client))["message"]


def test_revoked_credentials_are_401(api: Api) -> None:
    key = api.simulator.add_api_key()
    key_client = api.client(key)
    ask(key_client)
    assert api.simulator.revoke(key)
    assert _auth_error(lambda: ask(key_client))["message"] == "Invalid bearer token"
    login = api.simulator.add_oauth_login()
    oauth_client = api.client(auth_token=login.access_token, oauth=True)
    ask(oauth_client)
    api.simulator.revoke(login.refresh_token)  # revoking a login kills its access token too
    assert "revoked" in _auth_error(lambda: ask(oauth_client))["message"]


def test_headers_follow_the_credentials_workspace(api: Api) -> None:
    key = api.simulator.add_api_key(workspace="wrkspc_team", organization="org-team-uuid")
    raw = api.client(key).messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["anthropic-organization-id"] == "org-team-uuid"
    assert raw.headers["anthropic-workspace-id"] == "wrkspc_team"
    with pytest.raises(anthropic.RateLimitError) as caught:
        api.simulator.faults.next(429, credential=key)
        ask(api.client(key))
    assert caught.value.workspace_id == "wrkspc_team"


def test_demo_credentials_real_shapes_obviously_fake() -> None:
    assert sim.DEMO_API_KEY.startswith("sk-ant-api03-") and len(sim.DEMO_API_KEY) == 108
    assert sim.DEMO_SETUP_TOKEN.startswith("sk-ant-oat01-") and len(sim.DEMO_SETUP_TOKEN) >= 80
    assert sim.DEMO_OAUTH_ACCESS_TOKEN.startswith("sk-ant-oat01-")
    assert sim.DEMO_OAUTH_REFRESH_TOKEN.startswith("sk-ant-ort01-")
    for value in (
        sim.DEMO_API_KEY,
        sim.DEMO_SETUP_TOKEN,
        sim.DEMO_OAUTH_ACCESS_TOKEN,
        sim.DEMO_OAUTH_REFRESH_TOKEN,
    ):
        assert "simDEMO" in value and value.endswith("AA")


def test_without_demo_the_demo_key_is_rejected() -> None:
    bare = sim.Simulator(demo=False)
    api = Api(bare, "inprocess", "http://localhost")
    assert _auth_error(lambda: ask(api.client()))["message"] == "Invalid bearer token"
    api.close()


def test_credentials_file_registers_keys_tokens_and_logins(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(
        json.dumps(
            {
                "api_keys": [
                    "sk-ant-api03-file-key-one",
                    {"key": "sk-ant-api03-file-key-two", "workspace": "wrk_b"},
                ],
                "setup_tokens": [{"token": "sk-ant-oat01-file-setup-token"}],
                "oauth": [
                    {"access_token": "sk-ant-oat01-file-access", "refresh_token": "sk-ant-ort01-file-refresh"}
                ],
            }
        )
    )
    simulator = sim.Simulator(demo=False)
    assert simulator.load_credentials(path) == 4
    api = Api(simulator, "inprocess", "http://localhost")
    ask(api.client("sk-ant-api03-file-key-one"))
    ask(api.client("sk-ant-api03-file-key-two"))
    ask(api.client(auth_token="sk-ant-oat01-file-setup-token", oauth=True))
    ask(api.client(auth_token="sk-ant-oat01-file-access", oauth=True))
    assert [r.workspace for r in simulator.requests] == ["wrk_default", "wrk_b", "wrk_default", "wrk_default"]
    api.close()


def test_bad_credentials_file_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text('{"api_keys": [\n  "a",\n}\n')
    with pytest.raises(ParseError) as caught:
        sim.Simulator(demo=False).load_credentials(path)
    text = str(caught.value)
    assert str(path) in text and ":3:" in text and "Fix:" in text


def test_sdk_token_cache_recovers_from_a_401(api: Api) -> None:
    """The SDK retries once after a 401 with `force_refresh=True`; the simulator's expiry triggers it."""
    login = api.simulator.add_oauth_login(expires_in=600)
    calls: list[bool] = []
    current = {"token": login.access_token}

    def provider(*, force_refresh: bool = False) -> AccessToken:
        calls.append(force_refresh)
        if force_refresh:
            current["token"] = api.simulator.add_oauth_login().access_token
        # Claim a long life so only the server's 401 can tell the SDK the token is dead.
        return AccessToken(current["token"], expires_at=None)

    client = api.client(credentials=provider, max_retries=1)
    ask(client)
    api.simulator.clock.advance("11m")
    assert ask(client, "Reply with recovered.").content[0].text == "recovered"
    assert calls == [False, True]
    statuses = [r.status for r in api.simulator.requests.messages()]
    assert statuses == [200, 401, 200]
