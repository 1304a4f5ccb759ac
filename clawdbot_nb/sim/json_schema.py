"""Deterministic JSON instances of a JSON Schema: tool arguments and structured output.

`instance(schema, hints)` builds one value that validates against `schema` (draft 2020-12 and
the subset the Messages API accepts for `input_schema` and `output_config.format`): `$ref` into
`$defs`/`definitions`, `allOf` (merged), `anyOf`/`oneOf` (the first branch that is not `null`),
`const`, `enum` (the first value), `type` (a list picks its first non-null type), objects (every
declared property; `minProperties` filled with extra keys when allowed), arrays (`items`,
`prefixItems`, `minItems`/`maxItems`, `uniqueItems`), strings (`minLength`/`maxLength`,
`format` date-time, date, time, duration, email, hostname, uri, ipv4, ipv6, uuid, and `pattern`
through a small generator over the pattern's parse tree), numbers (`minimum`, `maximum`,
exclusive bounds, `multipleOf`), booleans and null.

`hints` maps property names to values the prompt asked for (`city: Paris`); a hint is used when
it validates against the property's schema, otherwise the generated value is. Constraints the
SDK's `transform_schema` moves into a `description` (`{minItems: 2}`) are honoured too, as a
model reading the description would. Nesting stops at a
fixed depth, where arrays are left empty and optional branches take `null`. Ours rather than a
library: a simulator must answer the same bytes for the same request, which random generators
(hypothesis-jsonschema, jsf) do not promise, and the subset above is what the API accepts.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["conforms", "instance"]

_MAX_DEPTH = 6
_FORMATS = {
    "date-time": "2026-11-01T12:00:00Z",
    "date": "2026-11-01",
    "time": "12:00:00Z",
    "duration": "PT5M",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "hostname": "example.com",
    "idn-hostname": "example.com",
    "uri": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def _resolve(schema: Any, root: dict, seen: tuple[str, ...] = ()) -> Any:
    """`schema` with `$ref` followed (local references only) and `allOf` merged in."""
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        target: Any = root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**(_resolve(target, root, (*seen, ref)) or {}), **rest}
    parts = schema.get("allOf")
    if isinstance(parts, list) and parts:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in parts:
            part = _resolve(part, root, seen)
            if not isinstance(part, dict):
                continue
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged.setdefault(key, value)
        schema = merged
    return schema


#: Constraints the SDK's `transform_schema` moves into `description` as `{minItems: 2, ...}`.
_DESCRIBED = re.compile(r"^\{((?:\w+: [^,{}]+)(?:, \w+: [^,{}]+)*)\}$")
_DESCRIBED_KEYS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems"}
    | {"minLength", "maxLength", "minProperties", "maxProperties"}
)


def _described(schema: dict) -> dict:
    """`schema` with the constraints written into its description (as a model would read them)."""
    description = schema.get("description")
    match = _DESCRIBED.match(description.strip()) if isinstance(description, str) else None
    if match is None:
        return schema
    extra: dict = {}
    for part in match.group(1).split(", "):
        key, _, raw = part.partition(": ")
        if key in _DESCRIBED_KEYS:
            try:
                extra[key] = json.loads(raw)
            except ValueError:
                continue
    return {**extra, **schema} if extra else schema


def _type_of(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or kind
        kind = min(kinds, key=lambda k: _TYPE_ORDER.index(k) if k in _TYPE_ORDER else 99) if kinds else None
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if "pattern" in schema or "format" in schema or "minLength" in schema:
        return "string"
    if "minimum" in schema or "maximum" in schema or "multipleOf" in schema:
        return "number"
    return None


def conforms(value: Any, schema: Any, root: dict | None = None) -> bool:
    """Whether `value` satisfies the parts of `schema` the generator honours (used for hints)."""
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    schema = _resolve(schema, root)
    if schema is True or schema is None:
        return True
    if schema is False or not isinstance(schema, dict):
        return False
    if "const" in schema:
        return bool(value == schema["const"])
    if isinstance(schema.get("enum"), list):
        return value in schema["enum"]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            return any(conforms(value, branch, root) for branch in schema[key])
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds] if isinstance(kinds, str) else []
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
    }
    if kinds and not any(checks.get(k, lambda v: False)(value) for k in kinds):
        return False
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", math.inf):
            return False
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if re.search(pattern, value) is None:
                    return False
            except re.error:
                return False
        if schema.get("format") in _FORMATS and value != _FORMATS[schema["format"]]:
            return False  # a hint in an unchecked format is not trusted
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _in_range(value, schema)
    if isinstance(value, dict):
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        if any(name not in value for name in schema.get("required") or []):
            return False
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                if not conforms(item, properties[name], root):
                    return False
            elif extra is False or (isinstance(extra, dict) and not conforms(item, extra, root)):
                return False
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", math.inf):
            return False
        items = schema.get("items")
        if isinstance(items, dict) and not all(conforms(item, items, root) for item in value):
            return False
    return True


def _in_range(value: float, schema: dict) -> bool:
    if "minimum" in schema and value < schema["minimum"]:
        return False
    if "maximum" in schema and value > schema["maximum"]:
        return False
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        return False
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        return False
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and step > 0:
        return math.isclose(value / step, round(value / step))
    return True


def _number(schema: dict, integer: bool, seed: int) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    step = schema.get("multipleOf")
    step = step if isinstance(step, int | float) and step > 0 else (1 if integer else None)
    if isinstance(low, int | float):
        start = float(low)
    elif isinstance(high, int | float):
        start = float(high) - (step or 1) * (seed + 1)
    else:
        start = 1.0
    if step is not None:
        start = math.ceil(start / step) * step
    stride = step or 1.0
    candidates = [start + stride * index for index in range(seed, seed + 4)]
    if isinstance(low, int | float) and isinstance(high, int | float):
        candidates.append((low + high) / 2)  # an open interval narrower than one step
    for candidate in candidates:
        value: int | float = round(candidate) if integer else candidate
        if _in_range(value, schema):
            return value
    fallback = low if isinstance(low, int | float) else high if isinstance(high, int | float) else 0
    return int(fallback) if integer else fallback


def _string(schema: dict, name: str, hint: Any, seed: int) -> str:
    candidates: list[str] = []
    if isinstance(hint, str):
        candidates.append(hint)
    fmt = schema.get("format")
    if fmt in _FORMATS:
        candidates.append(_FORMATS[fmt])
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        generated = _from_pattern(pattern)
        if generated is not None:
            candidates.append(generated)
    plain = name.replace("_", " ") if name else "value"
    if seed:
        plain = f"{plain} {seed + 1}"
    candidates += [plain, "sim"]
    for candidate in candidates:
        if conforms(candidate, schema):
            return candidate
    # Only the length bounds are left to meet (or a pattern the generator could not follow).
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    text = plain if len(plain) >= low else (plain + "x" * low)[: max(low, len(plain))]
    return text[:high] if isinstance(high, int) else text


def _from_pattern(pattern: str) -> str | None:
    """A string the regular expression matches (shortest repeats), or None if it cannot tell."""
    from re import _parser  # the stdlib's own parse tree of a pattern

    try:
        text = _emit(_parser.parse(pattern))
        return text if re.search(pattern, text) is not None else None
    except (re.error, ValueError, TypeError, IndexError, RecursionError):
        return None


def _emit(tree: Any) -> str:
    out: list[str] = []
    for op, arg in tree:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_member(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _, sub = arg
            out.append(_emit(sub) * int(low))
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1]))
        elif name == "ATOMIC_GROUP":
            out.append(_emit(arg))
        elif name == "BRANCH":
            out.append(_emit(arg[1][0]))
        elif name == "CATEGORY":
            out.append(_category_member(str(arg)))
        elif name not in ("AT", "ASSERT", "ASSERT_NOT"):
            raise ValueError(f"unsupported pattern element {name}")
    return "".join(out)


def _category_member(category: str) -> str:
    if "NOT_" in category:
        return "-" if "WORD" in category else "a"
    return {"DIGIT": "0", "SPACE": " "}.get(category.rsplit("_", 1)[-1], "a")


def _class_member(items: list) -> str:
    if any(str(op) == "NEGATE" for op, _ in items):
        excluded: set[str] = set()
        for op, arg in items:
            if str(op) == "LITERAL":
                excluded.add(chr(arg))
            elif str(op) == "RANGE":
                excluded.update(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 256) + 1))
        return next(c for c in "a0A_-x" if c not in excluded)
    op, arg = items[0]
    if str(op) == "LITERAL":
        return chr(arg)
    if str(op) == "RANGE":
        return chr(arg[0])
    return _category_member(str(arg))


def _object(schema: dict, root: dict, hints: dict, depth: int, seed: int) -> dict:
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [name for name in schema.get("required") or [] if isinstance(name, str)]
    names = list(dict.fromkeys([*properties, *required]))
    limit = schema.get("maxProperties")
    if isinstance(limit, int):
        names = [n for n in names if n in required] + [n for n in names if n not in required]
        names = names[: max(limit, len(required))]
    value: dict = {}
    for name in names:
        sub = properties.get(name, {})
        value[name] = _value(sub, root, name, hints.get(name), hints, depth + 1, seed)
    extra = schema.get("additionalProperties", True)
    wanted = schema.get("minProperties", 0)
    index = 0
    while isinstance(wanted, int) and len(value) < wanted and extra is not False:
        index += 1
        sub = extra if isinstance(extra, dict) else {}
        value[f"extra_{index}"] = _value(sub, root, f"extra_{index}", None, {}, depth + 1, seed)
    return value


def _array(schema: dict, root: dict, name: str, hints: dict, depth: int, seed: int) -> list:
    low = int(schema.get("minItems", 0))
    high = schema.get("maxItems")
    prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
    items = schema.get("items", {})
    count = max(low, len(prefix), 1 if depth < 3 else 0)
    if isinstance(high, int):
        count = min(count, high)
    values = []
    for index in range(count):
        sub = prefix[index] if index < len(prefix) else items if isinstance(items, dict) else {}
        values.append(_value(sub, root, name, None, hints, depth + 1, seed + index))
    return values


def _value(schema: Any, root: dict, name: str, hint: Any, hints: dict, depth: int, seed: int) -> Any:
    schema = _resolve(schema, root)
    if hint is not None and conforms(hint, schema, root):
        return hint
    if not isinstance(schema, dict):
        return None if schema is False else (name or "value")
    schema = _described(schema)
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[seed % len(enum)]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            resolved = [_resolve(b, root) for b in branches]
            concrete = [b for b in resolved if not (isinstance(b, dict) and b.get("type") == "null")]
            choice = concrete[0] if concrete and depth < _MAX_DEPTH else resolved[0]
            merged = {k: v for k, v in schema.items() if k != key}
            if isinstance(choice, dict):
                merged.update(choice)
            return _value(merged, root, name, hint, hints, depth, seed)
    kind = _type_of(schema)
    if depth > _MAX_DEPTH and isinstance(schema.get("type"), list) and "null" in schema["type"]:
        return None
    if kind == "object":
        nested = hint if isinstance(hint, dict) else {}
        return _object(schema, root, {**hints, **nested} if depth == 0 else nested, depth, seed)
    if kind == "array":
        return _array(schema, root, name, hints, depth, seed)
    if kind == "string":
        return _string(schema, name, hint, seed)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer", seed)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return name or "value"


def instance(schema: Any, hints: dict[str, Any] | None = None) -> Any:
    """One deterministic value that validates against `schema`; `hints` fill named properties."""
    root = schema if isinstance(schema, dict) else {}
    return _value(schema, root, "", None, dict(hints or {}), 0, 0)
