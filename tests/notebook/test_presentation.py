"""What people read: dollar amounts and savings in words, text that JupyterLab shows as typed,
and the profiles and usage tables (compact HTML for notebooks, 80 columns for terminals)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from clawdbot_nb import sim, tables
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.rendering import html_text, markdown_text, money, savings
from clawdbot_nb.state.agent import AgentState, now_ms
from clawdbot_nb.state.cooldown import UsageStats
from clawdbot_nb.state.credentials import TokenCredential
from clawdbot_nb.state.onboarding import save_api_key
from clawdbot_nb.state.status import models_status
from tests.notebook.pages import html_table_rows

LONG_SYSTEM = "You answer questions about prompt caching, briefly and precisely. " * 80


# -- amounts and words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0.0575, "$0.0575"), (12.4, "$12.40"), (1234.5, "$1,234.50"), (-0.00001, "$0.0000"), (math.nan, "n/a")],
)
def test_money_never_shows_a_minus_zero(value: float, shown: str) -> None:
    assert money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.0286, "saved $0.0286"),
        (-0.0189, "extra $0.0189"),
        (-0.00001, "saved $0.0000"),
        (math.nan, "saved n/a"),
    ],
)
def test_savings_read_as_words_without_a_minus_sign(value: float, shown: str) -> None:
    assert savings(value) == shown


def test_markdown_keeps_dollars_and_tags_as_typed_outside_code() -> None:
    text = "Pick $5 or $10 <b>now</b> & save. `x = $1 <i>` stays\n```py\nprice = '$2' <b>\n```\nend $3"
    escaped = markdown_text(text)
    # JupyterLab turns \\$ into a plain $ (a lone \$ is typeset again); code is shown as written.
    assert escaped.startswith("Pick \\\\$5 or \\\\$10 &lt;b>now&lt;/b> &amp; save. `x = $1 <i>` stays")
    assert "```py\nprice = '$2' <b>\n```" in escaped and escaped.endswith("end \\\\$3")


def test_html_puts_each_dollar_in_its_own_element() -> None:
    assert html_text("cost $0.05 · saved $0.02 <script>") == (
        "cost <span>$</span>0.05 · saved <span>$</span>0.02 &lt;script&gt;"
    )


# -- a reply's footer ------------------------------------------------------------------------------


@pytest.fixture
def agent(state_dir) -> AgentState:
    return AgentState.resolve()


@pytest.fixture
def workspace(agent: AgentState):
    save_api_key(agent, sim.DEMO_API_KEY)
    workspace = Workspace.simulated(sim.Simulator(), agent=agent)
    yield workspace
    workspace.close()


def test_a_cache_write_costs_extra_in_words_and_a_hit_saves(workspace: Workspace) -> None:
    write = workspace.ask("What is a cache read?", system=LONG_SYSTEM)
    hit = workspace.ask("What is a cache read?", system=LONG_SYSTEM)
    assert write.cost.savings_usd < 0 and hit.cost.savings_usd > 0
    assert re.search(r"· extra \$0\.\d{4} ·", write.footer())
    assert re.search(r"· saved \$0\.\d{4} ·", hit.footer())
    for reply in (write, hit):
        assert "$-" not in reply.footer() and "-0.0000" not in reply.footer()
        markdown = reply._repr_markdown_()
        assert "$" not in markdown.replace("\\\\$", "")  # every dollar escaped for Lab's MathJax


def test_a_reply_with_dollars_and_html_renders_as_typed(workspace: Workspace) -> None:
    reply = workspace.ask("Is $5 and $10 <b>bold</b>?")
    assert "Is $5 and $10 <b>bold</b>?" in reply.text  # the simulator echoes the prompt
    assert "Is \\\\$5 and \\\\$10 &lt;b>bold&lt;/b>?" in reply._repr_markdown_()


# -- the profiles table ------------------------------------------------------------------------------


def _store_profiles(agent: AgentState) -> None:
    save_api_key(agent, sim.DEMO_API_KEY)
    token = TokenCredential(
        provider="anthropic", token=sim.DEMO_SETUP_TOKEN, expires_ms=now_ms() + 365 * 86_400_000 - 60_000
    )
    agent.store_file.update(lambda s: s.set_credential("anthropic:work", token))
    cooldown = UsageStats(cooldown_until=now_ms() + 4 * 60_000, error_count=2, last_used=now_ms() - 7_300_000)
    agent.store_file.update(lambda s: s.set_stats("anthropic:work", cooldown))


def test_the_profiles_table_reads_as_words(agent: AgentState) -> None:
    _store_profiles(agent)
    frame = models_status(agent).profiles_frame()
    table = tables.profiles_table(frame, agent="main")
    assert table.frame is frame  # code keeps the typed DataFrame
    page = table.html()
    rows = html_table_rows(page)
    heading = rows["profile"]
    work = dict(zip(heading, rows["anthropic:work"]))
    assert work["status"] == "cooldown" and work["expires"] == "in 364 d" and work["resting"] == "in 3 min"
    assert work["last used"] == "2 h ago" and work["errors"] == "2"
    default = dict(zip(heading, rows["anthropic:default"]))
    assert default["status"] == "static" and default["expires"] == "" and default["last used"] == ""
    assert default["secret"] == f"sk-ant-api03-…{sim.DEMO_API_KEY[-4:]}"
    for noise in ("NaT", "<NA>", "nan", "None", "days"):
        assert noise not in page
    assert "white-space:nowrap" in page and "max-width:1000px" in page
    assert re.search(r'color:#a15c00;font-weight:600">cooldown<', page)  # a coloured word


def test_the_profiles_table_fits_80_columns_in_a_terminal(agent: AgentState) -> None:
    _store_profiles(agent)
    table = tables.profiles_table(models_status(agent).profiles_frame())
    lines = table.text().splitlines()
    assert lines[0].split() == ["profile", "type", "secret", "status", "expires", "order"]
    assert max(len(line) for line in lines) <= 80
    assert any(line.startswith("anthropic:work") and "cooldown" in line for line in lines)
    wide = table.text(wide=True)
    assert "last used" in wide and "email" not in wide.splitlines()[0]  # no email anywhere: left out


def test_an_agent_without_profiles_is_told_in_words(agent: AgentState) -> None:
    table = tables.profiles_table(
        models_status(agent).profiles_frame(), empty_fix="add one with %clawdbot onboard"
    )
    assert table.text() == "No auth profiles for agent main yet: add one with %clawdbot onboard."
    assert "No auth profiles" in table.html() and "Empty DataFrame" not in repr(table)


# -- the usage tables ---------------------------------------------------------------------------------


def test_usage_reads_as_words_and_fits_80_columns(workspace: Workspace) -> None:
    for _ in range(2):
        workspace.ask("What is a cache read?", system=LONG_SYSTEM)
    workspace.ask("And with one hour?", system=LONG_SYSTEM + " Also 1h.", ttl="1h")
    table = tables.usage_table(workspace.usage())
    text = table.text()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert text.splitlines()[0].split() == [
        "#",
        "TTL",
        "cache",
        "read",
        "write",
        "5m",
        "write",
        "1h",
        "hit",
        "cost",
        "saved",
    ]
    # The repeated call reads the system prompt; its one-shot question is not cached (planner.py).
    assert "extra $0.0" in text and "99%" in text and "$-" not in text
    assert text.splitlines()[-1].startswith("3 calls · 1 hit · hit ratio ")
    rows = html_table_rows(table.html())
    shown = [dict(zip(rows["#"], rows[str(n)])) for n in (1, 2, 3)]
    assert [row["TTL"] for row in shown] == ["5m", "5m", "1h"]
    assert shown[1]["hit"] == "99%" and shown[0]["saved"].startswith("extra $")
    assert re.fullmatch(r"\$0\.\d{4}", shown[1]["cost"]) and re.fullmatch(r"\d+\.\d\d s", shown[1]["latency"])
    assert "error" not in rows["#"]  # no call failed: no error column
    assert "0.99" not in table.html() and "nan" not in table.html()
    wide = table.text(wide=True)
    assert "request id" in wide.splitlines()[0]


def test_a_usage_summary_fits_80_columns(workspace: Workspace) -> None:
    for _ in range(2):
        workspace.ask("What is a cache read?", system=LONG_SYSTEM)
    table = tables.summary_table(workspace.usage_summary("ttl_applied"))
    lines = table.text().splitlines()
    assert lines[0].split()[:3] == ["ttl_applied", "calls", "hits"] and max(map(len, lines)) <= 80
    assert lines[1].split()[:3] == ["5m", "2", "1"]


def test_no_calls_is_said_in_words(workspace: Workspace) -> None:
    for table in (tables.usage_table(workspace.usage()), tables.summary_table(workspace.usage_summary())):
        assert table.text() == "No calls recorded yet for agent main."
        assert "Empty DataFrame" not in table.html() and "nan%" not in table.html()


def test_relative_times_and_durations() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert tables.relative_time(pd.Timestamp(now + timedelta(days=364, hours=23)), now) == "in 364 d"
    assert tables.relative_time(now - timedelta(hours=2, minutes=5), now) == "2 h ago"
    assert tables.relative_time(now + timedelta(seconds=30), now) == "in 30 s"
    assert tables.relative_time(pd.NaT, now) == "" and tables.relative_time(None, now) == ""
