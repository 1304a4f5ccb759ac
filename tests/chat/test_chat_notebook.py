"""A conversation in a real `python3` kernel driven by nbclient, with the cell ids a front-end
sends: cells continue it, re-running a cell replaces its turn, and after a kernel restart the
conversation goes on (and a cell of the earlier kernel, run again, still owns its turn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.util import run_sync

import dev

pytestmark = pytest.mark.slow

DOCUMENT = "The contract limits liability to direct damages and excludes lost profits. " * 60


class FrontEndClient(NotebookClient):
    """nbclient sending each cell's id in the execute request's metadata, as JupyterLab and
    Notebook 7 do (`metadata.cellId`; nbclient 0.11 sends no metadata)."""

    async def async_execute_cell(self, cell: Any, cell_index: int, *args: Any, **kwargs: Any) -> Any:
        client = self.kc
        sent_without_id = client.execute

        def execute(code: str, silent: bool = False, store_history: bool = True, user_expressions: Any = None,
                    allow_stdin: Any = None, stop_on_error: bool = True) -> str:  # fmt: skip
            content = {"code": code, "silent": silent, "store_history": store_history,
                       "user_expressions": user_expressions or {}, "allow_stdin": False,
                       "stop_on_error": stop_on_error}  # fmt: skip
            message = client.session.msg("execute_request", content, metadata={"cellId": cell.id})
            client.shell_channel.send(message)
            return message["header"]["msg_id"]

        client.execute = execute
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        finally:
            client.execute = sent_without_id

    execute_cell = run_sync(async_execute_cell)  # nbclient binds its own coroutine otherwise


def code_cell(cell_id: str, source: str) -> Any:
    cell = nbformat.v4.new_code_cell(source.strip())
    cell.id = cell_id
    return cell


def chat_cell(cell_id: str, prompt: str) -> Any:
    return code_cell(cell_id, f"%%clawdbot --chat review --system {{doc}} --stream-mode final\n{prompt}")


def shown(cell: Any) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output["text"])
        elif output.get("output_type") == "error":
            parts.append("\n".join(output["traceback"]))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def kernel(notebook: Any, env: dict[str, str]) -> FrontEndClient:
    return FrontEndClient(
        notebook, kernel_name="python3", timeout=90, extra_arguments=["--IPKernelApp.log_level=ERROR"]
    )


SETUP = [
    code_cell("load", "%load_ext clawdbot_nb"),
    # The state dir is the test's (kept across kernels); the simulator runs in each kernel.
    code_cell("sim", "%clawdbot sim start --keep-state-dir"),
    code_cell("doc", f"doc = {DOCUMENT!r}"),
]


def test_cells_continue_it_a_rerun_replaces_its_turn_and_it_survives_a_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "tmp").mkdir(parents=True)
    env = dev.demo_environment(home)

    first = nbformat.v4.new_notebook()
    onboard = code_cell(
        "onboard",
        "%clawdbot onboard --non-interactive --auth-choice apiKey --anthropic-api-key $CLAWDBOT_SIM_API_KEY",
    )
    first.cells = [*SETUP, onboard, chat_cell("ask-a", "Which clauses limit liability?"),
                   chat_cell("ask-b", "Which are unusual?"), chat_cell("ask-c", "Summarise."),
                   code_cell("show", "%clawdbot chat show review")]  # fmt: skip
    client = kernel(first, env)
    with client.setup_kernel(env=env):
        for index in range(len(first.cells) - 1):
            client.execute_cell(first.cells[index], index)
        assert 'chat "review" turn 3' in shown(first.cells[6])
        assert "— hit+write" in shown(first.cells[6])  # the history is read back
        # The user edits the second question and runs its cell again.
        first.cells[5].source = first.cells[5].source.replace(
            "Which are unusual?", "Which are unusual, and why?"
        )
        client.execute_cell(first.cells[5], 5)
        footer = shown(first.cells[5])
        assert 'chat "review" turn 2 re-run, turn 3 dropped' in footer and "— hit+write" in footer
        client.execute_cell(first.cells[7], 7)
    listing = shown(first.cells[7])
    assert 'chat "review" (agent main): 2 turns' in listing
    assert "Which are unusual, and why?" in listing and "Summarise." not in listing

    second = nbformat.v4.new_notebook()  # a restarted kernel: nothing in memory, the same files
    second.cells = [*SETUP, chat_cell("ask-d", "And in one line?"),
                    code_cell("sent", "from clawdbot_nb.notebook.extension import magics_of\n"
                                      "print(len(magics_of(get_ipython()).last_reply.plan.params['messages']))"),
                    chat_cell("ask-a", "Which clauses limit liability, in short?")]  # fmt: skip
    client = kernel(second, env)
    with client.setup_kernel(env=env):
        for index, cell in enumerate(second.cells):
            client.execute_cell(cell, index)
    assert 'chat "review" turn 3' in shown(second.cells[3])
    assert shown(second.cells[4]).strip() == "5"  # two earlier turns (4 messages) and the new prompt
    # A cell of the first kernel's notebook, run again after the restart, still owns turn 1.
    assert 'chat "review" turn 1 re-run, turns 2–3 dropped' in shown(second.cells[5])
    assert "clawdbot:" not in "".join(shown(c) for c in [*first.cells, *second.cells])
