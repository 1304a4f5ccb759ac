"""Checks on a Messages (or count_tokens) body, failing with the real API's 400s.

Messages follow the API's `field.path: problem` style. Confirmed texts: `<field>: Field
required`, `temperature: Extra inputs are not permitted` (under `2026-10-21`), `The request
body is not valid JSON: ...`, `messages: text content blocks must be non-empty`,
`cache_control cannot be set for empty text blocks`, `max_tokens: N > M, which is the maximum
allowed number of output tokens for <model>`. Other texts follow the same style and are marked
unconfirmed in the package's rule table. Unknown top-level fields are ignored, so a client
sending a newer parameter still works.
"""

from __future__ import annotations

import json
from typing import Any

from clawdbot_nb.sim.api_errors import invalid_request

__all__ = [
    "API_VERSIONS",
    "NEW_API_VERSION",
    "check_api_version",
    "parse_json_body",
    "validate_cache_control",
    "validate_messages_body",
]

NEW_API_VERSION = "2026-10-21"
API_VERSIONS = frozenset({"2023-01-01", "2023-06-01", NEW_API_VERSION})
_SAMPLING_FIELDS = ("temperature", "top_p", "top_k")

_USER_TYPES = frozenset(
    {"text", "image", "document", "search_result", "tool_result", "container_upload", "tool_reference"}
)
_ASSISTANT_TYPES = frozenset(
    {
        "text",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "container_upload",
        "compaction",
    }
)
_ALL_TYPES = _USER_TYPES | _ASSISTANT_TYPES
_TOOL_CHOICES = ("auto", "any", "tool", "none")
_NON_EMPTY = "all messages must have non-empty content except for the optional final assistant message"


def check_api_version(headers: dict[str, str]) -> str:
    """The request's `anthropic-version`; 400 when it is missing or unknown."""
    version = headers.get("anthropic-version")
    if not version:
        raise invalid_request("anthropic-version: header is required")
    if version not in API_VERSIONS:
        raise invalid_request(f"anthropic-version: invalid version {version!r}")
    return version


def parse_json_body(body: bytes) -> dict:
    """The body as a JSON object, or the real 400 for invalid JSON."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError as error:
        raise invalid_request(f"The request body is not valid JSON: {error}") from error
    except json.JSONDecodeError as error:
        raise invalid_request(f"The request body is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise invalid_request("The request body must be a JSON object")
    return data


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def validate_cache_control(value: Any, where: str) -> None:
    """`{"type": "ephemeral", "ttl"?: "5m" | "1h"}` (reference §2.1)."""
    if not isinstance(value, dict):
        raise invalid_request(f"{where}: Input should be a valid dictionary or object")
    if value.get("type") != "ephemeral":
        raise invalid_request(f"{where}.type: Input should be 'ephemeral'")
    if "ttl" in value and value["ttl"] not in ("5m", "1h"):
        raise invalid_request(f"{where}.ttl: Input should be '5m' or '1h'")
    extra = set(value) - {"type", "ttl"}
    if extra:
        raise invalid_request(f"{where}.{sorted(extra)[0]}: Extra inputs are not permitted")


def _validate_block(block: Any, role: str, where: str, *, nested: bool = False) -> None:
    if not isinstance(block, dict):
        raise invalid_request(f"{where}: Input should be a valid dictionary or object")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise invalid_request(f"{where}.type: Field required")
    allowed = _USER_TYPES if role == "user" else _ASSISTANT_TYPES if role == "assistant" else {"text"}
    if kind not in _ALL_TYPES:
        expected = ", ".join(f"'{t}'" for t in sorted(allowed))
        raise invalid_request(
            f"{where}: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            f"{expected}"
        )
    if kind not in allowed and not nested:
        raise invalid_request(f"{where}.type: '{kind}' blocks are not allowed in '{role}' messages")
    if kind in ("thinking", "redacted_thinking") and "cache_control" in block:
        raise invalid_request(f"{where}.{kind}.cache_control: Extra inputs are not permitted")
    if "cache_control" in block and block["cache_control"] is not None:
        validate_cache_control(block["cache_control"], f"{where}.cache_control")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise invalid_request(
                f"{where}.text: Field required"
                if text is None
                else f"{where}.text: Input should be a valid string"
            )
        if not text:
            if block.get("cache_control") is not None:
                raise invalid_request(f"{where}.text: cache_control cannot be set for empty text blocks")
            raise invalid_request("messages: text content blocks must be non-empty")
        if not text.strip() and role != "assistant":
            raise invalid_request("messages: text content blocks must contain non-whitespace text")
        if role == "user" and block.get("citations"):
            raise invalid_request(f"{where}.citations: Extra inputs are not permitted")
    elif kind == "image" or kind == "document":
        source = block.get("source")
        if not isinstance(source, dict) or not isinstance(source.get("type"), str):
            raise invalid_request(f"{where}.source: Field required")
    elif kind == "tool_use" or kind == "server_tool_use":
        for key in ("id", "name"):
            if not isinstance(block.get(key), str):
                raise invalid_request(f"{where}.{key}: Field required")
        if "input" not in block:
            raise invalid_request(f"{where}.input: Field required")
    elif kind == "tool_result":
        if not isinstance(block.get("tool_use_id"), str):
            raise invalid_request(f"{where}.tool_use_id: Field required")
        content = block.get("content")
        if isinstance(content, list):
            for index, item in enumerate(content):
                _validate_block(item, "user", f"{where}.content.{index}", nested=True)
    elif kind == "thinking":
        if not isinstance(block.get("thinking"), str):
            raise invalid_request(f"{where}.thinking: Field required")
        if not isinstance(block.get("signature"), str):
            raise invalid_request(f"{where}.signature: Field required")


def _validate_messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise invalid_request("messages: Input should be a valid list")
    if not messages:
        raise invalid_request("messages: at least one message is required")
    last = len(messages) - 1
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            raise invalid_request(f"{where}: Input should be a valid dictionary or object")
        role = message.get("role")
        if role is None:
            raise invalid_request(f"{where}.role: Field required")
        if role not in ("user", "assistant", "system"):
            raise invalid_request(f"{where}.role: Input should be 'user', 'assistant' or 'system'")
        if "content" not in message:
            raise invalid_request(f"{where}.content: Field required")
        content = message["content"]
        may_be_empty = index == last and role == "assistant"
        if isinstance(content, str):
            if not content and not may_be_empty:
                raise invalid_request(f"{where}: {_NON_EMPTY}")
            continue
        if not isinstance(content, list):
            raise invalid_request(f"{where}.content: Input should be a valid string or a valid list")
        if not content and not may_be_empty:
            raise invalid_request(f"{where}: {_NON_EMPTY}")
        for b_index, block in enumerate(content):
            _validate_block(block, role, f"{where}.content.{b_index}")
    final = messages[last]
    if isinstance(final, dict) and final.get("role") == "assistant":
        content = final.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        tail = blocks[-1] if blocks else None
        if (
            isinstance(tail, dict)
            and tail.get("type") == "text"
            and tail.get("text", "") != tail.get("text", "").rstrip()
        ):
            raise invalid_request("messages: final assistant content cannot end with trailing whitespace")


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid_request("system: Input should be a valid string or a valid list")
    for index, block in enumerate(system):
        where = f"system.{index}"
        if not isinstance(block, dict):
            raise invalid_request(f"{where}: Input should be a valid dictionary or object")
        if block.get("type") != "text":
            raise invalid_request(f"{where}.type: Input should be 'text'")
        _validate_block(block, "system", where)


def _validate_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise invalid_request("tools: Input should be a valid list")
    names: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        if not isinstance(tool, dict):
            raise invalid_request(f"{where}: Input should be a valid dictionary or object")
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_request(f"{where}.name: Field required")
        if tool.get("type") in (None, "custom") and not isinstance(tool.get("input_schema"), dict):
            raise invalid_request(f"{where}.custom.input_schema: Field required")
        if name in names:
            raise invalid_request("tools: Tool names must be unique.")
        names.add(name)
        if tool.get("cache_control") is not None:
            validate_cache_control(tool["cache_control"], f"{where}.cache_control")


def _validate_tool_choice(choice: Any, tools: Any) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in _TOOL_CHOICES:
        raise invalid_request("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
    if choice["type"] == "tool":
        name = choice.get("name")
        if not isinstance(name, str):
            raise invalid_request("tool_choice.tool.name: Field required")
        tool_names = {t.get("name") for t in tools or [] if isinstance(t, dict)}
        if name not in tool_names:
            raise invalid_request(f"tool_choice: tool '{name}' not found in tools")
    if choice["type"] in ("any", "tool") and not tools:
        raise invalid_request("tool_choice: tool_choice may only be specified while providing tools.")


def _validate_thinking(thinking: Any, max_tokens: Any) -> None:
    if thinking is None:
        return
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled", "adaptive"):
        raise invalid_request("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
    if thinking["type"] == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool):
            raise invalid_request("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise invalid_request(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        if isinstance(max_tokens, int) and max_tokens > 0 and max_tokens <= budget:
            raise invalid_request("`max_tokens` must be greater than `thinking.budget_tokens`.")


_EFFORTS = ("low", "medium", "high", "xhigh", "max")


def _validate_output_config(config: Any) -> None:
    """`output_config`: an optional `effort` level and an optional `json_schema` format."""
    if config is None:
        return
    if not isinstance(config, dict):
        raise invalid_request("output_config: Input should be a valid dictionary or object")
    effort = config.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise invalid_request(
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
        )
    fmt = config.get("format")
    if fmt is None:
        return
    if not isinstance(fmt, dict):
        raise invalid_request("output_config.format: Input should be a valid dictionary or object")
    if fmt.get("type") != "json_schema":
        raise invalid_request("output_config.format.type: Input should be 'json_schema'")
    if not isinstance(fmt.get("schema"), dict):
        raise invalid_request("output_config.format.schema: Field required")


def _validate_prewarm(body: dict, *, in_batch: bool) -> None:
    """`max_tokens: 0` pre-warming and its rejections (reference §3.5)."""
    if in_batch:
        raise invalid_request("max_tokens: 0 (cache pre-warming) is not supported in Message Batches")
    if body.get("stream"):
        raise invalid_request("max_tokens: 0 (cache pre-warming) cannot be combined with stream: true")
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        raise invalid_request(
            "max_tokens: 0 (cache pre-warming) cannot be combined with thinking.type: 'enabled'"
        )
    output_config = body.get("output_config")
    if isinstance(output_config, dict) and output_config.get("format") is not None:
        raise invalid_request(
            "max_tokens: 0 (cache pre-warming) cannot be combined with output_config.format"
        )
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("tool", "any"):
        raise invalid_request(
            f"max_tokens: 0 (cache pre-warming) cannot be combined with tool_choice.type: '{choice['type']}'"
        )


def validate_messages_body(
    body: dict,
    *,
    api_version: str,
    max_output_tokens: int | None,
    count_tokens: bool = False,
    in_batch: bool = False,
) -> None:
    """Every structural rule of a Messages body; raises `ApiError` (400) on the first failure.

    Model existence is checked separately (404), after this.
    """
    required = ("model", "messages") if count_tokens else ("model", "max_tokens", "messages")
    for name in required:
        if name not in body:
            raise invalid_request(f"{name}: Field required")
    if api_version == NEW_API_VERSION:
        for name in _SAMPLING_FIELDS:
            if name in body:
                raise invalid_request(f"{name}: Extra inputs are not permitted")
    if not isinstance(body["model"], str) or not body["model"]:
        raise invalid_request(f"model: Input should be a valid string, got {_type_name(body['model'])}")
    max_tokens = body.get("max_tokens")
    if not count_tokens:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise invalid_request("max_tokens: Input should be a valid integer")
        if max_tokens < 0:
            raise invalid_request("max_tokens: Input should be greater than or equal to 0")
        if max_output_tokens is not None and max_tokens > max_output_tokens:
            raise invalid_request(
                f"max_tokens: {max_tokens} > {max_output_tokens}, which is the maximum allowed number of "
                f"output tokens for {body['model']}"
            )
    _validate_system(body.get("system"))
    _validate_messages(body["messages"])
    _validate_tools(body.get("tools"))
    _validate_tool_choice(body.get("tool_choice"), body.get("tools"))
    _validate_thinking(body.get("thinking"), max_tokens)
    _validate_output_config(body.get("output_config"))
    if body.get("cache_control") is not None:
        validate_cache_control(body["cache_control"], "cache_control")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise invalid_request("stream: Input should be a valid boolean")
    stops = body.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops)
    ):
        raise invalid_request("stop_sequences: Input should be a valid list of non-empty strings")
    if not count_tokens and max_tokens == 0:
        _validate_prewarm(body, in_batch=in_batch)
