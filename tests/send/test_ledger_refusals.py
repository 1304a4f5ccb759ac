"""A ledger file we cannot use never stops a prompt: the reply comes back, one warning names the
file and the fix, and the file is left exactly as it was. Rows of the wrong types never break
`usage()`."""

from __future__ import annotations

import os
import sqlite3
import warnings

import pytest

from clawdbot_nb import sim
from clawdbot_nb.api.bookkeeping import BookkeepingWarning
from clawdbot_nb.api.ledger import Ledger, ledger_path
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.errors import ClawdbotError
from tests.send.conftest import store_api_key


def corrupted(path):
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)


def foreign(path):
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.close()


def newer(path):
    Ledger(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()


def directory(path):
    path.mkdir()


def fifo(path):
    os.mkfifo(path)


def snapshot(path):
    """Everything about the file and its directory that a write would change."""
    siblings = sorted(p.name for p in path.parent.iterdir())
    if path.is_dir() or not path.is_file():
        return siblings, path.stat().st_mode
    return siblings, path.read_bytes(), path.stat().st_mtime_ns


@pytest.mark.parametrize("make", [corrupted, foreign, newer, directory, fifo], ids=lambda f: f.__name__)
def test_an_unusable_ledger_never_stops_a_prompt_and_is_left_alone(make, agent, simulator) -> None:
    store_api_key(agent, sim.DEMO_API_KEY)
    path = ledger_path(agent.state_dir)
    path.parent.mkdir(parents=True, mode=0o700)
    make(path)
    before = snapshot(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with Workspace.simulated(simulator, agent=agent) as workspace:
            assert workspace.ask("first").text
            assert workspace.ask("second").text
            with pytest.raises(ClawdbotError) as info:
                workspace.usage()
    ours = [w for w in caught if issubclass(w.category, BookkeepingWarning)]
    assert len(ours) == 1, [str(w.message) for w in caught]
    message = str(ours[0].message)
    assert str(path) in message and "Fix:" in message and "\n" not in message
    assert str(path) in str(info.value)
    assert snapshot(path) == before


def test_rows_of_the_wrong_types_read_as_missing(agent, simulator) -> None:
    store_api_key(agent, sim.DEMO_API_KEY)
    with Workspace.simulated(simulator, agent=agent) as workspace:
        workspace.ask("a real call")
    path = ledger_path(agent.state_dir)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO calls (time_ms, input_tokens, output_tokens, cost_usd, latency_s, model_label, "
            "request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (1_790_000_000_000, "lots", b"\x00\x01", "cheap", "fast", 987654, b"\x07"),
        )
    conn.close()
    with Workspace.simulated(simulator, agent=agent) as workspace:
        frame = workspace.ledger.dataframe()
        assert len(frame) == 2
        odd = frame.iloc[0]
        assert odd["input_tokens"] is pd_na() and odd["model"] != odd["model"]  # missing
        assert odd["cost_usd"] != odd["cost_usd"] and odd["request_id"] is pd_na()
        rows = workspace.ledger.rows()
        assert rows[0].input_tokens == 0 and rows[0].model == ""
        totals = workspace.ledger.totals()
        assert totals.calls == 2 and totals.unpriced == 1
        assert len(workspace.ledger.summary("model")) == 2


def pd_na():
    import pandas as pd

    return pd.NA
