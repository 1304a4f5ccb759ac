"""The call engine alone: scripted outcomes in, steps and ordered effects out — no SDK, no files."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clawdbot_nb.api.call import (
    Answer,
    CallEngine,
    CallRequest,
    Fail,
    Finish,
    MarkFailure,
    MarkSuccess,
    Record,
    Send,
    StreamFailure,
    Timings,
)
from clawdbot_nb.api.failures import ApiError, Failure
from clawdbot_nb.api.planner import plan_cache
from clawdbot_nb.errors import ClawdbotError, NoAvailableProfileError
from clawdbot_nb.state.credentials import ApiKeyCredential, TokenCredential
from clawdbot_nb.state.selection import AuthCandidate

A = AuthCandidate(
    "anthropic:a", ApiKeyCredential(provider="anthropic", key="sk-ant-api03-" + "a" * 80), "store"
)
B = AuthCandidate(
    "anthropic:b", ApiKeyCredential(provider="anthropic", key="sk-ant-api03-" + "b" * 80), "store"
)
T = AuthCandidate(
    "anthropic:t", TokenCredential(provider="anthropic", token="sk-ant-oat01-" + "t" * 80), "store"
)
ENV = AuthCandidate(None, ApiKeyCredential(provider="anthropic", key="sk-ant-api03-" + "e" * 80), "env: X")


def request() -> CallRequest:
    return CallRequest(
        model="claude-haiku-4-5",
        messages=[{"role": "user", "content": "hi"}],
        system=None,
        max_tokens=16,
        ttl=None,
        cache=True,
        profile=None,
        cell="3",
        started=10.0,
    )


def engine(*candidates, max_resends: int = 2, clock=None) -> CallEngine:
    ticks = iter(range(1_000, 10**9, 1_000))
    return CallEngine(
        request(),
        list(candidates),
        plan=lambda candidate: plan_cache({"model": "claude-haiku-4-5", "max_tokens": 16, "messages": []}),
        agent_id="main",
        streamed=False,
        max_resends=max_resends,
        clock=clock or (lambda: next(ticks)),
        backoff=lambda n: 0.5 * n,
    )


def failure(status: int | None, reason: str | None, **extra) -> Failure:
    return Failure(status, f"{status} error", reason, **extra)


def answer(sends=(11.0,), first_text=None, finished=11.5) -> Answer:
    usage = {"input_tokens": 5, "output_tokens": 7, "cache_read_input_tokens": 0}
    message = SimpleNamespace(
        content=[SimpleNamespace(type="text", text="hello")], usage=usage, stop_reason="end_turn"
    )
    return Answer(message, "req_1", Timings(10.0, sends, first_text, finished))


def kinds(effects) -> list[tuple]:
    out = []
    for effect in effects:
        if isinstance(effect, MarkFailure):
            out.append(("fail", effect.profile_id, effect.reason))
        elif isinstance(effect, MarkSuccess):
            out.append(("ok", effect.profile_id))
        elif isinstance(effect, Record):
            out.append(("row", effect.row.profile_id, effect.row.error is not None))
    return out


def test_a_success_marks_the_profile_then_records_the_row_and_finishes():
    call = engine(A, B)
    first = call.start()
    assert isinstance(first.action, Send) and first.action.candidate is A and first.action.fail_fast
    assert first.effects == ()
    done = call.feed(answer())
    assert isinstance(done.action, Finish)
    assert kinds(done.effects) == [("ok", "anthropic:a"), ("row", "anthropic:a", False)]
    reply = done.action.reply
    assert reply.text == "hello" and reply.profile == "anthropic:a" and reply.attempts == ()
    row = done.effects[-1].row
    assert (row.cell, row.attempts, row.profiles_tried) == ("3", 1, ("anthropic:a",))


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "rate_limit"), (529, "rate_limit"), (402, "billing"), (401, "auth"), (500, "unknown")],
)
def test_a_profile_failure_cools_it_down_and_fails_over_to_the_next(status, reason):
    call = engine(A, B)
    call.start()
    step = call.feed(failure(status, reason))
    assert isinstance(step.action, Send) and step.action.candidate is B
    assert not step.action.fail_fast, "the last profile keeps the SDK's own retries"
    assert kinds(step.effects) == [("fail", "anthropic:a", reason)]
    done = call.feed(answer())
    assert kinds(done.effects) == [("ok", "anthropic:b"), ("row", "anthropic:b", False)]
    assert done.effects[-1].row.profiles_tried == ("anthropic:a", "anthropic:b")
    assert [(a.profile, a.reason, a.status) for a in done.action.reply.attempts] == [
        ("anthropic:a", reason, status)
    ]


def test_the_failure_is_marked_before_the_next_attempt_is_asked_for():
    call = engine(A, B)
    call.start()
    step = call.feed(failure(429, "rate_limit"))
    # The effects travel with the step that asks for B: the driver applies them before sending.
    assert isinstance(step.action, Send) and step.action.candidate is B
    assert isinstance(step.effects[0], MarkFailure)


@pytest.mark.parametrize(
    "bad",
    [failure(400, None), failure(404, None, error_type="not_found_error"), failure(400, "format")],
)
def test_a_bad_request_ends_the_call_at_once_without_a_cooldown(bad):
    call = engine(A, B)
    call.start()
    step = call.feed(bad)
    assert isinstance(step.action, Fail) and isinstance(step.action.error, ApiError)
    assert kinds(step.effects) == [("row", None, True)]


def test_an_unreachable_host_ends_the_call_and_cools_nothing_down():
    call = engine(A, B)
    call.start()
    step = call.feed(
        Failure(None, "Connection error", None, transport=True, unreachable=True, host="api.example")
    )
    assert isinstance(step.action, Fail)
    assert "Cannot reach api.example" in str(step.action.error)
    assert kinds(step.effects) == [("row", None, True)]


def test_every_profile_failing_gives_one_error_naming_each():
    call = engine(A, B)
    call.start()
    call.feed(failure(429, "rate_limit"))
    step = call.feed(failure(529, "rate_limit"))
    assert isinstance(step.action, Fail)
    assert "All 2 profiles failed" in str(step.action.error)
    assert step.action.error.reason == "rate_limit" and step.action.error.status == 529
    assert kinds(step.effects) == [("fail", "anthropic:b", "rate_limit"), ("row", None, True)]


def test_a_token_rejected_with_401_gets_the_setup_token_fix():
    call = engine(T)
    call.start()
    step = call.feed(failure(401, "auth"))
    assert "401 token invalid for profile anthropic:t" in str(step.action.error)
    assert "setup-token" in str(step.action.error)


def test_a_stream_cut_before_text_fails_over_like_any_transport_failure():
    call = engine(A, B)
    call.start()
    drop = Failure(None, "Connection dropped", "unknown", transport=True, retryable=True)
    step = call.feed(StreamFailure(drop, after_text=False))
    assert isinstance(step.action, Send) and step.action.candidate is B
    assert kinds(step.effects) == [("fail", "anthropic:a", "unknown")]


def test_a_stream_cut_on_the_last_profile_is_sent_again_then_gives_up():
    call = engine(A, max_resends=2)
    call.start()
    drop = StreamFailure(
        Failure(None, "Connection dropped", "unknown", transport=True, retryable=True), False
    )
    again = call.feed(drop)
    assert isinstance(again.action, Send) and again.action.candidate is A and again.action.delay_s == 0.5
    assert again.effects == ()
    again = call.feed(drop)
    assert again.action.delay_s == 1.0
    last = call.feed(drop)
    assert isinstance(last.action, Fail) and "after 3 attempts" in str(last.action.error)
    assert kinds(last.effects) == [("fail", "anthropic:a", "unknown"), ("row", None, True)]


def test_a_stream_cut_after_text_is_incomplete_and_cools_the_profile_down():
    call = engine(A, B)
    call.start()
    cut = StreamFailure(Failure(None, "Connection dropped", "unknown", transport=True, retryable=True), True)
    step = call.feed(cut)
    assert isinstance(step.action, Fail) and "broke off" in str(step.action.error)
    assert kinds(step.effects) == [("fail", "anthropic:a", "unknown"), ("row", None, True)]


def test_no_candidates_records_the_refusal():
    refusal = NoAvailableProfileError("No available auth profile", fix="wait")
    call = CallEngine(request(), refusal, plan=lambda c: None, agent_id="main", streamed=True)
    step = call.start()
    assert isinstance(step.action, Fail) and step.action.error is refusal
    (record,) = step.effects
    assert record.row.stream and "No available auth profile" in record.row.error


def test_the_environment_credential_is_never_marked():
    call = engine(ENV)
    call.start()
    step = call.feed(failure(429, "rate_limit"))
    assert kinds(step.effects) == [("row", None, True)]
    call = engine(ENV)
    call.start()
    assert kinds(call.feed(answer()).effects) == [("row", "env: X", False)]


def test_timings_split_setup_failed_attempts_and_the_exchange():
    call = engine(A, B)
    call.start()
    call.feed(failure(429, "rate_limit"))
    # started 10.0; first send 12.0 (imports, client); failed; success sent at 13.0; text 13.25.
    reply = call.feed(answer(sends=(12.0, 13.0), first_text=13.25, finished=13.5)).action.reply
    assert reply.setup_s == pytest.approx(2.0)
    assert reply.attempts_s == pytest.approx(1.0)
    assert reply.latency_s == pytest.approx(0.5)
    assert reply.ttft_s == pytest.approx(0.25)


def test_the_engine_refuses_outcomes_before_start():
    with pytest.raises(AssertionError):
        engine(A).feed(answer())
    assert issubclass(ApiError, ClawdbotError)
