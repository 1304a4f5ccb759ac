"""Fault injection seen through the SDK: status errors, retry headers, SSE errors, dropped streams."""

from __future__ import annotations

import json

import anthropic
import httpx2
import pytest

from clawdbot_nb import sim
from tests.sim.sim_support import MODEL, Api, ask


def test_error_body_is_exactly_the_api_shape(api: Api) -> None:
    api.simulator.faults.next(529)
    with pytest.raises(anthropic.APIStatusError) as caught:
        ask(api.client())
    response = caught.value.response
    assert json.loads(response.content) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": response.headers["request-id"],
    }
    assert isinstance(caught.value, anthropic.OverloadedError)
    assert caught.value.request_id == response.headers["request-id"]


def test_429_carries_retry_after_and_ratelimit_headers(api: Api) -> None:
    api.simulator.faults.next(429, retry_after=7)
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(api.client())
    headers = caught.value.response.headers
    assert headers["retry-after"] == "7"
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        assert int(headers[f"anthropic-ratelimit-{kind}-limit"]) > 0
        assert headers[f"anthropic-ratelimit-{kind}-remaining"] == "0"
        assert headers[f"anthropic-ratelimit-{kind}-reset"].endswith("Z")
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_successful_responses_report_rate_limits(inproc: Api) -> None:
    raw = inproc.client().messages.with_raw_response.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    limit = int(raw.headers["anthropic-ratelimit-requests-limit"])
    assert int(raw.headers["anthropic-ratelimit-requests-remaining"]) == limit - 1


def test_sdk_retries_a_429_after_retry_after(api: Api) -> None:
    api.simulator.faults.next(429, retry_after=0.01, times=2)
    message = ask(api.client(max_retries=2), "Reply with third time lucky.")
    assert message.content[0].text == "third time lucky"
    assert [r.status for r in api.simulator.requests.messages()] == [429, 429, 200]
    assert [r.fault for r in api.simulator.requests.messages()] == ["status 429", "status 429", None]


def test_x_should_retry_false_stops_sdk_retries(api: Api) -> None:
    api.simulator.faults.next(429, retry_after=0.01, should_retry=False)
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask(api.client(max_retries=3))
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(api.simulator.requests.messages()) == 1


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (402, anthropic.PaymentRequiredError, "billing_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
    ],
)
def test_scripted_status_faults(inproc: Api, status: int, error_class: type, error_type: str) -> None:
    inproc.simulator.faults.next(status)
    with pytest.raises(error_class) as caught:
        ask(inproc.client())
    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == error_type
    assert ask(inproc.client()).stop_reason == "end_turn"  # one-shot: the next request succeeds


def test_fault_scoped_to_one_credential(inproc: Api) -> None:
    other = inproc.simulator.add_api_key()
    inproc.simulator.faults.next(429, credential=sim.DEMO_API_KEY, times=None)
    assert ask(inproc.client(other)).stop_reason == "end_turn"
    for _ in range(3):
        with pytest.raises(anthropic.RateLimitError):
            ask(inproc.client(sim.DEMO_API_KEY))
    inproc.simulator.faults.clear()
    assert ask(inproc.client(sim.DEMO_API_KEY)).stop_reason == "end_turn"


def test_fault_can_target_another_endpoint(inproc: Api) -> None:
    inproc.simulator.faults.next(500, path="/v1/messages/count_tokens")
    client = inproc.client()
    assert ask(client).stop_reason == "end_turn"
    with pytest.raises(anthropic.InternalServerError):
        client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "x"}])


def test_rate_faults_are_seeded_and_repeatable(inproc: Api) -> None:
    def pattern() -> list[int]:
        simulator = sim.Simulator()
        simulator.faults.rate(529, 0.5, seed=42)
        api = Api(simulator, "inprocess", "http://localhost")
        client = api.client()
        outcome = []
        for _ in range(20):
            try:
                ask(client)
                outcome.append(200)
            except anthropic.OverloadedError:
                outcome.append(529)
        api.close()
        return outcome

    first = pattern()
    assert first == pattern()
    assert 3 <= first.count(529) <= 17


def test_sse_error_event_after_http_200(api: Api) -> None:
    api.simulator.faults.sse_error("overloaded_error", after_events=3)
    events: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        api.client().messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "long"}]
        ) as stream,
    ):
        for event in stream:
            events.append(event.type)
    assert caught.value.status_code == 200
    assert caught.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    assert events[0] == "message_start"
    record = api.simulator.requests.last(path="/v1/messages")
    assert (record.status, record.stream, record.fault) == (
        200,
        True,
        "sse_error overloaded_error after 3 events",
    )


def test_connection_dropped_mid_stream(api: Api) -> None:
    api.simulator.faults.drop_stream(after_events=4)
    seen: list[str] = []
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        api.client().messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "long"}]
        ) as stream,
    ):
        for event in stream:
            seen.append(event.type)
    assert seen and seen[0] == "message_start" and "message_stop" not in seen
    assert ask(api.client(), "Reply with still up.").content[0].text == "still up"


def test_faults_api_reports_pending_rules(inproc: Api) -> None:
    faults = inproc.simulator.faults
    faults.next(500, times=2)
    faults.drop_stream()
    assert [f.describe() for f in faults.pending] == ["status 500", "drop_stream after 3 events"]
    with pytest.raises(anthropic.InternalServerError):
        ask(inproc.client())
    assert faults.pending[0].fired == 1
