"""The ledger as a pandas DataFrame (built column-wise, 100,000 calls in a fraction of a second)
and as JSON or CSV for the CLI."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from clawdbot_nb.api.ledger.rows import (
    INT_FIELDS,
    LABEL_FIELDS,
    REAL_FIELDS,
    ROW_FIELDS,
    TEXT_FIELDS,
    TOKEN_FIELDS,
    LedgerRow,
)
from clawdbot_nb.api.ledger.schema import column
from clawdbot_nb.errors import ClawdbotError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from clawdbot_nb.api.ledger.store import Ledger

_UNIT_SEPARATOR = "\x1f"

#: Column order of `Ledger.dataframe()`: what the cache did and cost first, so a notebook that
#: shows only the first and last columns of a wide frame still shows those.
FRAME_COLUMNS = (
    "time",
    "model",
    "profile_id",
    "ttl_applied",
    *TOKEN_FIELDS,
    "hit",
    "hit_ratio",
    "why_miss",
    "cost_usd",
    "cost_without_cache_usd",
    "savings_usd",
    "latency_s",
    "ttft_s",
    "setup_s",
    "attempts_s",
    "cell",
    "conversation",
    "error",
    "agent",
    "credential_type",
    "ttl_requested",
    "ttl_note",
    "breakpoints",
    "stop_reason",
    "request_id",
    "session",
    "stream",
    "attempts",
    "profiles_tried",
    "job",
    "row_key",
    "batch_id",
)


class _WrongTypes(Exception):
    """A stored value of the wrong type: read again with every value checked."""


def calls_frame(ledger: Ledger, where: tuple[str, list[Any]]) -> pd.DataFrame:
    """The calls matching `where` (from `Ledger.where`), oldest first, indexed by row id.

    dtypes: `time` datetime64[ns, UTC]; counts Int64; money, ratios and timings float64 (NaN when
    unknown); `hit` and `stream` bool; names, ids and messages category; `request_id` string.
    """
    try:
        return _read_frame(ledger, where, checked=False)
    except _WrongTypes:
        # Another tool's write or a hand edit put text where a number belongs: read again with
        # every value checked (slower), so such values read as missing.
        return _read_frame(ledger, where, checked=True)


def _read_frame(ledger: Ledger, where: tuple[str, list[Any]], *, checked: bool) -> pd.DataFrame:
    from clawdbot_nb.api.ledger.store import integer_sql, real_sql, text_sql

    clause, params = where
    other_texts = [name for name in TEXT_FIELDS if name != "request_id"]
    integer_names = ("id", *INT_FIELDS, *LABEL_FIELDS)
    as_int = integer_sql if checked else column
    as_real = real_sql if checked else str
    request_id = text_sql("request_id") if checked else "request_id"
    # SQLite concatenates in C; NULL becomes -1, so every integer column yields exactly one value
    # per row (a value of another type shows up as a count that does not match).
    concat = ", ".join(
        "group_concat(id)" if name == "id" else f"group_concat(IFNULL({as_int(name)}, -1))"
        for name in integer_names
    )
    request_ids = f"group_concat(IFNULL({request_id}, ''), '{_UNIT_SEPARATOR}')"
    texts_sql = ", ".join(text_sql(name) for name in other_texts)
    texts_set = " OR ".join(f"{name} IS NOT NULL" for name in other_texts)
    (joined_rows, reals, texts), labels = ledger.read(
        [
            (f"SELECT COUNT(*), {request_ids}, {concat} FROM calls{clause}", params),
            (f"SELECT id, {', '.join(as_real(r) for r in REAL_FIELDS)} FROM calls{clause}", params),
            # Rarely set free text (a job's row keys): read as rows, matched by id.
            (f"SELECT id, {texts_sql} FROM calls{clause} AND ({texts_set})", params),
        ]
    )
    count, joined_ids, *joined = joined_rows[0]
    ids = joined_ids.split(_UNIT_SEPARATOR) if count else []
    if len(ids) != count:
        # A request id holding the separator itself: take the exact path.
        (exact,), _ = ledger.read([(f"SELECT id, {text_sql('request_id')} FROM calls{clause}", params)])
        by_id = dict(exact)
        ids = [by_id[int(i)] or "" for i in (joined[0] or "").split(",") if i]
    frame = _frame(count, dict(zip(integer_names, joined)), ids, reals, labels)
    if texts:  # else every value is missing, as `_frame` left it
        import pandas as pd

        by_row = {record[0]: record[1:] for record in texts}
        missing = (None,) * len(other_texts)
        for offset, name in enumerate(other_texts):
            values = [by_row.get(int(i), missing)[offset] for i in frame.index]
            frame[name] = pd.array(values, dtype="string")
    return frame


def _frame(
    count: int,
    joined: dict[str, str | None],
    request_ids: list[str],
    reals: list[tuple[Any, ...]],
    labels: dict[int, str],
) -> pd.DataFrame:
    import warnings

    import numpy as np
    import pandas as pd

    def parse(name: str) -> np.ndarray:
        text = joined[name]
        if not text:
            return np.empty(0, dtype=np.int64)
        try:
            with warnings.catch_warnings():
                # numpy warns, or raises, when a value is not an integer ("could not be read to its end")
                warnings.simplefilter("error", DeprecationWarning)
                values = np.fromstring(text, dtype=np.int64, sep=",")
        except (DeprecationWarning, ValueError):
            raise _WrongTypes(name) from None
        if values.size != count:
            raise _WrongTypes(name)
        return values

    ints = {name: parse(name) for name in joined}
    # numpy turns SQL NULL (None) into NaN in a float field.
    real_type = np.dtype([("id", np.int64), *((name, np.float64) for name in REAL_FIELDS)])
    try:
        floats = np.fromiter(reals, dtype=real_type, count=count)
    except (TypeError, ValueError):
        raise _WrongTypes("reals") from None
    # SQLite does not promise the order of group_concat, so both queries are put in id order and
    # checked against each other, then sorted by time.
    by_id = np.argsort(ints["id"], kind="stable")
    floats_by_id = np.argsort(floats["id"], kind="stable")
    if not np.array_equal(ints["id"][by_id], floats["id"][floats_by_id]):
        raise ClawdbotError("The usage ledger changed while it was being read.", fix="read it again")
    order = by_id[np.lexsort((ints["id"][by_id], ints["time_ms"][by_id]))]
    ints = {name: values[order] for name, values in ints.items()}
    floats = floats[floats_by_id[np.argsort(by_id)][order]]

    data: dict[str, Any] = {
        "time": pd.DatetimeIndex(pd.to_datetime(ints["time_ms"], unit="ms", utc=True)).as_unit("ns"),
        "stream": ints["stream"] > 0,
    }
    for name in ("breakpoints", *TOKEN_FIELDS, "attempts"):
        values = pd.array(ints[name], dtype="Int64")
        values[ints[name] < 0] = pd.NA  # missing or of the wrong type
        data[name] = values
    tokens = {name: np.maximum(ints[name], 0) for name in TOKEN_FIELDS}
    read = tokens["cache_read_tokens"]
    prompt = read + tokens["input_tokens"] + tokens["cache_write_5m_tokens"] + tokens["cache_write_1h_tokens"]
    data["hit"] = read > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        data["hit_ratio"] = np.where(prompt > 0, read / np.maximum(prompt, 1), np.nan)
    for name in REAL_FIELDS:
        data[name] = np.ascontiguousarray(floats[name])
    request_id = pd.array(np.array(request_ids, dtype=object)[order] if count else [], dtype="string")
    request_id[request_id == ""] = pd.NA  # stored NULL
    data["request_id"] = request_id
    for name in LABEL_FIELDS:
        data[name] = _categorical(ints[name], labels)
    for name in TEXT_FIELDS:
        data.setdefault(name, pd.array([pd.NA] * count, dtype="string"))  # filled by the caller
    return pd.DataFrame({c: data[c] for c in FRAME_COLUMNS}, index=pd.Index(ints["id"], name="id"))


def _categorical(label_ids: np.ndarray, labels: dict[int, str]) -> Any:
    """A Categorical from label ids (-1 for missing), categories in label order (= first use).
    An id with no label (a damaged file) reads as missing."""
    import numpy as np
    import pandas as pd

    used = np.unique(label_ids[label_ids >= 0])
    used = used[np.fromiter((int(i) in labels for i in used), dtype=bool, count=used.size)]
    codes = np.full(label_ids.shape, -1, dtype=np.int64)
    found = np.isin(label_ids, used)
    codes[found] = np.searchsorted(used, label_ids[found])
    categories = pd.Index([labels[int(i)] for i in used], dtype=object)
    return pd.Categorical.from_codes(codes, categories=categories)


# ---- exports for the CLI

EXPORT_COLUMNS = ("id", "time", *ROW_FIELDS, "hit", "hit_ratio")


def rows_to_json(rows: Iterable[LedgerRow], *, indent: int | None = 2) -> str:
    """The rows as a JSON list of objects (ISO times; null for unknown money and ratios)."""
    return json.dumps([row.to_dict() for row in rows], indent=indent, ensure_ascii=False)


def rows_to_csv(rows: Iterable[LedgerRow]) -> str:
    """The rows as CSV text with a header; unknown values are empty cells."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = row.to_dict()
        record["profiles_tried"] = ",".join(record["profiles_tried"])
        writer.writerow(record)
    return buffer.getvalue()
