"""When the simulated model calls a tool, which ones, and with what arguments.

Deterministic rules (the simulator's docstring table points here):

- Only custom tools (`type` absent or `"custom"`) are ever called; server tools are not run.
- `tool_choice` `none` never calls. `tool` calls the named tool, `any` the tools the last user
  turn asks for or else the first custom tool: forced, even after tool results.
- `auto` (or no `tool_choice`) calls the tools the text of the last user turn asks for, in the
  order it mentions them, unless that turn carries `tool_result` blocks (then the model answers
  in text), says "do not use tools" (or "don't use tools", "without tools", "no tools"), or
  asks for an exact reply (`Reply with X`). A turn asks for a tool when it names it (`get_weather`,
  or `get weather`) or names its subject: a word of the tool's name other than a generic verb
  (get, fetch, search, lookup, list, ...), as a whole word or its plural (`weather`, `forecasts`).
- Several tools asked for are called in parallel, one `tool_use` block each, unless
  `disable_parallel_tool_use` is set (then only the first).
- Arguments are `json_schema.instance(input_schema, hints)`: they validate against the schema.
  Hints come from the turn's text: `name: value` or `name=value` for a property, else for the
  first string property a quoted phrase, else the phrase after a final `in`/`for`/`about`/`of`/
  `on`/`at` ("What is the weather in SF?" gives `location: "SF"`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from clawdbot_nb.sim.json_schema import instance

__all__ = ["called_tools", "custom_tools", "tool_arguments", "user_request_text"]

#: Words of a tool's name that say what it does, not what it is about.
_GENERIC = frozenset(
    {
        *("get", "set", "fetch", "find", "lookup", "look", "up", "search", "list", "run", "call"),
        *("do", "make", "create", "add", "update", "delete", "remove", "read", "write", "show"),
        *("tool", "tools", "check", "compute", "calculate", "query", "send", "retrieve", "load"),
        *("save", "open", "close", "use", "the", "a", "an", "of", "for", "to", "by", "and", "or"),
        *("with", "from", "on", "in"),
    }
)
_DECLINED = re.compile(
    r"\b(?:do not|don't|dont|never) use (?:any )?tools?\b|\bwithout (?:any )?tools?\b|\bno tools\b", re.I
)
_REPLY_WITH = re.compile(r"\breply with\b", re.I)
_TRAILING_PHRASE = re.compile(r"\b(?:in|for|about|of|on|at)\s+([^?.!,;:\n]+?)\s*[?.!]*\s*$", re.I)
_QUOTED = re.compile(r"\"([^\"\n]+)\"|'([^'\n]+)'")


def custom_tools(params: dict) -> list[dict]:
    tools = params.get("tools")
    if not isinstance(tools, list):
        return []
    return [t for t in tools if isinstance(t, dict) and t.get("type") in (None, "custom") and t.get("name")]


def _last_user_content(params: dict) -> list[dict] | str | None:
    for message in reversed(params.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str | list) else None
    return None


def user_request_text(params: dict) -> str:
    """The text blocks of the last user turn (tool results excluded)."""
    content = _last_user_content(params)
    if isinstance(content, str):
        return content
    texts = [
        b["text"]
        for b in content or []
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    ]
    return "\n".join(texts)


def answers_tool_results(params: dict) -> bool:
    """Whether the last user turn carries tool results (the model then answers in text)."""
    content = _last_user_content(params)
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in re.split(r"[\s_\-.]+", spaced) if w]


def _first_mention(tool_name: str, text: str) -> int | None:
    """Where the text first asks for the tool (its name, spaced name or subject), or None."""
    words = _name_words(tool_name)
    forms = [re.escape(tool_name), r"\s+".join(map(re.escape, words))]
    forms += [re.escape(w) + r"(?:s|es)?" for w in words if len(w) >= 3 and w not in _GENERIC]
    found = [
        match.start()
        for form in forms
        if (match := re.search(rf"(?<![A-Za-z0-9_]){form}(?![A-Za-z0-9_])", text, re.I)) is not None
    ]
    return min(found) if found else None


def called_tools(params: dict) -> list[dict]:
    """The tool definitions the reply calls, in order; empty for a text answer."""
    tools = custom_tools(params)
    choice = params.get("tool_choice") if isinstance(params.get("tool_choice"), dict) else {"type": "auto"}
    kind = choice.get("type", "auto")
    if not tools or kind == "none":
        return []
    text = user_request_text(params)
    mentioned = sorted(
        (
            (position, index, tool)
            for index, tool in enumerate(tools)
            if (position := _first_mention(tool["name"], text)) is not None
        ),
        key=lambda item: (item[0], item[1]),
    )
    asked = [tool for _, _, tool in mentioned]
    if kind == "tool":
        calls = [t for t in tools if t["name"] == choice.get("name")][:1]
    elif kind == "any":
        calls = asked or tools[:1]
    else:
        if answers_tool_results(params) or _DECLINED.search(text) or _REPLY_WITH.search(text):
            return []
        calls = asked
    return calls[:1] if choice.get("disable_parallel_tool_use") else calls


def _coerce(raw: str) -> Any:
    raw = raw.strip().strip("\"'`")
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def tool_arguments(tool: dict, text: str) -> Any:
    """Arguments for `tool` that validate against its `input_schema`, steered by the text."""
    schema = tool.get("input_schema") if isinstance(tool.get("input_schema"), dict) else {"type": "object"}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    hints: dict[str, Any] = {}
    for name in properties:
        match = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}\s*(?::|=)\s*([^,;\n]+)", text, re.I)
        if match:
            hints[name] = _coerce(match.group(1))
    strings = [n for n, p in properties.items() if isinstance(p, dict) and p.get("type") == "string"]
    free = [n for n in strings if n not in hints]
    if free:
        quoted = _QUOTED.search(text)
        trailing = _TRAILING_PHRASE.search(text)
        if quoted:
            hints[free[0]] = quoted.group(1) or quoted.group(2)
        elif trailing:
            hints[free[0]] = trailing.group(1).strip()
    return instance(schema, hints)
