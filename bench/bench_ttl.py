"""Which cache TTL costs least: always-5m, always-1h and `ttl="auto"` against an offline oracle.

    python3 dev.py bench ttl            (or: .venv/bin/python bench/bench_ttl.py [--sessions N])

For four trace families modelled on notebook work — quick iteration (gaps ~40 s), mixed (mostly
1-4 min, one pause in five of 6-40 min), sparse (a call every 10-50 min), bursts (2-10 quick
calls, then a pause of 6 min to 6 h) — and prefixes of 5k, 20k and 100k tokens, it prices
`--sessions` random seeded sessions (200 by default) under each policy and prints each policy's
total cost as a ratio to the oracle's, which knows every future gap and picks 5m or 1h per call
by dynamic programming (`cache_cost_model.CostModel.oracle`). Goal: auto within 10% of the
oracle on every family, and at most 2% above the better fixed TTL of that family.

"auto" is the client's own policy (`clawdbot_nb.api.ttl_policy`), fed what the cache watch would
know: whether the system prompt's entry is alive, and the agent's use history. The agent's
history carries over from one session of a family to the next (the watch is kept per agent);
"auto, cold" starts every session with no history at all. The second table drops the
last-user-turn breakpoint (the planner's placement for one-shot calls since issue 14). Last,
three traces are replayed through the real `Workspace` against the simulator on its virtual
clock, under both placements, and the ledger's costs compared with the model's.

What the model assumes:
- one agent, one model (`catalog.DEFAULT_MODEL`, catalog prices, no batch, global inference);
- a session is a run of one-shot calls (no history) sharing one system prompt; the planner
  marks the system block at the call's TTL, and in the first table the last user turn too (what
  it sent before issue 14; `cache_last_turn=True` asks for it now), in the second not (what it
  sends for a one-shot question since issue 14);
- a question is new, except that one call in ten re-runs the previous question exactly;
  questions are ~40 tokens (log-normal), outputs ~250 tokens (log-normal, cut by max_tokens);
- token counts are the simulator's, as the server counts (`clawdbot_nb.sim.positions`: its own
  BPE vocabulary, framing included, scaled by the model's factor, 4 trailing tokens never
  cached), of the very texts the replay sends (`CostModel.system_text`, `question_texts`); the
  client's estimate (`clawdbot_nb.tokenizer`) plays no part in the model's arithmetic;
- the cache follows the documented rules as the simulator implements them: an entry is found
  while its age (since its last write or hit) is under its TTL, a hit refreshes it for free, an
  entry keeps the TTL it was written with (a call that reads a 5m entry cannot turn it into 1h),
  writes follow the A/B/C rule; prefixes are over the model's minimum;
- a call's writes are visible to the next call (no parallel calls; latency is much shorter than
  the gaps, so times are measured from one call's arrival to the next);
- output is the same whatever the TTL (caching never changes it);
- sessions of one family are one user's days, 12-36 h apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cache_cost_model import (
    FAMILIES,
    PREFIX_SIZES,
    CostModel,
    Moment,
    Policy,
    Session,
    fixed,
    run_policy,
    session_starts,
    sessions,
)

from clawdbot_nb.api.cache_watch import TURN_SAMPLE
from clawdbot_nb.api.ttl_policy import PriceRatios, UseHistory, choose_for_request, turn_reuse

POLICIES = ("always-5m", "always-1h", "auto", "auto, cold", "oracle")
GOAL_ORACLE, GOAL_FIXED = 1.10, 1.02


def auto_policy(model: CostModel, history: UseHistory) -> Policy:
    """`ttl="auto"` as the client runs it (`ttl_policy.choose_for_request`), on what the cache
    watch knows at each call: which entries are alive, the agent's uses, whether its new turns
    were read again."""
    ratios = PriceRatios.for_model(model.model)
    turns: deque[bool] = deque(maxlen=TURN_SAMPLE)  # per last-turn entry: read again?

    def decide(moment: Moment) -> str:
        key = (moment.session.family, moment.session.prefix_tokens, moment.session.index)
        cumulative = [moment.system_tokens, moment.system_tokens + moment.user_tokens]
        breakpoints = [0, 1] if model.last_turn_mark else [0]
        hit = 1 if moment.turn_alive else (0 if moment.system_alive else -1)
        if moment.turn_alive and turns:
            turns[-1] = True
        choice = choose_for_request(
            cumulative,
            breakpoints,
            1,
            hit=hit,
            cached_ttl=moment.system_ttl,
            cached_until=None,
            evidence=history.evidence(key, moment.at),
            turn_reuse=turn_reuse(list(turns)),
            ratios=ratios,
        )
        history.record(key, moment.at)
        if model.last_turn_mark and not moment.turn_alive:
            turns.append(False)
        return choice.ttl

    return decide


def price_family(model: CostModel, items: list[Session]) -> dict[str, float]:
    totals = dict.fromkeys(POLICIES, 0.0)
    warm = UseHistory()
    for session, start in session_starts(items):
        totals["always-5m"] += run_policy(model, session, fixed("5m"), start)[0]
        totals["always-1h"] += run_policy(model, session, fixed("1h"), start)[0]
        totals["auto"] += run_policy(model, session, auto_policy(model, warm), start)[0]
        totals["auto, cold"] += run_policy(model, session, auto_policy(model, UseHistory()), start)[0]
        totals["oracle"] += model.oracle(session)[0]
    return totals


def table(model: CostModel, count: int, title: str) -> dict[tuple[str, int], dict[str, float]]:
    print(f"\n{title}")
    print(f"model {model.model}, {count} sessions per row; cost as a ratio to the oracle's")
    header = f"{'family':<8} {'prefix':>7} " + " ".join(f"{p:>10}" for p in POLICIES)
    print(header + f" {'oracle $/session':>17}  auto≤1.10×oracle  auto≤1.02×best fixed")
    results = {}
    for family in (*FAMILIES, "any"):
        for size in PREFIX_SIZES:
            totals = price_family(model, sessions(family, size, count))
            oracle = totals["oracle"]
            ratios = {p: totals[p] / oracle for p in POLICIES}
            best_fixed = min(ratios["always-5m"], ratios["always-1h"])
            near_oracle = "yes" if ratios["auto"] <= GOAL_ORACLE else "NO"
            near_fixed = "yes" if ratios["auto"] <= GOAL_FIXED * best_fixed else "NO"
            cells = " ".join(f"{ratios[p]:>10.3f}" for p in POLICIES)
            goals = f"{near_oracle:>16}  {near_fixed:>20}"
            print(f"{family:<8} {size // 1000:>6}k {cells} {oracle / count:>17.4f}  {goals}")
            results[(family, size)] = totals
    return results


# ---------------------------------------------------------------------------------------------
# Replaying traces through the real Workspace


def replay_through_workspace(
    model: CostModel, session: Session, ttls: list[str] | None, directory: Path
) -> tuple[float, int, list[str]]:
    """(the ledger's total cost, calls whose usage equals the model's, the TTLs applied) for
    `session` sent through a Workspace on the simulator, the virtual clock moving by each gap;
    with `ttls`, call i is sent with `ttls[i]`, without them every call is sent with ttl="auto"
    and the workspace's own cache watch decides. The ledger and the cache watch beside it go to
    `directory`, which must be new (an agent with no history)."""
    from clawdbot_nb import sim
    from clawdbot_nb.api.workspace import Workspace

    simulator = sim.Simulator(reply_tokens=5000)
    system = model.system_text(session)
    applied: list[str] = []
    replies = []
    directory.mkdir(parents=True)
    with Workspace.simulated(simulator, model=model.model, ledger=directory / "usage.sqlite") as workspace:
        questions = model.question_texts(session)
        for number, (call, question) in enumerate(zip(session.calls, questions, strict=True)):
            simulator.clock.advance(call.gap_s)
            ttl = ttls[number] if ttls is not None else "auto"
            reply = workspace.ask(
                question,
                system=system,
                ttl=ttl,
                max_tokens=call.output_tokens,
                cache_last_turn=model.last_turn_mark,  # the placement the model prices
            )
            applied.append(reply.plan.ttl_applied)
            replies.append(reply)
        ledger_cost = float(workspace.usage()["cost_usd"].sum())
    _, usages = model.replay(session, applied)
    matched = sum(reply.usage == expected for reply, expected in zip(replies, usages, strict=True))
    return ledger_cost, matched, applied


def validate(model: CostModel, planner: str) -> None:
    print(
        f"\nreplay through Workspace + simulator (virtual clock), {planner}: ledger cost against the model's"
    )
    columns = ("calls", "model $", "ledger $", "ratio", "usage =")
    widths = (5, 10, 10, 9, 8)
    print(f"{'trace':<22} {'policy':<10} " + " ".join(f"{c:>{w}}" for c, w in zip(columns, widths)))
    home = tempfile.mkdtemp(prefix="clawdbot-nb-bench-ttl-")
    os.environ.update(HOME=home, CLAWDBOT_STATE_DIR=os.path.join(home, "state"))
    from clawdbot_nb import sim
    from clawdbot_nb.state import onboarding
    from clawdbot_nb.state.agent import AgentState

    onboarding.save_api_key(AgentState.resolve(), sim.DEMO_API_KEY)
    traces = [("mixed", 20_000, 3), ("bursts", 5_000, 5), ("sparse", 100_000, 8)]
    for family, size, index in traces:
        session = sessions(family, size, index + 1)[index]
        policies = {
            "always-5m": run_policy(model, session, fixed("5m"))[1],
            "always-1h": run_policy(model, session, fixed("1h"))[1],
            "auto": run_policy(model, session, auto_policy(model, UseHistory()))[1],
            "oracle": model.oracle(session)[1],
        }
        label = f"{family} {size // 1000}k #{index}"
        for name, ttls in policies.items():
            predicted = model.replay(session, ttls)[0]
            ledger, matched, _ = replay_through_workspace(
                model, session, ttls, Path(home) / f"{family}-{name}"
            )
            print(
                f"{label:<22} {name:<10} {len(ttls):>5} {predicted:>10.5f} {ledger:>10.5f} "
                f"{ledger / predicted:>9.6f} {matched:>4}/{len(ttls):<3}"
            )
        # ttl="auto" end to end: the workspace's cache watch decides each call, the model's copy
        # of the policy is what the tables above measured.
        expected = policies["auto"]
        ledger, matched, applied = replay_through_workspace(
            model, session, None, Path(home) / f"{family}-workspace-auto"
        )
        predicted = model.replay(session, expected)[0]
        same = sum(a == b for a, b in zip(applied, expected, strict=True))
        print(
            f"{label:<22} {'ttl=auto':<10} {len(expected):>5} {predicted:>10.5f} {ledger:>10.5f} "
            f"{ledger / predicted:>9.6f} {matched:>4}/{len(expected):<3} (same TTL as the model's "
            f"auto on {same}/{len(expected)} calls)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200, help="sessions per family and prefix size")
    parser.add_argument("--no-replay", action="store_true", help="skip the Workspace replay")
    args = parser.parse_args()
    started = time.perf_counter()
    before = CostModel()
    since = CostModel(last_turn_mark=False)
    table(before, args.sessions, "system + last user turn marked (the planner before issue 14)")
    table(
        since,
        args.sessions,
        "last-user-turn breakpoint dropped for one-shot calls (the planner since issue 14)",
    )
    if not args.no_replay:
        validate(since, "the planner since issue 14")
        validate(before, "the last user turn marked too (cache_last_turn=True)")
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
