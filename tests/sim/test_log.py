"""The request log: every request recorded for assertions, secrets never stored in clear."""

from __future__ import annotations

import anthropic
import pytest

from clawdbot_nb import sim
from tests.sim.sim_support import MODEL, Api, ask


def test_log_records_what_a_test_needs(api: Api) -> None:
    ask(api.client(), "Reply with OK.")
    with api.client().messages.stream(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "s"}]
    ) as s:
        s.until_done()
    first, second = api.simulator.requests
    assert (first.method, first.path, first.status, first.stream) == ("POST", "/v1/messages", 200, False)
    assert first.model == MODEL and first.message_id.startswith("msg_")
    assert first.usage["output_tokens"] == 1 and first.usage["service_tier"] == "standard"
    assert first.request_id.startswith("req_") and first.time == api.simulator.clock.now()
    assert first.credential_kind == "api_key" and first.workspace == sim.DEMO_WORKSPACE_ID
    assert second.stream is True


def test_log_never_holds_a_raw_secret(inproc: Api) -> None:
    ask(inproc.client())
    with pytest.raises(anthropic.AuthenticationError):
        ask(inproc.client("sk-ant-api03-wrong-key-with-tail-WXYZ"))
    ask(inproc.client(auth_token=sim.DEMO_OAUTH_ACCESS_TOKEN, oauth=True))
    dump = repr(list(inproc.simulator.requests))
    for secret in (sim.DEMO_API_KEY, sim.DEMO_OAUTH_ACCESS_TOKEN, "sk-ant-api03-wrong-key-with-tail-WXYZ"):
        assert secret not in dump
    assert inproc.simulator.requests.count(secret=sim.DEMO_API_KEY) == 1
    assert inproc.simulator.requests.count(secret=sim.DEMO_OAUTH_ACCESS_TOKEN) == 1
    failed = inproc.simulator.requests.last(status=401)
    assert failed.credential is None and failed.error_type == "authentication_error"
    assert failed.error_message == "Invalid bearer token"


def test_log_filters_and_rejects_unknown_fields(inproc: Api) -> None:
    client = inproc.client()
    ask(client)
    client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "x"}])
    log = inproc.simulator.requests
    assert len(log.messages()) == 1 and log.count(path="/v1/messages/count_tokens") == 1
    assert log[0].path == "/v1/messages"
    with pytest.raises(TypeError):
        log.filter(colour="red")
    log.clear()
    assert len(log) == 0


def test_masking_keeps_only_prefix_and_last_four() -> None:
    assert sim.mask_secret(sim.DEMO_API_KEY) == "sk-ant-api03-…orAA"
    assert sim.mask_secret("sk-ant-oat01-" + "x" * 60 + "WXYZ") == "sk-ant-oat01-…WXYZ"
    assert sim.mask_secret("short") == "…"
    assert sim.fingerprint(sim.DEMO_API_KEY) == sim.fingerprint(sim.DEMO_API_KEY) != sim.fingerprint("other")
