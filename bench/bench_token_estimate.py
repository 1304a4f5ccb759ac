"""How far the client's token estimate (`clawdbot_nb.tokenizer`) is from the simulator's BPE
counts (`clawdbot_nb.sim.bpe`), per kind of text.

Relative error = (estimate - BPE count) / BPE count, over texts of 50 tokens and more: the
sample texts of `bench/token_texts.py` (prose, code, JSON, non-Latin; 200 each, 5 to 400 units
long) and, as texts the estimate was not written against, docstrings and source of the Python
standard library. Prints median (signed), p90 and max of |error|, and the share of texts the
estimate over-counts (the direction that could promise a cache write the server refuses; the
planner allows for it with `tokenizer.ESTIMATE_OVER`). Not a test: nothing here asserts.

    .venv/bin/python bench/bench_token_estimate.py
"""

from __future__ import annotations

import ast
import statistics
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.token_texts import KINDS, sample
from clawdbot_nb import tokenizer
from clawdbot_nb.sim.bpe import count_text

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _stdlib_docstrings(limit: int = 600) -> list[str]:
    found: list[str] = []
    for path in sorted(STDLIB.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 300:
                    found.append(doc)
        if len(found) >= limit:
            break
    return found[:limit]


def _stdlib_code(limit: int = 400) -> list[str]:
    chunks: list[str] = []
    for path in sorted(STDLIB.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        chunks.extend(text[i : i + 3000] for i in range(0, min(len(text), 15_000), 3000))
        if len(chunks) >= limit:
            break
    return chunks[:limit]


def _errors(texts: list[str]) -> list[float]:
    errors = []
    for text in texts:
        truth = count_text(text)
        if truth >= 50:
            errors.append((tokenizer.count_text(text) - truth) / truth)
    return errors


def _row(name: str, errors: list[float]) -> str:
    absolute = sorted(abs(e) for e in errors)
    p90 = absolute[int(0.9 * (len(absolute) - 1))]
    over = sum(1 for e in errors if e > 0) / len(errors)
    return (
        f"{name:<22} {len(errors):>5} {statistics.median(errors):>+8.1%} {p90:>7.1%} "
        f"{absolute[-1]:>7.1%} {over:>7.0%}"
    )


def main() -> None:
    groups: list[tuple[str, list[str]]] = [
        (kind, [sample(kind, seed, 5 + (seed * 7) % 396) for seed in range(200)]) for kind in KINDS
    ]
    groups += [("stdlib docstrings", _stdlib_docstrings()), ("stdlib code", _stdlib_code())]
    print("Client token estimate vs the simulator's BPE counts (relative error of the estimate)")
    print(f"{'text kind':<22} {'texts':>5} {'median':>8} {'p90 |e|':>7} {'max |e|':>7} {'over':>7}")
    everything: list[float] = []
    for name, texts in groups:
        errors = _errors(texts)
        everything += errors
        print(_row(name, errors))
    print(_row("all", everything))
    print(
        f"Planner bounds: estimate may exceed the truth by {tokenizer.ESTIMATE_OVER:.0%} and fall "
        f"short by {tokenizer.ESTIMATE_UNDER:.0%} (max observed above: "
        f"+{max(everything):.1%} / {min(everything):.1%})"
    )


if __name__ == "__main__":
    main()
