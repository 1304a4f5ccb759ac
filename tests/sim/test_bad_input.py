"""Bad input gets the real API's status and error type, never a crash; the server keeps serving."""

from __future__ import annotations

import socket
import threading

import anthropic
import pytest

from clawdbot_nb import sim
from clawdbot_nb.sim import core
from tests.sim.sim_support import MODEL, Api, ask

USER = [{"role": "user", "content": "hi"}]


def _post_error(api: Api, body: object = None, *, content: bytes | None = None) -> anthropic.APIStatusError:
    client = api.client()
    with pytest.raises(anthropic.APIStatusError) as caught:
        if content is not None:
            client.post(
                "/v1/messages",
                content=content,
                cast_to=dict,
                options={"headers": {"content-type": "application/json"}},
            )
        else:
            client.post("/v1/messages", body=body, cast_to=dict)
    return caught.value


def _message(error: anthropic.APIStatusError) -> str:
    assert error.status_code == 400
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == "invalid_request_error"
    return error.body["error"]["message"]


def test_malformed_json_is_400(api: Api) -> None:
    error = _post_error(api, content=b'{"model": "x", ')
    assert _message(error).startswith("The request body is not valid JSON: ")
    assert error.body["request_id"] == error.response.headers["request-id"]


def test_body_must_be_a_json_object(api: Api) -> None:
    assert _message(_post_error(api, content=b"[1, 2]")) == "The request body must be a JSON object"


@pytest.mark.parametrize("missing", ["model", "max_tokens", "messages"])
def test_missing_required_field_is_400(api: Api, missing: str) -> None:
    body = {"model": MODEL, "max_tokens": 8, "messages": USER}
    del body[missing]
    assert _message(_post_error(api, body)) == f"{missing}: Field required"


def test_wrong_role_is_400(inproc: Api) -> None:
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "robot", "content": "hi"}]}
    assert (
        _message(_post_error(inproc, body))
        == "messages.0.role: Input should be 'user', 'assistant' or 'system'"
    )


def test_unknown_block_type_is_400(inproc: Api) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}],
    }
    message = _message(_post_error(inproc, body))
    assert message.startswith("messages.0.content.0: Input tag 'video' found using 'type' does not match")


def test_block_type_not_allowed_for_role_is_400(inproc: Api) -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.invalid/a.png"}}
    body = {"model": MODEL, "max_tokens": 8, "messages": [*USER, {"role": "assistant", "content": [image]}]}
    assert "not allowed in 'assistant' messages" in _message(_post_error(inproc, body))


def test_cache_control_on_thinking_block_is_400(api: Api) -> None:
    thinking = {
        "type": "thinking",
        "thinking": "hmm",
        "signature": "sig",
        "cache_control": {"type": "ephemeral"},
    }
    body = {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [
            *USER,
            {"role": "assistant", "content": [thinking, {"type": "text", "text": "a"}]},
            *USER,
        ],
    }
    assert (
        _message(_post_error(api, body))
        == "messages.1.content.0.thinking.cache_control: Extra inputs are not permitted"
    )


def test_cache_control_on_empty_text_block_is_400(api: Api) -> None:
    content = [{"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}]
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": content}]}
    assert (
        _message(_post_error(api, body))
        == "messages.0.content.0.text: cache_control cannot be set for empty text blocks"
    )


def test_empty_and_whitespace_text_blocks_are_400(inproc: Api) -> None:
    empty = {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}],
    }
    assert _message(_post_error(inproc, empty)) == "messages: text content blocks must be non-empty"
    blank = {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "  \n"}]}],
    }
    assert (
        _message(_post_error(inproc, blank))
        == "messages: text content blocks must contain non-whitespace text"
    )


def test_empty_message_content_is_400(inproc: Api) -> None:
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": []}]}
    assert _message(_post_error(inproc, body)) == (
        "messages.0: all messages must have non-empty content except for the optional final assistant message"
    )
    assert _message(_post_error(inproc, {"model": MODEL, "max_tokens": 8, "messages": []})) == (
        "messages: at least one message is required"
    )


def test_final_assistant_trailing_whitespace_is_400(inproc: Api) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 8,
        "messages": [*USER, {"role": "assistant", "content": "The answer is "}],
    }
    assert (
        _message(_post_error(inproc, body))
        == "messages: final assistant content cannot end with trailing whitespace"
    )


@pytest.mark.parametrize(
    ("control", "expected"),
    [
        (
            {"type": "ephemeral", "ttl": 300},
            "messages.0.content.0.cache_control.ttl: Input should be '5m' or '1h'",
        ),
        ({"type": "persistent"}, "messages.0.content.0.cache_control.type: Input should be 'ephemeral'"),
    ],
    ids=["numeric_ttl", "wrong_type"],
)
def test_bad_cache_control_is_400(api: Api, control: dict, expected: str) -> None:
    content = [{"type": "text", "text": "x", "cache_control": control}]
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": content}]}
    assert _message(_post_error(api, body)) == expected


def test_citations_on_a_user_text_block_are_400(inproc: Api) -> None:
    citation = {
        "type": "char_location",
        "cited_text": "x",
        "document_index": 0,
        "start_char_index": 0,
        "end_char_index": 1,
    }
    content = [{"type": "text", "text": "x", "citations": [citation]}]
    body = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": content}]}
    assert (
        _message(_post_error(inproc, body))
        == "messages.0.content.0.citations: Extra inputs are not permitted"
    )


def test_negative_or_non_integer_max_tokens_is_400(inproc: Api) -> None:
    body = {"model": MODEL, "max_tokens": -1, "messages": USER}
    assert _message(_post_error(inproc, body)) == "max_tokens: Input should be greater than or equal to 0"
    body = {"model": MODEL, "max_tokens": "ten", "messages": USER}
    assert _message(_post_error(inproc, body)) == "max_tokens: Input should be a valid integer"


def test_body_over_the_size_limit_is_413(api: Api) -> None:
    api.simulator.max_request_bytes = 10_000
    with pytest.raises(anthropic.APIStatusError) as caught:
        ask(api.client(), "x" * 20_000)
    error = caught.value
    assert error.status_code == 413
    assert isinstance(error, anthropic.ContentTooLargeError)
    assert error.body["error"]["type"] == "request_too_large"
    assert ask(api.client(), "small again").stop_reason == "end_turn"


def test_the_default_limit_is_32_megabytes(inproc: Api) -> None:
    assert inproc.simulator.max_request_bytes == 32 * 1024 * 1024
    with pytest.raises(anthropic.ContentTooLargeError):
        ask(inproc.client(), "a" * (32 * 1024 * 1024))


def test_unknown_path_is_404_and_wrong_method_is_405(inproc: Api) -> None:
    client = inproc.client()
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.get("/v1/nothing-here", cast_to=dict)
    assert caught.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.get("/v1/messages", cast_to=dict)
    assert caught.value.status_code == 405


def test_internal_failure_is_500_then_serving_goes_on(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(core, "generate_reply", broken)
    with pytest.raises(anthropic.InternalServerError) as caught:
        ask(api.client())
    assert caught.value.body["error"] == {"type": "api_error", "message": "Internal server error"}
    assert "simulated bug" in capsys.readouterr().err
    monkeypatch.undo()
    assert ask(api.client(), "Reply with alive.").content[0].text == "alive"


def _raw(base_url: str, payload: bytes, *, read: bool = True) -> bytes:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(payload)
        if not read:
            return b""
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        while data := connection.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


def test_server_keeps_serving_after_garbage_and_disconnects(loopback: Api) -> None:
    base = loopback.base_url
    garbage = _raw(base, b"\x16\x03\x01 this is not http\r\n\r\n")
    assert garbage.startswith(b"HTTP/1.1 400")
    assert b'"type": "error"' in garbage
    # A body shorter than its Content-Length, then the client vanishes.
    _raw(base, b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{}", read=False)
    # A client that walks away in the middle of a slow stream.
    loopback.simulator.latency = sim.LatencyModel(scale=1.0, base_seconds=0.0, output_tokens_per_second=100)
    stream = loopback.client().messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "stream slowly"}], stream=True
    )
    next(iter(stream))
    stream.response.close()
    loopback.simulator.latency = None
    # Many concurrent clients still get answers.
    replies: list[str] = []

    def call(index: int) -> None:
        replies.append(ask(loopback.client(), f"Reply with n{index}.").content[0].text)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(replies) == sorted(f"n{i}" for i in range(8))
