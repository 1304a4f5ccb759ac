"""`%%clawdbot --chat` and `chat list|show|reset` (CLI and `%clawdbot`), in an IPython shell
that runs cells the way ipykernel does (with the front-end's cell id, or without one)."""

from __future__ import annotations

import json

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from clawdbot_nb import cli
from clawdbot_nb.notebook.extension import magics_of
from tests.chat.conftest import DOCUMENT


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


@pytest.fixture
def ip(shell: InteractiveShell, agent, simulator, monkeypatch):
    """The extension loaded, its workspaces on the test's simulator (loopback), demo key stored."""
    from clawdbot_nb import sim

    monkeypatch.setattr("clawdbot_nb.notebook.display.in_kernel", lambda: True)
    server = sim.start_server(simulator)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    shell.run_line_magic("load_ext", "clawdbot_nb")
    shell.user_ns["doc"] = DOCUMENT
    yield shell
    shell.run_line_magic("unload_ext", "clawdbot_nb")
    shell.user_ns.pop("doc", None)
    server.stop()


def run(ip: InteractiveShell, source: str, cell_id: str | None = None):
    """Run a cell as ipykernel does: `cell_id` is what the front-end sent (None: it sent none)."""
    with capture_output() as captured:
        result = ip.run_cell(source, store_history=True, cell_id=cell_id)
    assert result.error_in_exec is None and result.error_before_exec is None, captured.stderr
    return captured


def chat_cell(name: str, prompt: str) -> str:
    return f"%%clawdbot --chat {name} --system {{doc}} --stream-mode final\n{prompt}"


def turns(ip: InteractiveShell, name: str) -> list[str]:
    return [t.prompt for t in magics_of(ip).workspace().chat(name).turns]


def test_cells_continue_a_conversation_and_a_rerun_replaces_its_turn(ip) -> None:
    run(ip, chat_cell("review", "Which clauses limit liability?"), cell_id="cell-a")
    first = magics_of(ip).last_reply
    shown = run(ip, chat_cell("review", "Which are unusual?"), cell_id="cell-b")
    assert 'chat "review" turn 2' in shown.outputs[-1].data["text/plain"]
    run(ip, chat_cell("review", "Summarise."), cell_id="cell-c")
    assert turns(ip, "review") == ["Which clauses limit liability?", "Which are unusual?", "Summarise."]

    shown = run(ip, chat_cell("review", "Which are unusual, and why?"), cell_id="cell-b")
    footer = shown.outputs[-1].data["text/plain"]
    assert 'chat "review" turn 2 re-run, turn 3 dropped' in footer and "— hit+write" in footer
    assert turns(ip, "review") == ["Which clauses limit liability?", "Which are unusual, and why?"]
    reply = magics_of(ip).last_reply
    # The re-run reads the document and turn 1's question back: all that turn 1 cached.
    assert first.usage.cache_read_tokens == 0 and first.usage.cache_write_tokens > 1000
    assert reply.usage.cache_read_tokens == first.usage.cache_write_tokens


def test_without_a_cell_id_every_run_is_a_new_turn(ip) -> None:
    for _ in range(2):
        run(ip, chat_cell("review", "Same question"))
    assert turns(ip, "review") == ["Same question", "Same question"]


def test_several_turns_sent_by_one_cell_run_all_stay(ip) -> None:
    run(ip, "from clawdbot_nb.api.workspace import Workspace\nws = Workspace()", cell_id="cell-setup")
    source = (
        "chat = ws.chat('loop', system=doc)\n"
        "for question in ('First?', 'Second?', 'Third?'):\n"
        "    chat.ask(question)\n"
    )
    try:
        run(ip, source, cell_id="cell-loop")
        assert turns(ip, "loop") == ["First?", "Second?", "Third?"]
        run(ip, source.replace("First?", "First, again?"), cell_id="cell-loop")  # the cell run again
        assert turns(ip, "loop") == ["First, again?", "Second?", "Third?"]
    finally:
        ip.run_cell("ws.close()")
        for name in ("ws", "chat", "question"):
            ip.user_ns.pop(name, None)


def test_the_default_name_and_the_line_commands(ip) -> None:
    run(ip, "%%clawdbot --chat --system {doc} --stream-mode final\nHello there", cell_id="cell-1")
    run(ip, "%%clawdbot --chat --system {doc} --stream-mode final\nAnd again", cell_id="cell-2")
    listing = run(ip, "%clawdbot chat list").stdout
    assert listing.splitlines()[0].split() == ["conversation", "turns", "started", "last", "turn", "cost"]
    assert listing.splitlines()[1].split()[:2] == ["default", "2"]
    shown = run(ip, "%clawdbot chat show").stdout
    assert shown.startswith('chat "default" (agent main): 2 turns, cost $0.0')
    assert "Hello there" in shown and "In[" in shown
    assert all(len(line) <= 80 for line in listing.splitlines() + shown.splitlines())
    assert "2 turns forgotten" in run(ip, "%clawdbot chat reset default").stdout
    assert turns(ip, "default") == []


def test_the_cli_lists_shows_and_resets(ip, capsys) -> None:
    run(ip, chat_cell("review", "Which clauses limit liability?"), cell_id="cell-a")
    assert cli.main(["chat", "list", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["name"] == "review" and record["turns"] == 1 and record["cost_usd"] > 0
    assert cli.main(["chat", "show", "review", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["turns"][0]["prompt"] == "Which clauses limit liability?"
    assert document["turns"][0]["cell"] == "cell-a"
    assert cli.main(["chat", "reset", "nothing-here"]) == 0
    assert 'No conversation "nothing-here"' in capsys.readouterr().out
    assert cli.main(["chat", "show", "bad\nname"]) == 1
    assert "printable" in capsys.readouterr().err


def test_before_any_call_there_is_nothing_to_list(capsys, state_dir) -> None:
    assert cli.main(["chat", "list"]) == 0
    assert capsys.readouterr().out.startswith("No conversations yet for agent main")
