"""`clawdbot-nb map` and `clawdbot-nb batch` over CSV and JSONL files, against a loopback simulator;
the `%clawdbot` magic gets the same commands."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from clawdbot_nb import cli, sim
from tests.scale.conftest import INSTRUCTIONS, add_profiles


@pytest.fixture
def server(agent, monkeypatch):
    with sim.serve() as running:
        add_profiles(agent, running.simulator, 2)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", running.base_url)
        yield running


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tickets(tmp_path):
    path = tmp_path / "tickets.csv"
    pd.DataFrame({"id": ["a1", "a2", "a3"], "text": ["refund?", "crash on start", "export how?"]}).to_csv(
        path, index=False
    )
    instructions = tmp_path / "instructions.txt"
    instructions.write_text(INSTRUCTIONS)
    return path, instructions


def test_map_over_a_csv_writes_each_row_with_its_reply(capsys, server, tickets, tmp_path) -> None:
    path, instructions = tickets
    out_path = tmp_path / "sorted.csv"
    code, _, err = run(
        capsys, "map", str(path), "--prompt", "Sort: {text}", "--system-file", str(instructions),
        "--output", str(out_path), "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert "3/3 rows answered" in err
    written = pd.read_csv(out_path)
    assert list(written["id"]) == ["a1", "a2", "a3"]
    assert written.loc[1, "reply"].startswith('Simulated reply to: "Sort: crash on start"')
    assert list(written["status"]) == ["succeeded"] * 3 and list(written["verdict"]) == [
        "write",
        "hit",
        "hit",
    ]
    assert written["cost_usd"].gt(0).all()
    # Again: nothing is sent; the answers come from the ledger.
    before = len(server.simulator.requests.messages())
    code, out, err = run(
        capsys, "map", str(path), "--prompt", "Sort: {text}", "--system-file", str(instructions)
    )
    assert (
        code == 0 and "(3 from an earlier run)" in err and len(server.simulator.requests.messages()) == before
    )
    assert out.startswith("id,text,reply,status,verdict")


def test_map_over_jsonl_uses_the_prompt_column(capsys, server, tmp_path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps({"prompt": f"Question {n}?"}) for n in range(4)) + "\n")
    out_path = tmp_path / "answers.jsonl"
    code, _, err = run(capsys, "map", str(path), "--system", INSTRUCTIONS, "-o", str(out_path), "--quiet")
    assert code == 0, err
    lines = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert [line["prompt"] for line in lines] == [f"Question {n}?" for n in range(4)]
    assert lines[2]["reply"].startswith('Simulated reply to: "Question 2?"')


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["map", "rows.txt"], "neither .csv nor .jsonl"),
        (["map", "missing.csv"], "does not exist"),
        (["map", "tickets.csv", "--prompt", "{body}"], "uses {body}, which the rows do not have"),
        (["map", "tickets.csv"], "Which column is the prompt? The file has id, text."),
        (["map", "tickets.csv", "--prompt", "{text}", "--max-wait", "soon"], "Invalid max_wait 'soon'"),
        (["batch"], "Nothing to send"),
    ],
)
def test_bad_input_is_one_line_with_the_fix(capsys, server, tickets, monkeypatch, argv, says) -> None:
    monkeypatch.chdir(tickets[0].parent)
    (tickets[0].parent / "rows.txt").write_text("x\n")
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("clawdbot-nb: error: ") and says in err and "Fix:" in err


def test_batch_submits_then_collects_by_job(capsys, server, tickets, tmp_path) -> None:
    path, instructions = tickets
    code, out, err = run(
        capsys, "batch", str(path), "--prompt", "Sort: {text}", "--system-file", str(instructions), "--quiet"
    )
    assert code == 0, err
    assert "3/3 rows answered" in err and "1 batch" in err
    frame = pd.read_csv(__import__("io").StringIO(out))
    assert frame.loc[0, "verdict"] == "write" and pd.isna(frame.loc[0, "batch_id"])  # the warm-up call
    assert frame.loc[1:, "batch_id"].str.startswith("msgbatch_").all()
    job = err.split(":", 1)[0].strip()
    code, out, err = run(capsys, "batch", "--results", job, "--quiet")
    assert code == 0 and "3/3 rows answered (3 from an earlier run)" in err
    assert "reply" in out.splitlines()[0]


def test_the_magic_has_the_same_commands() -> None:
    parser = cli.build_parser("%clawdbot", registrars=cli.shared_registrars())
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert {"map", "batch", "ask", "usage"} <= set(choices)
