"""The usage ledger: what goes in comes back out (rows, DataFrame, summaries, exports), safely
shared by processes, private on disk, and never holding a secret."""

from __future__ import annotations

import csv
import io
import json
import math
import sqlite3
import stat
import subprocess
import sys
import textwrap
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from anthropic.types import CacheCreation, Usage

from clawdbot_nb.api.ledger import (
    FRAME_COLUMNS,
    GROUP_COLUMNS,
    SCHEMA_VERSION,
    Ledger,
    LedgerRow,
    LedgerTotals,
    build_row,
    current_session,
    ledger_path,
    rows_to_csv,
    rows_to_json,
)
from clawdbot_nb.api.pricing import UnpricedModelWarning, compute_cost
from clawdbot_nb.errors import ClawdbotError, UsageError
from clawdbot_nb.state.redaction import redact

T0 = 1_790_000_000_000  # 2026-09-21T14:13:20Z in epoch ms
SECRET = "sk-ant-api03-" + "q" * 86 + "WXYZ"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    with Ledger(tmp_path / "usage.sqlite") as opened:
        yield opened


def full_row(**changes: object) -> LedgerRow:
    """A row with every column set to something other than its default."""
    values: dict[str, object] = dict(
        time_ms=T0,
        model="claude-sonnet-4-6",
        agent="main",
        profile_id="anthropic:work",
        credential_type="oauth",
        ttl_requested="1h",
        ttl_applied="5m",
        ttl_note="TTL ignored for OAuth",
        breakpoints=3,
        input_tokens=12,
        output_tokens=345,
        cache_read_tokens=6_000,
        cache_write_5m_tokens=1_500,
        cache_write_1h_tokens=250,
        cost_usd=0.012345678901234567,
        cost_without_cache_usd=0.0234,
        savings_usd=0.011054321098765433,
        latency_s=1.25,
        ttft_s=0.31,
        stop_reason="end_turn",
        request_id="req_011CXYZ",
        error="overloaded_error: Overloaded",
        cell="17",
        session="kernel-a",
        stream=True,
        attempts=2,
        profiles_tried=("anthropic:default", "anthropic:work"),
    )
    values.update(changes)
    return LedgerRow(**values)  # type: ignore[arg-type]


def plain_row(time_ms: int, **changes: object) -> LedgerRow:
    values: dict[str, object] = {"time_ms": time_ms, "model": "claude-sonnet-4-6", "input_tokens": 10}
    values.update(changes)
    return LedgerRow(**values)  # type: ignore[arg-type]


# ---- round trips


def test_every_column_round_trips(ledger: Ledger) -> None:
    row = full_row()
    row_id = ledger.append(row)
    (back,) = ledger.rows()
    assert back == row
    assert back.id == row_id
    assert back.time == datetime(2026, 9, 21, 14, 13, 20, tzinfo=UTC)
    assert back.hit is True
    assert back.hit_ratio == pytest.approx(6_000 / (6_000 + 1_500 + 250 + 12))


def test_defaults_round_trip_and_missing_money_is_nan_not_zero(ledger: Ledger) -> None:
    row = LedgerRow(time_ms=T0, model="claude-unknown")
    ledger.append(row)
    (back,) = ledger.rows()
    for name in ("cost_usd", "cost_without_cache_usd", "savings_usd"):
        assert math.isnan(getattr(back, name))
    assert (back.latency_s, back.ttft_s, back.cell, back.profiles_tried, back.stream) == (
        None,
        None,
        None,
        (),
        False,
    )
    assert back.hit is False and math.isnan(back.hit_ratio)
    # Stored as SQL NULL, so SQL sums and the sqlite3 shell see "unknown", not a number.
    raw = sqlite3.connect(ledger.path).execute("SELECT cost_usd, savings_usd FROM calls_view").fetchone()
    assert raw == (None, None)


def test_the_sqlite_view_shows_the_calls_with_their_text(ledger: Ledger) -> None:
    ledger.append(full_row())
    conn = sqlite3.connect(ledger.path)
    conn.row_factory = sqlite3.Row
    view = dict(conn.execute("SELECT * FROM calls_view").fetchone())
    assert view["time"] == "2026-09-21T14:13:20.000Z"
    assert (view["model"], view["profile_id"], view["session"], view["profiles_tried"]) == (
        "claude-sonnet-4-6",
        "anthropic:work",
        "kernel-a",
        "anthropic:default,anthropic:work",
    )


def test_rows_come_back_in_time_order_with_filters(ledger: Ledger) -> None:
    ledger.append(plain_row(T0 + 3_000, agent="main", session="b"))
    ledger.append(plain_row(T0 + 1_000, agent="ops", session="a"))
    ledger.append(plain_row(T0 + 2_000, agent="main", session="a"))
    assert [r.time_ms for r in ledger.rows()] == [T0 + 1_000, T0 + 2_000, T0 + 3_000]
    assert [r.time_ms for r in ledger.rows(session="a")] == [T0 + 1_000, T0 + 2_000]
    assert [r.time_ms for r in ledger.rows(agent="main")] == [T0 + 2_000, T0 + 3_000]
    assert [r.time_ms for r in ledger.rows(session="a", agent="main")] == [T0 + 2_000]
    assert ledger.rows(session="nobody") == []
    # since: epoch seconds, an aware datetime, or a timedelta back from now.
    assert [r.time_ms for r in ledger.rows(since=(T0 + 2_000) / 1000)] == [T0 + 2_000, T0 + 3_000]
    since = datetime.fromtimestamp((T0 + 2_500) / 1000, tz=UTC)
    assert [r.time_ms for r in ledger.rows(since=since)] == [T0 + 3_000]
    assert ledger.rows(since=timedelta(minutes=5)) == []
    # limit keeps the latest calls, still oldest first.
    assert [r.time_ms for r in ledger.rows(limit=2)] == [T0 + 2_000, T0 + 3_000]
    assert len(ledger) == 3


def test_another_ledger_on_the_same_file_sees_new_labels(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    with Ledger(path) as writer, Ledger(path) as reader:
        writer.append(plain_row(T0, model="claude-opus-4-6", cell="1"))
        assert [r.model for r in reader.rows()] == ["claude-opus-4-6"]
        writer.append(plain_row(T0 + 1, model="claude-haiku-4-5", cell="2"))
        assert list(reader.dataframe()["model"]) == ["claude-opus-4-6", "claude-haiku-4-5"]
        assert [r.cell for r in reader.rows()] == ["1", "2"]


# ---- building a row from a call


def test_build_row_from_sdk_usage_and_cost() -> None:
    usage = Usage(
        input_tokens=50,
        output_tokens=200,
        cache_read_input_tokens=9_000,
        cache_creation_input_tokens=1_000,
        cache_creation=CacheCreation(ephemeral_5m_input_tokens=0, ephemeral_1h_input_tokens=1_000),
    )
    cost = compute_cost("claude-sonnet-4-6", usage)
    row = build_row(
        model="claude-sonnet-4-6",
        usage=usage,
        cost=cost,
        agent="main",
        profile_id="anthropic:default",
        credential_type="api_key",
        ttl_requested="1h",
        breakpoints=2,
        latency_s=2.5,
        cell=42,
        profiles_tried=["anthropic:default"],
        time_ms=T0,
    )
    assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (50, 200, 9_000)
    assert (row.cache_write_5m_tokens, row.cache_write_1h_tokens) == (0, 1_000)
    assert row.ttl_applied == "1h"  # read off the usage
    assert row.hit and row.hit_ratio == pytest.approx(9_000 / 10_050)
    assert (row.cost_usd, row.savings_usd) == (cost.cost_usd, cost.savings_usd)
    assert row.cell == "42" and row.session == current_session() and row.time_ms == T0


def test_build_row_for_a_failed_call_costs_nothing_and_keeps_no_secret() -> None:
    failure = RuntimeError(f"401 authentication_error\ninvalid x-api-key {SECRET}")
    row = build_row(model="claude-sonnet-4-6", error=failure, attempts=3)
    assert row.error == "RuntimeError: 401 authentication_error invalid x-api-key sk-ant-api03-…WXYZ"
    assert "q" * 8 not in row.error
    assert row.cost_usd == 0 and row.hit is False and row.ttl_applied is None
    assert math.isnan(row.hit_ratio)


def test_build_row_computes_cost_when_not_given_and_both_ttls_show() -> None:
    usage = {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20},
    }
    row = build_row(model="claude-sonnet-4-6", usage=usage)
    assert row.ttl_applied == "5m+1h"
    assert row.cost_usd == pytest.approx((10 * 3.75 + 20 * 6) / 1e6)
    with pytest.warns(UnpricedModelWarning):
        unknown = build_row(model="claude-not-in-table-ledger", usage=usage)
    assert math.isnan(unknown.cost_usd)


def test_secrets_are_masked_in_every_stored_error(ledger: Ledger) -> None:
    ledger.append(full_row(error=f"proxy said: Authorization: Bearer {SECRET} was refused"))
    stored = Path(ledger.path).read_bytes() + Path(str(ledger.path) + "-wal").read_bytes()
    assert b"q" * 20 not in stored
    (back,) = ledger.rows()
    assert back.error == "proxy said: Authorization: Bearer sk-ant-api03-…WXYZ was refused"
    assert redact("Bearer abcdefghijklmnopqrstuvwxyz") == "Bearer …wxyz"


# ---- aggregates


def test_summary_hit_ratio_is_pooled_not_a_mean_of_ratios(ledger: Ledger) -> None:
    # 900 read of 1,000 (0.9) and 0 of 9,000 (0.0): the mean would be 0.45, the pool is 0.09.
    ledger.append(
        plain_row(T0, input_tokens=100, cache_read_tokens=900, cost_usd=1.0, cost_without_cache_usd=2.0)
    )
    ledger.append(plain_row(T0 + 1, input_tokens=9_000, cost_usd=3.0, cost_without_cache_usd=3.0))
    summary = ledger.summary(by="model")
    assert summary.loc["claude-sonnet-4-6", "hit_ratio"] == pytest.approx(0.09)
    assert summary.loc["claude-sonnet-4-6", "calls"] == 2
    assert summary.loc["claude-sonnet-4-6", "cost_usd"] == pytest.approx(4.0)
    assert ledger.totals().hit_ratio == pytest.approx(0.09)


def test_summary_groups_in_order_of_first_use_and_keeps_unpriced_money_unknown(ledger: Ledger) -> None:
    ledger.append(plain_row(T0, cell="10", model="claude-unknown", output_tokens=5))
    ledger.append(plain_row(T0 + 1, cell="9", cost_usd=0.5, cost_without_cache_usd=0.5, savings_usd=0.0))
    ledger.append(plain_row(T0 + 2, cell="10", cost_usd=0.25, cost_without_cache_usd=1.0, savings_usd=0.75))
    by_cell = ledger.summary(by="cell")
    assert list(by_cell.index) == ["10", "9"]  # first appearance, not "10" < "9"
    assert by_cell.loc["10", "calls"] == 2 and by_cell.loc["10", "unpriced"] == 1
    assert math.isnan(by_cell.loc["10", "cost_usd"])  # never a partial sum that looks complete
    assert by_cell.loc["9", "cost_usd"] == pytest.approx(0.5)
    assert by_cell.loc["10", "output_tokens"] == 5
    by_two = ledger.summary(by=("model", "cell"))
    assert list(by_two.index) == [
        ("claude-unknown", "10"),
        ("claude-sonnet-4-6", "9"),
        ("claude-sonnet-4-6", "10"),
    ]
    assert by_two.loc[("claude-sonnet-4-6", "10"), "savings_usd"] == pytest.approx(0.75)


def test_summary_columns_dtypes_and_bad_group(ledger: Ledger) -> None:
    ledger.append(full_row())
    ledger.append(full_row(time_ms=T0 + 5, stream=False, error=None, profile_id="anthropic:default"))
    summary = ledger.summary(by="profile_id")
    assert list(summary.columns) == [
        "calls",
        "hits",
        "errors",
        "unpriced",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_5m_tokens",
        "cache_write_1h_tokens",
        "hit_ratio",
        "cost_usd",
        "cost_without_cache_usd",
        "savings_usd",
    ]
    assert str(summary["calls"].dtype) == "Int64" and summary["cost_usd"].dtype == "float64"
    assert summary.loc["anthropic:work", "errors"] == 1 and summary.loc["anthropic:default", "errors"] == 0
    assert list(ledger.summary(by="stream").index) == [True, False]
    for name in GROUP_COLUMNS:
        assert len(ledger.summary(by=name)) >= 1
    with pytest.raises(UsageError, match="group by one or more of"):
        ledger.summary(by="cost_usd")


def test_totals_over_everything_and_an_empty_ledger(ledger: Ledger) -> None:
    empty = ledger.totals()
    assert (empty.calls, empty.input_tokens, empty.cost_usd) == (0, 0, 0.0)
    assert math.isnan(empty.hit_ratio)
    ledger.append(full_row())
    ledger.append(full_row(time_ms=T0 + 1, error=None, session="kernel-b"))
    totals = ledger.totals()
    assert isinstance(totals, LedgerTotals)
    assert (totals.calls, totals.hits, totals.errors, totals.unpriced) == (2, 2, 1, 0)
    assert totals.cache_read_tokens == 12_000 and totals.cache_write_1h_tokens == 500
    assert totals.cost_usd == pytest.approx(2 * 0.012345678901234567)
    assert totals.savings_usd == pytest.approx(totals.cost_without_cache_usd - totals.cost_usd)
    assert ledger.totals(session="kernel-b").calls == 1


# ---- DataFrame


def test_dataframe_dtypes_and_values(ledger: Ledger) -> None:
    ledger.append(full_row())
    ledger.append(plain_row(T0 + 1_500, request_id=None))
    frame = ledger.dataframe()
    assert tuple(frame.columns) == FRAME_COLUMNS
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    for name in ("breakpoints", "input_tokens", "output_tokens", "cache_read_tokens", "attempts"):
        assert str(frame[name].dtype) == "Int64", name
    for name in ("hit_ratio", "cost_usd", "cost_without_cache_usd", "savings_usd", "latency_s", "ttft_s"):
        assert frame[name].dtype == "float64", name
    assert frame["hit"].dtype == bool and frame["stream"].dtype == bool
    for name in ("agent", "profile_id", "model", "ttl_applied", "session", "cell", "error"):
        assert isinstance(frame[name].dtype, pd.CategoricalDtype), name
    assert isinstance(frame["request_id"].dtype, pd.StringDtype)

    first, second = frame.iloc[0], frame.iloc[1]
    assert first["time"] == pd.Timestamp("2026-09-21T14:13:20Z")
    assert second["time"] == pd.Timestamp("2026-09-21T14:13:21.500Z")
    assert (first["model"], first["profile_id"], first["cell"]) == (
        "claude-sonnet-4-6",
        "anthropic:work",
        "17",
    )
    assert first["cost_usd"] == 0.012345678901234567  # exact, not rounded through text
    assert first["hit"] and first["hit_ratio"] == pytest.approx(6_000 / 7_762)
    assert first["profiles_tried"] == "anthropic:default,anthropic:work"
    assert first["request_id"] == "req_011CXYZ" and pd.isna(second["request_id"])
    assert math.isnan(second["cost_usd"]) and math.isnan(second["ttft_s"])
    assert pd.isna(second["agent"]) and not second["hit"] and second["hit_ratio"] == 0.0
    assert list(frame.index) == [r.id for r in ledger.rows()]


def test_dataframe_of_an_empty_ledger_has_the_same_columns_and_dtypes(ledger: Ledger) -> None:
    ledger.append(full_row())
    full = ledger.dataframe()
    empty = ledger.dataframe(session="nobody")
    assert len(empty) == 0
    assert list(empty.dtypes.astype(str)) == list(full.dtypes.astype(str))


def test_dataframe_matches_rows_for_many_calls_in_mixed_order(ledger: Ledger) -> None:
    rows = [
        full_row(
            time_ms=T0 + (i * 7_919) % 1_000,  # out of time order, with ties
            model=("claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-6")[i % 3],
            cell=str(i % 4),
            cost_usd=float("nan") if i % 5 == 0 else i / 1000,
            request_id=None if i % 6 == 0 else f"req_{i}",
            error=None if i % 2 else f"error {i}",
            input_tokens=i,
        )
        for i in range(60)
    ]
    ledger.append_many(rows)
    frame = ledger.dataframe()
    back = ledger.rows()
    assert [r.time_ms for r in back] == sorted(r.time_ms for r in back)
    assert list(frame.index) == [r.id for r in back]
    assert list(frame["input_tokens"]) == [r.input_tokens for r in back]
    assert list(frame["model"].astype(str)) == [r.model for r in back]
    assert list(frame["cell"].astype(str)) == [r.cell for r in back]
    assert [None if pd.isna(v) else v for v in frame["error"]] == [r.error for r in back]
    assert [None if pd.isna(v) else v for v in frame["request_id"]] == [r.request_id for r in back]
    assert frame["cost_usd"].isna().sum() == 12
    assert frame["cost_usd"].fillna(-1).tolist() == [
        -1 if math.isnan(r.cost_usd) else r.cost_usd for r in back
    ]
    assert ledger.dataframe(limit=5).index.tolist() == [r.id for r in back[-5:]]


def test_dataframe_survives_a_request_id_holding_the_separator(ledger: Ledger) -> None:
    ledger.append(plain_row(T0, request_id="odd\x1fid"))
    ledger.append(plain_row(T0 + 1, request_id="req_2"))
    assert list(ledger.dataframe()["request_id"]) == ["odd\x1fid", "req_2"]


# ---- exports


def test_json_export_is_a_list_of_objects_with_null_for_unknown(ledger: Ledger) -> None:
    ledger.append(full_row())
    ledger.append(plain_row(T0 + 1))
    exported = json.loads(rows_to_json(ledger.rows()))
    assert [e["time"] for e in exported] == ["2026-09-21T14:13:20.000+00:00", "2026-09-21T14:13:20.001+00:00"]
    assert exported[0]["profiles_tried"] == ["anthropic:default", "anthropic:work"]
    assert exported[0]["hit"] is True and exported[0]["cost_usd"] == 0.012345678901234567
    assert exported[1]["cost_usd"] is None and exported[1]["hit_ratio"] == 0.0
    assert "NaN" not in rows_to_json(ledger.rows())


def test_csv_export_has_a_header_and_one_line_per_call(ledger: Ledger) -> None:
    ledger.append(full_row(error='quote " and, comma'))
    ledger.append(plain_row(T0 + 1))
    records = list(csv.DictReader(io.StringIO(rows_to_csv(ledger.rows()))))
    assert len(records) == 2
    assert records[0]["model"] == "claude-sonnet-4-6" and records[0]["error"] == 'quote " and, comma'
    assert records[0]["profiles_tried"] == "anthropic:default,anthropic:work"
    assert records[1]["cost_usd"] == "" and records[1]["hit"] == "False"
    assert rows_to_csv([]).startswith("id,time,time_ms,model,")


# ---- the file


def test_file_is_private_and_parent_dirs_are_created_0700(tmp_path: Path) -> None:
    path = ledger_path(tmp_path / "state")
    assert path == tmp_path / "state" / "clawdbot-nb" / "usage.sqlite"
    with Ledger(path) as ledger:
        ledger.append(full_row())
        for created in (tmp_path / "state", path.parent):
            assert stat.S_IMODE(created.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        wal = Path(str(path) + "-wal")
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600


def test_schema_is_versioned_and_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    with Ledger(path) as ledger:
        ledger.append(full_row())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Ledger(path) as reopened:
        assert len(reopened) == 1  # reopening migrates nothing and loses nothing
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(ClawdbotError, match="upgrade clawdbot_nb") as raised:
        Ledger(path)
    assert raised.value.path == str(path)


def test_a_file_that_is_not_a_database_gives_a_fix(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ClawdbotError, match="move the file aside"):
        Ledger(path)


def test_module_import_stays_light() -> None:
    heavy = "{'pandas', 'numpy', 'anthropic'}"
    code = f"import sys, clawdbot_nb.api.ledger; print(sorted({heavy} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


_WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    from clawdbot_nb.api.ledger import Ledger, build_row

    path, name, go = sys.argv[1:4]
    while not pathlib.Path(go).exists():
        time.sleep(0.001)
    ledger = Ledger(path)  # both open a file that does not exist yet, at once
    for i in range(500):
        usage = {"input_tokens": i, "output_tokens": 1, "cache_read_input_tokens": 100}
        row = build_row(model="claude-sonnet-4-6", usage=usage, session=name, request_id=f"{name}-{i}")
        ledger.append(row)
    ledger.close()
    """
)


@pytest.mark.slow
def test_two_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "usage.sqlite"
    go = tmp_path / "go"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, str(go)], stderr=subprocess.PIPE, text=True
        )
        for name in ("kernel-a", "kernel-b")
    ]
    go.touch()
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    with Ledger(path) as ledger:
        rows = ledger.rows()
        assert len(rows) == 1_000
        assert len({r.id for r in rows}) == 1_000
        for name in ("kernel-a", "kernel-b"):
            mine = ledger.rows(session=name)
            assert sorted(r.input_tokens for r in mine) == list(range(500))
            assert {r.request_id for r in mine} == {f"{name}-{i}" for i in range(500)}
        assert ledger.totals().cache_read_tokens == 100_000


def test_row_error_is_one_line_and_bounded() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        row = full_row(error="line one\nline two\t" + "x" * 2_000)
    assert "\n" not in row.error and row.error.startswith("line one line two x")
    assert len(row.error) <= 500
    # A secret at the cut is masked before the cut, and masking twice changes nothing.
    near_cut = full_row(error="x" * 485 + " " + SECRET)
    assert "q" * 8 not in near_cut.error and near_cut.error.endswith("sk-ant-api03-…")
    assert redact(near_cut.error) == near_cut.error
    assert redact(redact(f"key {SECRET}")) == "key sk-ant-api03-…WXYZ"
