"""The notebooks, executed headless in a real `python3` kernel the way `python3 dev.py demo` runs them:
what a user sees in them, and that no secret reaches the saved .ipynb (outputs, widget state,
metadata, error text) or IPython's history.

Each test runs one notebook in its own kernel, so the two xdist workers share the work evenly.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

import dev
from clawdbot_nb import sim
from tests.notebook.pages import html_table_rows

pytestmark = pytest.mark.slow

NOTEBOOKS = dev.ROOT / "notebooks"
#: The usage footer under a reply.
FOOTER = re.compile(
    r"(?P<verdict>hit\+write|hit|write|miss|off) · in [\d,]+ · out [\d,]+ · cache read (?P<read>[\d,]+)"
    r" · write 5m (?P<write_5m>[\d,]+) / 1h (?P<write_1h>[\d,]+) · hit \S+ · cost \$(?P<cost>[\d.]+)"
)
#: The line cache_analysis prints per call.
CALL_LINE = re.compile(
    r"(?P<verdict>hit\+write|hit|write|miss|off) +cache read +(?P<read>[\d,]+) · write 5m +(?P<write_5m>[\d,]+)"
    r" · write 1h +(?P<write_1h>[\d,]+) · cost \$(?P<cost>[\d.]+)"
)
#: The last cell of every hygiene run: what IPython's history holds in memory, for the test to read.
HISTORY_DUMP_CELL = """
import json, os
history = get_ipython().history_manager
history.writeout_cache()
with open(os.environ["HISTORY_DUMP"], "w", encoding="utf-8") as dump:
    json.dump({"raw": history.input_hist_raw, "parsed": history.input_hist_parsed,
               "outputs": history.output_hist_reprs}, dump, default=str)
"""


# -- running and reading notebooks -----------------------------------------------------------------


def kernel_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The demo's environment (HOME, state, config, IPython and Jupyter dirs in tmp_path; no
    Anthropic, Clawdbot or Claude variable from the machine) plus `extra`."""
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    return {**dev.demo_environment(home), **extra}


def code_cell(source: str, cell_id: str) -> Any:
    cell = nbformat.v4.new_code_cell(source.strip())
    cell.id = cell_id
    return cell


def cell(notebook: Any, cell_id: str) -> Any:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def shown(cell: Any) -> str:
    """Everything a cell shows as text: printed lines and each output's plain text or Markdown."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        for kind in ("text/markdown", "text/plain"):
            if kind in output.get("data", {}):
                parts.append(output["data"][kind])
    return "\n".join(parts)


def html_of(cell: Any) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.get("outputs", []))


def stderr(notebook: Any) -> str:
    return "".join(
        o["text"]
        for c in notebook.cells
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )


def footers(cell: Any, pattern: re.Pattern[str] = FOOTER) -> list[dict[str, Any]]:
    """Each usage footer the cell shows once (the plain text, not its HTML twin), as numbers."""
    found = []
    for output in cell.get("outputs", []):
        text = output.get("text") or output.get("data", {}).get("text/plain", "")
        text = re.sub(r"<[^>]+>", "", text)  # a widget's HTML, printed, as a person reads it
        for match in pattern.finditer(text):
            row: dict[str, Any] = {
                k: int(v.replace(",", ""))
                for k, v in match.groupdict().items()
                if k not in ("verdict", "cost")
            }
            row["verdict"], row["cost"] = match["verdict"], float(match["cost"])
            found.append(row)
    return found


def table_rows(text: str) -> dict[str, list[str]]:
    """A DataFrame's plain text as {row label: cells}."""
    return {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}


# -- canaries ----------------------------------------------------------------------------------------


def canary(prefix: str) -> str:
    """A secret of real shape (108 characters like a real key) that is recognisable after the prefix."""
    alphabet = string.ascii_letters + string.digits
    return prefix + "CANARY" + "".join(secrets.choice(alphabet) for _ in range(89))


def leaks(text: str, secret: str) -> list[str]:
    """The pieces of `secret` that `text` shows beyond its mask (the well-known prefix and the last 4):
    the whole secret, or any 8 characters after the prefix (a `first8…last8` mask shows 4 more)."""
    tail = secret[len("sk-ant-api03-") :]
    pieces = [secret] if secret in text else []
    return pieces + [tail[i : i + 8] for i in range(len(tail) - 7) if tail[i : i + 8] in text]


@pytest.fixture
def canaries() -> dict[str, str]:
    return {
        "TEST_API_KEY": canary("sk-ant-api03-"),
        # What a user exports before starting Jupyter (unknown to the simulator): every notebook must
        # keep it out of sight too.
        "ANTHROPIC_API_KEY": canary("sk-ant-api03-"),
        "TEST_SETUP_TOKEN": canary("sk-ant-oat01-"),
        "TEST_CLI_ACCESS": canary("sk-ant-oat01-"),
        "TEST_CLI_REFRESH": canary("sk-ant-ort01-"),
        # A key the simulator does not know: calls with it get a 401.
        "TEST_REJECTED_KEY": canary("sk-ant-api03-"),
    }


def run_for_hygiene(notebook: Any, tmp_path: Path, env: dict[str, str]) -> tuple[Any, str, str]:
    """Execute with the front-end's widget state stored, as Jupyter saves it; returns the notebook,
    the saved file's text, and IPython's history (in memory and in its sqlite file) as text."""
    dump, database = tmp_path / "history.json", tmp_path / "history.sqlite"
    env = {**env, "HISTORY_DUMP": str(dump)}
    notebook.cells.append(code_cell(HISTORY_DUMP_CELL, "history-dump"))
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        store_widget_state=True,
        ipython_hist_file=str(database),  # as in Jupyter, not nbclient's default (in memory)
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute(env=env)  # the kernel has shut down when this returns: its history is on disk
    saved = nbformat.writes(notebook)
    history = dump.read_text(encoding="utf-8") + database.read_bytes().decode("utf-8", "replace")
    return notebook, saved, history


def assert_no_leak(saved: str, history: str, secrets_by_name: dict[str, str]) -> None:
    for name, secret in secrets_by_name.items():
        assert not leaks(saved, secret), f"{name} is in the saved notebook"
        assert not leaks(history, secret), f"{name} is in IPython's history"


def with_canary_credential(notebook: Any) -> Any:
    """The committed notebook, onboarding the canary key (registered on the simulator right after it
    starts) instead of the simulator's demo key."""
    register = (
        "from clawdbot_nb.notebook.extension import magics_of\n"
        "_accepted = magics_of(get_ipython()).simulator_session.simulator.add_api_key("
        "__import__('os').environ['TEST_API_KEY'])"
    )
    starts = onboards = 0
    for each in notebook.cells:
        if each.cell_type != "code":
            continue
        source, count = re.subn(r"^(%clawdbot sim start.*)$", rf"\1\n{register}", each.source, flags=re.M)
        starts += count
        onboards += source.count("$CLAWDBOT_SIM_API_KEY")
        each.source = source.replace("$CLAWDBOT_SIM_API_KEY", "$TEST_API_KEY")
    assert (starts, onboards) == (1, 1), "the notebook no longer starts the simulator and onboards once"
    return notebook


# -- the notebooks as a user sees them -------------------------------------------------------------


def test_quickstart_shows_profiles_and_cache_hits_at_5m_and_1h(tmp_path: Path) -> None:
    out = tmp_path / "out"
    notebook, problems = dev.execute_notebook(
        NOTEBOOKS / "quickstart.ipynb", out, env=kernel_env(tmp_path), timeout=120
    )
    assert problems == []
    assert stderr(notebook) == ""

    profiles = html_table_rows(html_of(cell(notebook, "profiles")))
    assert profiles["anthropic:default"][1:4] == [
        "api_key",
        f"sk-ant-api03-…{sim.DEMO_API_KEY[-4:]}",
        "static",
    ]
    assert "anthropic:default" in shown(cell(notebook, "status"))

    [first] = footers(cell(notebook, "ask-5m-first"))
    [again] = footers(cell(notebook, "ask-5m-again"))
    assert first["verdict"] == "write" and first["write_5m"] > 1000 and first["read"] == 0
    assert again["verdict"] == "hit" and again["read"] == first["write_5m"] and again["write_5m"] == 0
    assert again["cost"] < first["cost"] / 10

    [hour] = footers(cell(notebook, "ask-1h-first"))
    [hour_again] = footers(cell(notebook, "ask-1h-again"))
    assert hour["verdict"] == "write" and hour["write_1h"] > 1000 and hour["write_5m"] == 0
    assert hour_again["verdict"] == "hit" and hour_again["read"] == hour["write_1h"]

    usage = cell(notebook, "usage")
    assert any("image/png" in o.get("data", {}) for o in usage.outputs)
    calls = html_table_rows(html_of(usage))
    ttl = calls["#"].index("TTL")
    assert [calls[str(n)][ttl] for n in (1, 2, 3, 4)] == ["5m", "5m", "1h", "1h"]
    assert "4 calls · 2 hits · hit ratio" in html_of(usage)
    # A conversation: each turn reads the handbook and the turns before it, and writes its own.
    turns = [footers(cell(notebook, f"chat-{n}"))[0] for n in (1, 2, 3)]
    assert [t["verdict"] for t in turns] == ["hit+write"] * 3 and turns[0]["read"] == first["write_5m"]
    for n in (1, 2):
        assert turns[n]["read"] == turns[n - 1]["read"] + turns[n - 1]["write_5m"]
    assert 'marked system + turn (conversation) · chat "handbook" turn 3' in shown(cell(notebook, "chat-3"))
    assert 'chat "handbook" (agent main): 3 turns' in shown(cell(notebook, "chat-show"))
    assert "Simulator stopped" in shown(cell(notebook, "sim-stop"))

    # What `python3 dev.py demo` leaves for the user: the executed notebook and its HTML copy.
    page = (out / "quickstart.html").read_text(encoding="utf-8")
    assert "anthropic:default" in html_table_rows(page) and f"sk-ant-api03-…{sim.DEMO_API_KEY[-4:]}" in page
    assert page.count("hit · in") >= 2 and "write 1h" in html_table_rows(page)["#"]
    assert 'src="data:image/png;base64,' in page
    executed = (out / "quickstart.ipynb").read_text(encoding="utf-8")
    assert not leaks(executed + page, sim.DEMO_API_KEY)


def test_cache_analysis_expires_entries_and_says_when_1h_pays_off(tmp_path: Path) -> None:
    notebook, problems = dev.execute_notebook(
        NOTEBOOKS / "cache_analysis.ipynb", tmp_path / "out", env=kernel_env(tmp_path), timeout=120
    )
    assert problems == []
    assert stderr(notebook) == ""

    written, hit, rewritten = footers(cell(notebook, "five"), CALL_LINE)
    assert [written["verdict"], hit["verdict"], rewritten["verdict"]] == ["write", "hit", "write"]
    assert hit["read"] == written["write_5m"] > 0
    assert rewritten["write_5m"] == written["write_5m"] and rewritten["read"] == 0  # expired after 6m

    written, hit, rewritten = footers(cell(notebook, "hour"), CALL_LINE)
    assert [written["verdict"], hit["verdict"], rewritten["verdict"]] == ["write", "hit", "write"]
    assert written["write_1h"] > 0 and written["write_5m"] == 0
    assert hit["read"] == written["write_1h"]  # 6 minutes later: still cached at 1h
    assert rewritten["write_1h"] == written["write_1h"]  # 61 minutes later: gone

    totals = shown(cell(notebook, "totals"))
    assert re.search(r"calls\s+6\b", totals) and re.search(r"cache hits\s+2\b", totals)
    assert any("image/png" in o.get("data", {}) for o in cell(notebook, "plot").outputs)

    break_even = table_rows(shown(cell(notebook, "break-even")))
    for model in ("claude-opus-4-8", "claude-haiku-4-5"):  # reads at 0.1x
        assert break_even[model] == ["0.100", "2", "3"]

    conclusion = shown(cell(notebook, "conclusion"))
    assert "a 5m cache pays off from call 2 and a 1h cache from call 3" in conclusion
    assert "1h is the cheapest for every 10 min (0 hits at 5m, 10 at 1h); every 30 min" in conclusion
    assert "5m is the cheapest for every 2 min (10 hits at 5m, 10 at 1h)" in conclusion
    assert "No cache is the cheapest for every 2 h (0 hits at 5m, 0 at 1h)" in conclusion

    # Why a call missed, what is cached now, the timeline and the what-if (the cache watch).
    why = shown(cell(notebook, "why-miss"))
    assert "last miss in the ledger: expired: gap 61 min > 1 h" in why
    assert "write · prefix changed: system block 0, char 35 ('10:41:07.' → '10:47:07.')" in why
    assert "now '10:47:07.', was '10:41:07.'" in why
    cached = cell(notebook, "cache-table")
    assert "clawdbot-nb-countdown" in html_of(cached) and "<script>" in html_of(cached)
    assert shown(cached).startswith("Cached now") and "live entries" in shown(cached)
    timeline = cell(notebook, "timeline")
    assert any("image/png" in o.get("data", {}) for o in timeline.outputs)
    assert "expire" in shown(timeline) and "hit" in shown(timeline)
    assert "auto: the prefix is cached (1h, until" in shown(cell(notebook, "auto"))
    what_if = table_rows(shown(cell(notebook, "what-if")))
    assert {"paid", "always-5m", "always-1h", "auto"} <= set(what_if)
    assert what_if["paid"][:2] == what_if["replayed"][2:4]  # replayed as sent: what was paid


def test_batch_analysis_warms_once_and_batches_at_half_price(tmp_path: Path) -> None:
    notebook, problems = dev.execute_notebook(
        NOTEBOOKS / "batch_analysis.ipynb", tmp_path / "out", env=kernel_env(tmp_path), timeout=300
    )
    assert problems == []
    assert stderr(notebook) == ""
    prefix = re.search(r"500 tickets; shared instructions ≈ ([\d,]+) tokens", shown(cell(notebook, "setup")))
    assert prefix and 9_500 <= int(prefix[1].replace(",", "")) <= 10_500
    assert "tickets-naive: 500/500 rows answered" in shown(cell(notebook, "naive"))
    warmed = shown(cell(notebook, "warmed"))
    assert "tickets-map: 500/500 rows answered" in warmed
    assert re.search(r"hit\s+499", warmed) and re.search(r"write\s+1\b", warmed)
    batch = shown(cell(notebook, "batch"))
    assert "tickets-batch: 500/500 rows answered" in batch and "1 batch" in batch
    costs = re.search(
        r"naive parallel costs ([\d.]+)x the warmed map; the batch ([\d.]+)x", shown(cell(notebook, "costs"))
    )
    assert costs and float(costs[1]) > 1.2 and float(costs[2]) < 0.7
    assert any("image/png" in o.get("data", {}) for o in cell(notebook, "plot").outputs)


def test_the_demo_environment_keeps_the_users_home_and_credentials_out(tmp_path: Path) -> None:
    real = {
        "HOME": "/home/someone",
        "PATH": "/usr/bin",
        "ANTHROPIC_API_KEY": "sk-ant-api03-real",
        "ANTHROPIC_BASE_URL": "https://api.anthropic.com",
        "CLAWDBOT_STATE_DIR": "/home/someone/.clawdbot",
        "CLAUDE_CONFIG_DIR": "/home/someone/.claude",
        "IPYTHONDIR": "/home/someone/.ipython",
        "JUPYTER_PATH": "/home/someone/jupyter",
    }
    env = dev.demo_environment(tmp_path, base=real)
    assert env["PATH"] == "/usr/bin"
    assert not {"ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "JUPYTER_PATH"} & set(env)
    for name in ("HOME", "CLAWDBOT_STATE_DIR", "CLAUDE_CONFIG_DIR", "IPYTHONDIR", "MPLCONFIGDIR", "TMPDIR"):
        assert Path(env[name]).is_relative_to(tmp_path), name


# -- secret hygiene ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["quickstart", "cache_analysis"])
def test_a_notebook_using_a_real_shaped_key_saves_no_secret(
    name: str, tmp_path: Path, canaries: dict[str, str]
) -> None:
    notebook = with_canary_credential(nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4))
    env = kernel_env(
        tmp_path, TEST_API_KEY=canaries["TEST_API_KEY"], ANTHROPIC_API_KEY=canaries["ANTHROPIC_API_KEY"]
    )
    notebook, saved, history = run_for_hygiene(notebook, tmp_path, env)

    assert "clawdbot:" not in stderr(notebook)
    # The canary really was the credential: stored, shown masked, and used for the calls.
    assert f"Saved anthropic:default (api_key sk-ant-api03-…{canaries['TEST_API_KEY'][-4:]})" in saved
    assert any(m["verdict"] == "hit" for p in (FOOTER, CALL_LINE) for m in p.finditer(saved))
    assert "%clawdbot sim start" in history  # the history was recorded
    assert_no_leak(saved, history, {k: canaries[k] for k in ("TEST_API_KEY", "ANTHROPIC_API_KEY")})
    assert_no_leak(saved, history, {"the simulator's demo key": sim.DEMO_API_KEY})


WIDGET_CELLS = [
    ("load", "%load_ext clawdbot_nb"),
    # Keep the state dir: the Claude Code login the test wrote is in this kernel's CLAUDE_CONFIG_DIR.
    ("sim", "%clawdbot sim start --keep-state-dir"),
    (
        "register",
        """
import os
from clawdbot_nb.notebook.extension import magics_of

simulator = magics_of(get_ipython()).simulator_session.simulator
_accepted = simulator.add_api_key(os.environ["TEST_API_KEY"])
_accepted = simulator.add_setup_token(os.environ["TEST_SETUP_TOKEN"])
_login = simulator.add_oauth_login(
    access_token=os.environ["TEST_CLI_ACCESS"], refresh_token=os.environ["TEST_CLI_REFRESH"], expires_in=3600
)


def submit(box, value):
    # What the page sends when Save (or Enter) is pressed in a password box, through its comm.
    message = {"method": "custom", "content": {"event": "submit", "value": value}}
    box._handle_msg({"content": {"data": message}, "buffers": []})


def held(box):
    # The box's synced traits that could hold a value (none: typed text never becomes state).
    return [name for name in box.keys if "value" in name]
""",
    ),
    (
        "forms",
        """
from clawdbot_nb.api.workspace import Workspace
from clawdbot_nb.notebook.widgets import PromptForm

onboarding = %clawdbot onboard
profiles = %clawdbot profiles --manage
prompt = PromptForm(Workspace())
display(onboarding, profiles, prompt)
""",
    ),
    # The key from the environment (the ticked box), then typed into the password field.
    ("env-key", 'submit(onboarding.api_key, "")\nprint(onboarding.message.value)'),
    (
        "typed-key",
        """
onboarding.use_env.value = False
submit(onboarding.api_key, os.environ["TEST_API_KEY"])
print(onboarding.message.value, "| field:", held(onboarding.api_key))
""",
    ),
    (
        "bad-onboarding",
        """
submit(onboarding.api_key, os.environ["TEST_SETUP_TOKEN"])  # a token where the key goes
print("token as key:", onboarding.message.value, "| field:", held(onboarding.api_key))
submit(onboarding.api_key, "")
print("empty:", onboarding.message.value)
onboarding.choice.value = "token"
submit(onboarding.token, os.environ["TEST_API_KEY"])  # a key where the token goes
print("key as token:", onboarding.message.value, "| field:", held(onboarding.token))
onboarding.token_expiry.value = "soon"
submit(onboarding.token, os.environ["TEST_SETUP_TOKEN"])
print("bad expiry:", onboarding.message.value, "| field:", held(onboarding.token))
""",
    ),
    (
        "token",
        """
onboarding.token_name.value = "canary"
onboarding.token_expiry.value = "365d"
submit(onboarding.token, os.environ["TEST_SETUP_TOKEN"])
print(onboarding.message.value, "| field:", held(onboarding.token))
""",
    ),
    (
        "bad-magics",
        """
%clawdbot onboard --non-interactive --auth-choice apiKey --anthropic-api-key $TEST_SETUP_TOKEN
%clawdbot onboard --non-interactive --auth-choice apiKey --anthropic-api-key $TEST_REJECTED_KEY --agent rejected
""",
    ),
    (
        "rejected",
        """
rejected = PromptForm(Workspace("rejected"))
display(rejected)
rejected.prompt.value = "Hello?"
rejected.send_button.click()
print("rejected:", rejected.message.value, rejected.footer.value)
""",
    ),
    (
        "rejected-magic",
        """
%%clawdbot --agent rejected
Hello?
""",
    ),
    (
        "manage",
        """
profiles.refresh_button.click()
profiles.selector.value = "anthropic:canary"
profiles.up_button.click()
profiles.set_order_button.click()
print(profiles.message.value)
profiles.clear_cooldown_button.click()
print(profiles.message.value)
profiles.clear_order_button.click()
print(profiles.message.value)
profiles.remove_button.click()
profiles.cancel_remove_button.click()
profiles.selector.value = "anthropic:default"
profiles.remove_button.click()
profiles.confirm_remove_button.click()
print(profiles.message.value)
""",
    ),
    (
        "prompts",
        """
prompt.system.value = "You answer questions about prompt caching, briefly and precisely. " * 80
prompt.prompt.value = "What does a cache read cost?"
prompt.ttl.value = "1h"
prompt.send_button.click()
prompt.send_button.click()
print(prompt.footer.value)
prompt.prompt.value = "   "
prompt.send_button.click()
print("empty prompt:", prompt.message.value)
""",
    ),
    (
        "claude-cli",
        # Last: the opt-in is kept in the shared config, so from here on every agent uses this login.
        """
onboarding.choice.value = "claude-cli"
print(onboarding.cli_status.value)
onboarding.reuse_cli_button.click()
print(onboarding.message.value)
prompt.prompt.value = "And with the Claude Code login?"
prompt.send_button.click()
print(prompt.footer.value)
""",
    ),
    ("stop", "%clawdbot sim stop"),
]


def test_every_widget_flow_saves_no_secret(tmp_path: Path, canaries: dict[str, str]) -> None:
    env = kernel_env(tmp_path, **canaries)
    # A Claude Code login for the form to find (the file Claude Code writes).
    claude = Path(env["CLAUDE_CONFIG_DIR"])
    claude.mkdir(parents=True)
    login = {
        "accessToken": canaries["TEST_CLI_ACCESS"],
        "refreshToken": canaries["TEST_CLI_REFRESH"],
        "expiresAt": int(time.time() * 1000) + 3_600_000,
        "scopes": ["user:inference"],
        "subscriptionType": "max",
    }
    (claude / ".credentials.json").write_text(json.dumps({"claudeAiOauth": login}))
    notebook = nbformat.v4.new_notebook(
        cells=[code_cell(source, cell_id) for cell_id, source in WIDGET_CELLS]
    )
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}

    notebook, saved, history = run_for_hygiene(notebook, tmp_path, env)

    # Every flow ran and said what a user would see (only masks of the secrets).
    widget_state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert any(w["model_name"] == "AnyModel" for w in widget_state.values())  # the password boxes
    assert "application/vnd.jupyter.widget-view+json" in saved
    mask = {name: f"…{secret[-4:]}" for name, secret in canaries.items()}
    assert mask["ANTHROPIC_API_KEY"] in shown(cell(notebook, "env-key"))
    typed = shown(cell(notebook, "typed-key"))
    assert "Saved anthropic:default" in typed and mask["TEST_API_KEY"] in typed and "field: []" in typed
    bad = shown(cell(notebook, "bad-onboarding"))
    assert bad.count("field: []") == 3 and "Saved" not in bad
    assert "Saved anthropic:canary" in shown(cell(notebook, "token"))
    cli = shown(cell(notebook, "claude-cli"))
    assert mask["TEST_CLI_ACCESS"] in cli and "Saved anthropic:claude-cli" in cli
    assert "clawdbot:" in shown(cell(notebook, "bad-magics"))
    assert "Removed anthropic:default" in shown(cell(notebook, "manage"))
    [reply] = footers(cell(notebook, "prompts"))
    assert reply["verdict"] == "hit" and reply["read"] > 0
    assert "empty prompt: " in shown(cell(notebook, "prompts"))
    assert "anthropic:default failed: 401" in shown(cell(notebook, "rejected"))
    assert "clawdbot:" in shown(cell(notebook, "rejected-magic"))
    assert "submit(onboarding.api_key" in history

    assert_no_leak(saved, history, canaries)
    # Only the auth stores hold secrets; not the shared config, its backups or the usage ledger.
    state = Path(env["CLAWDBOT_STATE_DIR"])
    written = [p for p in state.rglob("*") if p.is_file() and not p.name.startswith("auth-profiles.json")]
    assert any(p.name.startswith("usage.sqlite") for p in written)
    for path in written:
        content = path.read_bytes().decode("utf-8", "replace")
        assert not any(leaks(content, secret) for secret in canaries.values()), path
