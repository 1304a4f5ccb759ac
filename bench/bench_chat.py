"""What breakpoint placement costs: one-shot questions with and without the last-turn breakpoint,
and 20-turn conversations under this planner, claudette's placement and the TTL oracle.

    python3 dev.py bench chat          (or: .venv/bin/python bench/bench_chat.py [--sessions N])

1. One-shot Q&A over a shared document: a first call writes the document, then new questions
   hit it. Sent through the real `Workspace` against the simulator, once with the last-turn
   breakpoint (`cache_last_turn=True`, what the planner did before issue 14) and once with the
   planner's rule (a one-shot question is not marked). Per hit call: its input-side cost (reads,
   writes, uncached input; output excluded) with the mark, without, and how much lower; the
   model column is the issue-12 cost model's prediction of the same (`cache_cost_model.py`).
   Then the same over whole notebook sessions (the issue-12 trace families, re-runs included):
   total cost without the mark as a ratio to with it, for always-5m, always-1h and the oracle.
2. 20-turn conversations (families: quick turns ~40 s apart; paced, 1-4 min with one pause in
   five of 6-40 min; sparse, 6-40 min; long turns, every third one pasting 24 blocks; restarts,
   four 5-turn conversations over the same document): every policy's total cost as a ratio to
   the oracle's, which picks 5m or 1h per turn knowing every future gap under this planner's
   placement (`conversation_cost_model.ConversationModel.oracle`). claudette's placement: the
   system prompt as a plain string, one breakpoint on the last message, 5m.
3. Validation: traces replayed through `Workspace.chat` on the simulator's virtual clock (and
   claudette's requests through the SDK against the same simulator), the ledger's cost against
   the model's, and how many turns' usage the model predicted exactly.

What the conversation model assumes: one agent and one model (claude-sonnet-4-6: tokenizer
factor 1, reads at 0.1x, 1,024-token minimum; `--model` for another of factor 1); questions ~40
tokens (log-normal), replies ~250 tokens (log-normal, cut at max_tokens); text turns only; a turn
is sent when the previous reply is in (no parallel calls); the cache as the simulator implements
the documented rules (see `conversation_cost_model.py`). Every size is in the simulator's tokens,
and both models count the texts they send with the simulator's counter, not the client's
estimate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cache_cost_model as one_shot
import conversation_cost_model as chat_model
from conversation_cost_model import (
    FAMILIES,
    MODEL,
    ChatSession,
    Claudette,
    ConversationModel,
    Planner,
    auto,
    run_policy,
    sessions,
)
from sized_texts import sized_text

from clawdbot_nb.api.pricing import prices_for

DOCUMENT_SIZES = (5_000, 20_000)
POLICIES = ("claudette", "planner 5m", "planner 1h", "planner auto", "oracle")


def _isolated_home() -> str:
    home = tempfile.mkdtemp(prefix="clawdbot-nb-bench-chat-")
    os.environ.update(HOME=home, CLAWDBOT_STATE_DIR=os.path.join(home, "state"))
    return home


# ---------------------------------------------------------------------------------------------
# 1. One-shot questions


def one_shot_texts(
    cost_model: one_shot.CostModel, document_tokens: int, question_tokens: int
) -> tuple[str, list[str]]:
    """The document (its system position about `document_tokens`) and four questions of
    `question_tokens` each, in the simulator's tokens."""
    document = cost_model.document(1, document_tokens)
    return document, [sized_text(100 + number, question_tokens) for number in range(4)]


def one_shot_hits(model: str, document_tokens: int, question_tokens: int, ttl: str, mark: bool) -> float:
    """Input-side cost per hit call, measured: a workspace on a fresh simulator, one call writes
    the document, three new questions read it."""
    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace

    prices = prices_for(model)
    assert prices is not None
    document, questions = one_shot_texts(one_shot.CostModel(model), document_tokens, question_tokens)
    with Workspace.simulated(sim.Simulator(reply_tokens=5000), model=model, ledger=False) as workspace:
        costs = []
        for number, question in enumerate(questions):
            reply = workspace.ask(
                question, system=document, ttl=ttl, max_tokens=20, cache_last_turn=mark or None
            )
            if number:
                assert reply.hit, reply.footer()
                costs.append(reply.cost.cost_usd - reply.usage.output_tokens * prices.output / 1e6)
    return sum(costs) / len(costs)


def predicted_hit(model: str, document_tokens: int, question_tokens: int, ttl: str, mark: bool) -> float:
    """The same hit call's input-side cost by the issue-12 model, counting the same texts."""
    cost_model = one_shot.CostModel(model, last_turn_mark=mark)
    document, questions = one_shot_texts(cost_model, document_tokens, question_tokens)
    system, user = cost_model.sizes(document, questions[1])
    state = one_shot.State(system=ttl, turn=ttl if mark else None)
    call = one_shot.Call(60.0, question_tokens, 0, repeat=False)
    usage, _ = cost_model.step(state, call, system, user, ttl)
    return cost_model.cost(usage)


def table_one_shot() -> None:
    print("\n1. one-shot Q&A over a shared document: input-side cost per hit call (output excluded)")
    print("   measured through Workspace + simulator; 'model' = cache_cost_model's prediction")
    header = (f"{'model':<18} {'doc':>5} {'question':>8} {'TTL':>3} {'with mark $':>12} {'without $':>10} "
              f"{'lower':>6} {'model':>6}")  # fmt: skip
    print(header)
    for model in ("claude-sonnet-4-6", "claude-sonnet-5-5"):
        for document in (5_000, 20_000, 100_000):
            for tokens in (50, 200, 300):
                for ttl in ("5m", "1h"):
                    marked = one_shot_hits(model, document, tokens, ttl, True)
                    unmarked = one_shot_hits(model, document, tokens, ttl, False)
                    lower = 1 - unmarked / marked
                    predicted = 1 - predicted_hit(model, document, tokens, ttl, False) / predicted_hit(
                        model, document, tokens, ttl, True
                    )
                    row = f"{model:<18} {document // 1000:>4}k {tokens:>8} {ttl:>3} "
                    print(row + f"{marked:>12.6f} {unmarked:>10.6f} {lower:>6.1%} {predicted:>6.1%}")


def table_sessions(count: int) -> None:
    print("\n1b. whole notebook sessions of one-shot calls (issue-12 trace families, 1 call in 10 re-runs")
    print("    the previous question): total cost without the last-turn mark / with it")
    with_mark, without = one_shot.CostModel(), one_shot.CostModel(last_turn_mark=False)
    print(f"model {with_mark.model}, {count} sessions per row")
    print(f"{'family':<8} {'prefix':>7} {'always-5m':>10} {'always-1h':>10} {'oracle':>10}")
    for family in (*one_shot.FAMILIES, "any"):
        for size in one_shot.PREFIX_SIZES:
            items = one_shot.sessions(family, size, count)
            cells = []
            for policy in ("5m", "1h", "oracle"):
                totals = []
                for model in (without, with_mark):
                    if policy == "oracle":
                        totals.append(sum(model.oracle(s)[0] for s in items))
                    else:
                        totals.append(
                            sum(one_shot.run_policy(model, s, one_shot.fixed(policy))[0] for s in items)
                        )
                cells.append(totals[0] / totals[1])
            print(f"{family:<8} {size // 1000:>6}k " + " ".join(f"{c:>10.3f}" for c in cells))


# ---------------------------------------------------------------------------------------------
# 2. Conversations


def price_conversations(items: list[ChatSession], model: str) -> dict[str, float]:
    from clawdbot_nb.api.ttl_policy import UseHistory

    planner, claudette = ConversationModel(Planner(), model), ConversationModel(Claudette(), model)
    totals = dict.fromkeys(POLICIES, 0.0)
    history = UseHistory()  # auto learns this user's pauses across sessions, as the watch does
    start = 0.0
    for session in items:
        layouts = planner.placement.layouts(session)
        totals["claudette"] += claudette.replay(session, ["5m"] * len(session.turns))[0]
        totals["planner 5m"] += planner.replay(session, ["5m"] * len(session.turns), layouts)[0]
        totals["planner 1h"] += planner.replay(session, ["1h"] * len(session.turns), layouts)[0]
        totals["planner auto"] += run_policy(planner, session, auto(history), start, layouts)[0]
        totals["oracle"] += planner.oracle(session, layouts)[0]
        start += session.duration_s + 24 * 3600  # one conversation a day
    return totals


def table_conversations(count: int, model: str) -> dict[tuple[str, int], dict[str, float]]:
    print(f"\n2. 20-turn conversations: total cost as a ratio to the oracle's ({model}, {count} per row)")
    header = f"{'family':<11} {'doc':>4} " + " ".join(f"{p:>12}" for p in POLICIES)
    print(header + f" {'planner/claudette':>18} {'oracle $/chat':>13}")
    results = {}
    for family in FAMILIES:
        for size in DOCUMENT_SIZES:
            totals = price_conversations(sessions(family, size, count), model)
            oracle = totals["oracle"]
            cells = " ".join(f"{totals[p] / oracle:>12.3f}" for p in POLICIES)
            versus = totals["planner 5m"] / totals["claudette"]
            print(f"{family:<11} {size // 1000:>3}k {cells} {versus:>18.3f} {oracle / count:>13.4f}")
            results[(family, size)] = totals
    return results


# ---------------------------------------------------------------------------------------------
# 3. Validation through the real Workspace


def replay_chat(
    model: ConversationModel, session: ChatSession, ttls: list[str], ledger: Path
) -> tuple[float, int]:
    """(the ledger's total cost, turns whose usage equals the model's) for `session` sent turn by
    turn through `Workspace.chat` on the simulator, its virtual clock moving by each gap."""
    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace

    simulator = sim.Simulator(reply_tokens=5000)
    with Workspace.simulated(simulator, model=model.model, ledger=ledger) as workspace:
        chat = workspace.chat("bench", system=chat_model.system_text(session))
        replies: list[str] = []
        for number, (turn, ttl) in enumerate(zip(session.turns, ttls, strict=True)):
            simulator.clock.advance(turn.gap_s)
            if turn.new_chat:
                chat.reset()
            reply = chat.ask(chat_model.user_content(session, number), ttl=ttl, max_tokens=turn.output_tokens)
            replies.append(reply.text)
        rows = workspace.usage()
        ledger_cost = float(rows["cost_usd"].sum())
        measured = [
            (
                int(r.input_tokens),
                int(r.cache_read_tokens),
                int(r.cache_write_5m_tokens),
                int(r.cache_write_1h_tokens),
            )
            for r in rows.itertuples()
        ]
    _, usages = model.replay(session, ttls, model.placement.layouts(session, replies))
    expected = [
        (u.input_tokens, u.cache_read_tokens, u.cache_write_5m_tokens, u.cache_write_1h_tokens)
        for u in usages
    ]
    return ledger_cost, sum(a == b for a, b in zip(measured, expected, strict=True))


def replay_claudette(model: ConversationModel, session: ChatSession) -> tuple[float, int]:
    """claudette's requests (plain-string system, the last message marked, 5m) sent through the
    SDK to the simulator; (their cost by our prices, turns whose usage equals the model's)."""
    import anthropic
    import httpx2

    from clawdbot_nb import sim
    from clawdbot_nb.api.pricing import compute_cost, usage_counts

    simulator = sim.Simulator(reply_tokens=5000)
    http = httpx2.Client(transport=simulator.transport())
    client = anthropic.Anthropic(api_key=sim.DEMO_API_KEY, http_client=http, max_retries=0)
    messages: list[dict] = []
    replies: list[str] = []
    measured, total = [], 0.0
    try:
        for number, turn in enumerate(session.turns):
            simulator.clock.advance(turn.gap_s)
            if turn.new_chat:
                messages = []
            content = [dict(b) for b in chat_model.user_content(session, number)]
            content[-1]["cache_control"] = {"type": "ephemeral"}
            sent = [*messages, {"role": "user", "content": content}]
            message = client.messages.create(
                model=model.model,
                max_tokens=turn.output_tokens,
                system=chat_model.system_text(session),
                messages=sent,
            )
            counts = usage_counts(message.usage)
            total += compute_cost(model.model, message.usage).cost_usd
            measured.append((counts.input_tokens, counts.cache_read_tokens, counts.cache_write_5m_tokens,
                             counts.cache_write_1h_tokens))  # fmt: skip
            reply = "".join(b.text for b in message.content if b.type == "text")
            replies.append(reply)
            messages = [*messages, {"role": "user", "content": chat_model.user_content(session, number)},
                        {"role": "assistant", "content": reply}]  # fmt: skip
    finally:
        client.close()
    _, usages = model.replay(session, ["5m"] * len(session.turns), model.placement.layouts(session, replies))
    expected = [
        (u.input_tokens, u.cache_read_tokens, u.cache_write_5m_tokens, u.cache_write_1h_tokens)
        for u in usages
    ]
    return total, sum(a == b for a, b in zip(measured, expected, strict=True))


def validate(model_id: str) -> None:
    print("\n3. replay through Workspace.chat + simulator (virtual clock): the ledger's cost, the model's")
    columns = f"{'turns':>5} {'model $':>10} {'measured $':>11} {'ratio':>9} {'usage =':>8}"
    print(f"{'trace':<20} {'policy':<13} {columns}")
    home = _isolated_home()
    from clawdbot_nb import sim
    from clawdbot_nb.state import onboarding
    from clawdbot_nb.state.agent import AgentState

    onboarding.save_api_key(AgentState.resolve(), sim.DEMO_API_KEY)
    planner, claudette = ConversationModel(Planner(), model_id), ConversationModel(Claudette(), model_id)
    for family, size, index in (("paced", 20_000, 2), ("long turns", 5_000, 1), ("restarts", 20_000, 0)):
        session = sessions(family, size, index + 1)[index]
        label = f"{family} {size // 1000}k #{index}"
        policies = {
            "planner 5m": ["5m"] * len(session.turns),
            "planner 1h": ["1h"] * len(session.turns),
            "oracle": planner.oracle(session)[1],
        }
        for name, ttls in policies.items():
            predicted = planner.replay(session, ttls)[0]
            measured, matched = replay_chat(planner, session, ttls, Path(home) / f"{family}-{name}.sqlite")
            print(f"{label:<20} {name:<13} {len(ttls):>5} {predicted:>10.5f} {measured:>11.5f} "
                  f"{measured / predicted:>9.6f} {matched:>4}/{len(ttls):<3}")  # fmt: skip
        predicted = claudette.replay(session, ["5m"] * len(session.turns))[0]
        measured, matched = replay_claudette(claudette, session)
        print(f"{label:<20} {'claudette':<13} {len(session.turns):>5} {predicted:>10.5f} {measured:>11.5f} "
              f"{measured / predicted:>9.6f} {matched:>4}/{len(session.turns):<3}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100, help="sessions per family and size")
    parser.add_argument("--model", default=MODEL, help="the conversations' model (tokenizer factor 1)")
    parser.add_argument("--no-replay", action="store_true", help="skip the Workspace replay")
    args = parser.parse_args()
    started = time.perf_counter()
    _isolated_home()
    table_one_shot()
    table_sessions(args.sessions)
    table_conversations(args.sessions, args.model)
    if not args.no_replay:
        validate(args.model)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
