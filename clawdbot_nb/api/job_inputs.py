"""The rows of a map or batch job: items (a list, a pandas Series or DataFrame) and a prompt (a
template over the row's fields, or a function of the row) become one prompt per row, each with a
stable key, and the job gets an id from everything that decides its answers.

A row whose prompt cannot be made (its function raised, the result is empty) is kept with its
`problem`: it is reported as failed in the results, and the other rows go on. A template field
no row has is the caller's mistake and stops the job before anything is sent.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clawdbot_nb.errors import UsageError

#: The field a template uses for a plain item (a string in a list, a Series value).
ITEM_FIELD = "item"


@dataclass(frozen=True)
class JobRow:
    position: int
    label: Any  # the input's index label (the position for a list)
    key: str  # unique in the job; usable as a Message Batch custom_id
    prompt: str | None
    problem: str | None = None  # why no prompt could be made


@dataclass(frozen=True)
class JobInput:
    rows: list[JobRow]
    index: Any  # the pandas Index the results are aligned with (None for a list)


def _digest(text: str, size: int = 12) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:size]


def template_fields(template: str) -> list[str]:
    """The names a `str.format` template reads (`{text}`, `{row.x}` → `text`, `row`)."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise UsageError(
            f"The prompt template cannot be read: {error}.",
            fix="write fields as {column}; double literal braces: {{ and }}",
        ) from None
    names = []
    for _, field, _, _ in parsed:
        if field is None:
            continue
        name = field.split(".", 1)[0].split("[", 1)[0]
        if name == "" or name.isdigit():
            raise UsageError(
                f"The prompt template has a positional field {{{field}}}.",
                fix="name the column, e.g. {text}; double literal braces: {{ and }}",
            )
        names.append(name)
    return names


def _records(items: Any) -> tuple[list[dict[str, Any]], list[Any], list[Any], Any, list[str]]:
    """(template records, what a prompt function gets, labels, index, field names)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(items, pd.DataFrame):
        columns = [str(c) for c in items.columns]
        records = [dict(zip(columns, values)) for values in items.itertuples(index=False, name=None)]
        return records, records, list(items.index), items.index, columns
    if pd is not None and isinstance(items, pd.Series):
        names = [ITEM_FIELD] + ([str(items.name)] if items.name is not None else [])
        values = items.tolist()
        records = [dict.fromkeys(names, value) for value in values]
        return records, values, list(items.index), items.index, names
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise UsageError(
            f"items must be a list, a pandas Series or a DataFrame, got {type(items).__name__}.",
            fix="pass e.g. a list of strings or a DataFrame with one column per template field",
        )
    records, fields = [], set()
    for item in items:
        if isinstance(item, Mapping):
            record = {str(k): v for k, v in item.items()}
            fields.update(record)
        else:
            record = {ITEM_FIELD: item}
            fields.add(ITEM_FIELD)
        records.append(record)
    return records, list(items), list(range(len(records))), None, sorted(fields)


def _render(prompt: str | Callable[[Any], Any] | None, record: dict[str, Any], raw: Any) -> str:
    if prompt is None:
        value = raw
    elif callable(prompt):
        value = prompt(raw)
    else:
        value = prompt.format_map(record)
    return value if isinstance(value, str) else str(value)


def build_rows(items: Any, prompt: str | Callable[[Any], Any] | None) -> JobInput:
    """One `JobRow` per item. `prompt` is a `str.format` template over the row's fields (a
    DataFrame's columns, a dict's keys, `{item}` for a plain item), a function given the row (a
    dict for a DataFrame row, else the item), or None when the items are the prompts."""
    records, raws, labels, index, fields = _records(items)
    if not records:
        raise UsageError("There are no rows to send (items is empty).", fix="pass at least one item")
    if isinstance(prompt, str):
        missing = [name for name in dict.fromkeys(template_fields(prompt)) if name not in fields]
        if missing:
            raise UsageError(
                f"The prompt template uses {', '.join('{' + m + '}' for m in missing)}, which the rows "
                f"do not have (they have: {', '.join(fields) or 'nothing'}).",
                fix="name a column of the rows in the template, or pass prompt= a function of the row",
            )
    elif prompt is not None and not callable(prompt):
        raise UsageError(
            f"prompt must be a template string, a function of the row, or None, got {type(prompt).__name__}.",
            fix="e.g. prompt='Classify this ticket: {text}'",
        )
    rows = []
    for position, (record, raw, label) in enumerate(zip(records, raws, labels)):
        problem = None
        text: str | None
        try:
            text = _render(prompt, record, raw)
            if not text.strip():
                problem, text = "the prompt of this row is empty", None
        except KeyError as error:  # a field only some rows have (dicts in a list)
            problem, text = f"this row has no field {error}", None
        except Exception as error:  # the caller's function failed on this row
            problem, text = f"the prompt could not be made: {type(error).__name__}: {error}", None
        key = f"{position}-{_digest(text if text is not None else 'problem:' + (problem or ''))}"
        rows.append(JobRow(position, label, key, text, problem))
    return JobInput(rows, index)


def job_id(kind: str, rows: Sequence[JobRow], **decides: Any) -> str:
    """`map-…` or `batch-…`: a hash of the rows' keys (their prompts) and of everything else that
    decides their answers (model, system prompt, max_tokens, TTL …), so running the same job
    again finds it."""
    payload = json.dumps([kind, sorted(decides.items()), [r.key for r in rows]], default=str, sort_keys=True)
    return f"{kind}-{_digest(payload, 16)}"


def label_json(label: Any) -> str:
    """An index label as stored with a job's rows (to rebuild the index after a restart)."""
    if hasattr(label, "item") and not isinstance(label, str):  # numpy scalars
        label = label.item()
    if isinstance(label, tuple):
        return json.dumps({"tuple": [json.loads(label_json(v)) for v in label]})
    if isinstance(label, bool | int | float | str) or label is None:
        return json.dumps(label)
    return json.dumps(str(label))


def label_from_json(text: str | None) -> Any:
    if text is None:
        return None
    value = json.loads(text)
    if isinstance(value, dict) and "tuple" in value:
        return tuple(value["tuple"])
    return value
