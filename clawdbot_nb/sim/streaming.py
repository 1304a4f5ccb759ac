"""The SSE event sequence of a streamed Messages response (reference §4.2, SDK `_messages.py`).

`message_start` (message with empty content, stop_reason null, usage with every cache field)
→ per block `content_block_start`, `content_block_delta`×N, `content_block_stop` (a `ping`
after the first block start, as the real API sends) → `message_delta` (stop reason and
cumulative usage, cache fields repeated) → `message_stop`. Each chunk carries the delay before
it is sent, so a front-end can spread output over time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from clawdbot_nb.sim.replies import Reply
from clawdbot_nb.sim.usage import delta_usage, start_usage

__all__ = ["Chunk", "error_event", "message_events", "sse"]


@dataclass(frozen=True, slots=True)
class Chunk:
    data: bytes
    delay: float = 0.0


def sse(event: str, payload: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


def error_event(error_type: str, message: str, request_id: str) -> Chunk:
    payload = {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}
    return Chunk(sse("error", payload))


def _empty_block(block: dict) -> dict:
    kind = block["type"]
    if kind == "text":
        return {"type": "text", "text": ""}
    if kind == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    if kind == "tool_use":
        return {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
    return dict(block)


def _delta(kind: str, piece: str) -> dict:
    if kind == "thinking":
        return {"type": "thinking_delta", "thinking": piece}
    if kind == "tool_use":
        return {"type": "input_json_delta", "partial_json": piece}
    return {"type": "text_delta", "text": piece}


def message_events(message: dict, reply: Reply, usage: dict, *, output_seconds: float = 0.0) -> list[Chunk]:
    """Every chunk of a streamed response; `output_seconds` is spread over the deltas."""
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage(usage),
    }
    chunks = [Chunk(sse("message_start", {"type": "message_start", "message": start}))]
    deltas = sum(len(pieces) for pieces in reply.pieces)
    per_delta = output_seconds / deltas if deltas else 0.0
    for index, block in enumerate(message["content"]):
        chunks.append(
            Chunk(
                sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": _empty_block(block)},
                )
            )
        )
        if index == 0:
            chunks.append(Chunk(sse("ping", {"type": "ping"})))
        kind = block["type"]
        for piece in reply.pieces[index] if index < len(reply.pieces) else ():
            payload = {"type": "content_block_delta", "index": index, "delta": _delta(kind, piece)}
            chunks.append(Chunk(sse("content_block_delta", payload), per_delta))
        if kind == "thinking":
            payload = {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "signature_delta", "signature": block["signature"]},
            }
            chunks.append(Chunk(sse("content_block_delta", payload)))
        chunks.append(Chunk(sse("content_block_stop", {"type": "content_block_stop", "index": index})))
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]},
        "usage": delta_usage(usage),
    }
    chunks.append(Chunk(sse("message_delta", delta)))
    chunks.append(Chunk(sse("message_stop", {"type": "message_stop"})))
    return chunks
