"""POST /v1/oauth/token: refresh_token grants rotate, refresh tokens are single use, races resolve to one."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.lib.credentials import CredentialsFile

from clawdbot_nb import sim
from tests.sim.sim_support import Api, ask

CLIENT_ID = sim.CLAUDE_CODE_CLIENT_ID


def _refresh(api: Api, refresh_token: str, **extra: Any) -> dict:
    body = {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": refresh_token, **extra}
    return api.client().post("/v1/oauth/token", body=body, cast_to=dict[str, Any])


def _refresh_error(api: Api, refresh_token: str, **extra: Any) -> anthropic.APIStatusError:
    with pytest.raises(anthropic.APIStatusError) as caught:
        _refresh(api, refresh_token, **extra)
    return caught.value


def test_refresh_rotates_both_tokens(api: Api) -> None:
    login = api.simulator.add_oauth_login()
    payload = _refresh(api, login.refresh_token)
    assert payload["token_type"] == "Bearer"
    assert payload["expires_in"] == 8 * 3600
    assert (
        payload["access_token"].startswith("sk-ant-oat01-") and payload["access_token"] != login.access_token
    )
    assert (
        payload["refresh_token"].startswith("sk-ant-ort01-")
        and payload["refresh_token"] != login.refresh_token
    )
    assert payload["scope"] == "user:inference user:profile"
    fresh = api.client(auth_token=payload["access_token"], oauth=True)
    assert ask(fresh, "Reply with refreshed.").content[0].text == "refreshed"


def test_a_used_refresh_token_fails_with_invalid_grant(api: Api) -> None:
    login = api.simulator.add_oauth_login()
    rotated = _refresh(api, login.refresh_token)
    error = _refresh_error(api, login.refresh_token)
    assert error.status_code == 400
    assert error.body == {"error": "invalid_grant", "error_description": "Refresh token not found or invalid"}
    assert error.response.headers["request-id"].startswith("req_")
    # The rotated one still works, once.
    assert _refresh(api, rotated["refresh_token"])["access_token"]


def test_unknown_refresh_token_fails_the_same_way(inproc: Api) -> None:
    error = _refresh_error(inproc, "sk-ant-ort01-never-issued")
    assert (error.status_code, error.body["error"]) == (400, "invalid_grant")


def test_refresh_token_past_its_lifetime_is_expired(inproc: Api) -> None:
    login = inproc.simulator.add_oauth_login(refresh_expires_in=86400)
    inproc.simulator.clock.advance("25h")
    error = _refresh_error(inproc, login.refresh_token)
    assert error.body == {"error": "invalid_grant", "error_description": "Refresh token expired"}


def test_revoked_login_cannot_refresh(inproc: Api) -> None:
    login = inproc.simulator.add_oauth_login()
    inproc.simulator.revoke(login.access_token)
    assert _refresh_error(inproc, login.refresh_token).body["error"] == "invalid_grant"


def test_access_tokens_expire_on_the_virtual_clock(api: Api) -> None:
    api.simulator.oauth_access_expires_in = 600
    login = api.simulator.add_oauth_login()
    payload = _refresh(api, login.refresh_token)
    assert payload["expires_in"] == 600
    client = api.client(auth_token=payload["access_token"], oauth=True)
    ask(client)
    api.simulator.clock.advance("10m")
    with pytest.raises(anthropic.AuthenticationError):
        ask(client)


def test_previous_access_token_valid_until_expiry(inproc: Api) -> None:
    login = inproc.simulator.add_oauth_login(expires_in=3600)
    _refresh(inproc, login.refresh_token)
    assert ask(inproc.client(auth_token=login.access_token, oauth=True)).stop_reason == "end_turn"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"grant_type": "authorization_code", "code": "x", "client_id": CLIENT_ID},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "refresh_token", "client_id": CLIENT_ID}, 400, "invalid_request"),
        ({"grant_type": "refresh_token", "refresh_token": "x"}, 400, "invalid_request"),
        ({"client_id": CLIENT_ID, "refresh_token": "x"}, 400, "invalid_request"),
        (
            {"grant_type": "refresh_token", "client_id": "someone-else", "refresh_token": "x"},
            401,
            "invalid_client",
        ),
    ],
    ids=["grant_type", "no_refresh_token", "no_client_id", "no_grant", "unknown_client"],
)
def test_malformed_token_requests(inproc: Api, body: dict, status: int, error: str) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        inproc.client().post("/v1/oauth/token", body=body, cast_to=dict[str, Any])
    assert caught.value.status_code == status
    assert caught.value.body["error"] == error
    assert caught.value.body["error_description"]


def test_token_endpoint_fault_keeps_refresh_usable(inproc: Api) -> None:
    login = inproc.simulator.add_oauth_login()
    inproc.simulator.faults.next(503, path="/v1/oauth/token", should_retry=False)
    error = _refresh_error(inproc, login.refresh_token)
    assert error.status_code == 503
    assert error.response.headers["x-should-retry"] == "false"
    assert _refresh(inproc, login.refresh_token)["access_token"]
    assert inproc.simulator.requests.oauth_refreshes() == 2


def test_form_encoded_refresh_is_accepted(inproc: Api) -> None:
    login = inproc.simulator.add_oauth_login()
    form = urllib.parse.urlencode(
        {"grant_type": "refresh_token", "client_id": CLIENT_ID, "refresh_token": login.refresh_token}
    ).encode()
    payload = inproc.client().post(
        "/v1/oauth/token",
        content=form,
        cast_to=dict[str, Any],
        options={"headers": {"content-type": "application/x-www-form-urlencoded"}},
    )
    assert payload["access_token"].startswith("sk-ant-oat01-")


def test_demo_oauth_login_is_registered_and_refreshable(inproc: Api) -> None:
    demo = inproc.simulator.demo_oauth
    assert demo is not None and demo.access_token == sim.DEMO_OAUTH_ACCESS_TOKEN
    assert demo.expires_at == pytest.approx(inproc.simulator.clock.now() + 8 * 3600)
    assert "simDEMO" not in repr(demo) and "…" in repr(demo)
    payload = _refresh(inproc, sim.DEMO_OAUTH_REFRESH_TOKEN)
    assert payload["refresh_token"] != sim.DEMO_OAUTH_REFRESH_TOKEN


def test_refresh_race_one_wins_every_call_counted(loopback: Api) -> None:
    login = loopback.simulator.add_oauth_login()
    contenders = 8
    barrier = threading.Barrier(contenders)
    outcomes: list[int] = []
    lock = threading.Lock()

    def contend() -> None:
        client = loopback.client()
        barrier.wait()
        try:
            _ = client.post(
                "/v1/oauth/token",
                body={
                    "grant_type": "refresh_token",
                    "client_id": CLIENT_ID,
                    "refresh_token": login.refresh_token,
                },
                cast_to=dict[str, Any],
            )
            status = 200
        except anthropic.APIStatusError as error:
            status = error.status_code
        with lock:
            outcomes.append(status)

    threads = [threading.Thread(target=contend) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [200] + [400] * (contenders - 1)
    log = loopback.simulator.requests
    assert log.oauth_refreshes() == contenders
    assert log.oauth_refreshes(status=200) == 1
    assert {r.credential for r in log.oauth_token_calls()} == {sim.mask_secret(login.refresh_token)}
    assert log.count(secret=login.refresh_token) == contenders


def test_sdk_user_oauth_profile_refreshes_unchanged(
    loopback: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's own refresh_token grant (CredentialsFile, user_oauth) works unchanged."""
    login = loopback.simulator.add_oauth_login()
    config_dir = tmp_path / "anthropic"
    (config_dir / "configs").mkdir(parents=True)
    (config_dir / "credentials").mkdir()
    (config_dir / "configs" / "default.json").write_text(
        json.dumps(
            {"authentication": {"type": "user_oauth", "client_id": CLIENT_ID}, "base_url": loopback.base_url}
        )
    )
    credentials = config_dir / "credentials" / "default.json"
    credentials.write_text(
        json.dumps(
            {
                "version": "1.0",
                "type": "oauth_token",
                "access_token": login.access_token,
                "refresh_token": login.refresh_token,
                "expires_at": int(time.time()) - 60,  # expired by the SDK's wall clock: it must refresh
            }
        )
    )
    os.chmod(credentials, 0o600)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(config_dir))
    client = anthropic.Anthropic(
        base_url=loopback.base_url, credentials=CredentialsFile("default"), max_retries=0
    )
    try:
        assert ask(client, "Reply with via profile.").content[0].text == "via profile"
    finally:
        client.close()
    saved = json.loads(credentials.read_text())
    assert saved["refresh_token"] != login.refresh_token
    assert loopback.simulator.requests.oauth_refreshes(status=200) == 1
    assert loopback.simulator.requests.last(path="/v1/messages").credential_kind == "oauth"
