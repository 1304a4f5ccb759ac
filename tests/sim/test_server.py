"""The loopback server: unmodified SDK code via ANTHROPIC_BASE_URL, start/stop forms, keep-alive."""

from __future__ import annotations

import anthropic
import pytest

from clawdbot_nb import sim
from tests.sim.sim_support import MODEL


def test_unmodified_sdk_works_through_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with sim.serve() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", sim.DEMO_API_KEY)
        client = anthropic.Anthropic()
        messages = [{"role": "user", "content": "Reply with env works."}]
        assert (
            client.messages.create(model=MODEL, max_tokens=16, messages=messages).content[0].text
            == "env works"
        )
        with client.messages.stream(model=MODEL, max_tokens=16, messages=messages) as stream:
            assert stream.get_final_text() == "env works"
        assert client.messages.count_tokens(model=MODEL, messages=messages).input_tokens > 0
        batch = client.messages.batches.create(
            requests=[{"custom_id": "one", "params": {"model": MODEL, "max_tokens": 8, "messages": messages}}]
        )
        assert client.messages.batches.retrieve(batch.id).processing_status == "ended"
        assert [r.custom_id for r in client.messages.batches.results(batch.id)] == ["one"]
        with pytest.raises(anthropic.NotFoundError):
            client.with_options(max_retries=0).messages.create(
                model="claude-gone", max_tokens=8, messages=messages
            )
        client.close()
        assert server.simulator.requests.count(status=200) >= 5


def test_setup_token_through_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with sim.serve() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", sim.DEMO_SETUP_TOKEN)
        monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "anthropic-beta: oauth-2025-04-20")
        with anthropic.Anthropic(max_retries=0) as client:
            reply = client.messages.create(
                model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Reply with yes."}]
            )
        assert reply.content[0].text == "yes"
        assert server.simulator.requests.last().credential_kind == "setup_token"


def test_start_and_stop_without_a_with_block() -> None:
    simulator = sim.Simulator()
    server = sim.start_server(simulator)
    assert server.simulator is simulator
    assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0
    client = anthropic.Anthropic(api_key=sim.DEMO_API_KEY, base_url=server.base_url, max_retries=0)
    assert (
        client.messages.create(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Reply with up."}]
        )
        .content[0]
        .text
        == "up"
    )
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "x"}])
    client.close()
    assert "closed" in repr(server)


def test_one_client_reuses_its_keep_alive_connection() -> None:
    with (
        sim.serve() as server,
        anthropic.Anthropic(api_key=sim.DEMO_API_KEY, base_url=server.base_url, max_retries=0) as client,
    ):
        for i in range(20):
            message = client.messages.create(
                model=MODEL, max_tokens=8, messages=[{"role": "user", "content": f"Reply with {i}."}]
            )
            assert message.content[0].text == str(i)
        with server._httpd.connections_lock:
            assert len(server._httpd.connections) == 1
