"""Deterministic sample texts of four kinds (prose, code, JSON, non-Latin), for measuring the
client's token estimate against the simulator's BPE counts.

Used by `bench/bench_token_estimate.py` (error distribution) and by
`tests/send/test_token_estimate.py` (the planner's below-minimum warnings near the thresholds).
`sample(kind, seed, sentences)` joins `sentences` units of that kind, picked by a seeded random
generator, so every run sees the same texts.
"""

from __future__ import annotations

import json
import random

__all__ = ["KINDS", "sample"]

_PROSE = (
    "The committee met on a wet Thursday morning to settle the question of the harbour wall.",
    "Nobody expected the survey to take three years, least of all the engineers who proposed it.",
    "She kept a notebook of every train she had missed, with the reason and the weather beside it.",
    "In the end the village voted to keep the old bridge and build a second one upstream.",
    "Prices rose sharply after the drought, and the bakery began selling smaller loaves at dawn.",
    "A good index is worth more than a long chapter, the librarian liked to say.",
    "The orchestra rehearsed the final movement twice, then sent everyone home before midnight.",
    "Children learned to swim in the quarry long before anyone thought to fence it off.",
    "His letters were short, polite and almost always about the garden.",
    "The report recommends caching the shared prefix and sending only the new question each time.",
    "When the lights failed, the shopkeeper simply lit candles and carried on counting change.",
    "Migrating birds rested on the lake for a week, then left in a single noisy afternoon.",
    "Every draft of the proposal grew longer, until the director asked for a one-page summary.",
    "The museum's newest room holds maps drawn by sailors who had never seen the coast they charted.",
    "Rain delayed the match, but the crowd stayed, sheltering under umbrellas and programmes.",
    "After the merger, half the team moved to the new office and the other half worked from home.",
)

_CODE = (
    "def moving_average(values: list[float], window: int) -> list[float]:\n"
    "    if window <= 0:\n"
    '        raise ValueError("window must be positive")\n'
    "    return [sum(values[i - window:i]) / window for i in range(window, len(values) + 1)]\n",
    "class LruCache:\n"
    "    def __init__(self, capacity: int) -> None:\n"
    "        self.capacity = capacity\n"
    "        self._items: OrderedDict[str, bytes] = OrderedDict()\n",
    "    def get(self, key: str) -> bytes | None:\n"
    "        value = self._items.get(key)\n"
    "        if value is not None:\n"
    "            self._items.move_to_end(key)\n"
    "        return value\n",
    "for path in sorted(root.rglob('*.json')):\n"
    "    with path.open(encoding='utf-8') as handle:\n"
    "        records.extend(json.load(handle)['items'])\n",
    "async def fetch_all(session, urls):\n"
    "    tasks = [asyncio.create_task(session.get(url, timeout=10)) for url in urls]\n"
    "    return await asyncio.gather(*tasks, return_exceptions=True)\n",
    "SELECT customer_id, COUNT(*) AS orders, SUM(total_cents) / 100.0 AS spent\n"
    "FROM orders WHERE created_at >= '2026-01-01'\n"
    "GROUP BY customer_id HAVING COUNT(*) > 3 ORDER BY spent DESC LIMIT 20;\n",
    "function debounce(fn, wait) {\n"
    "  let timer = null;\n"
    "  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), wait); };\n"
    "}\n",
    "    # Retry with exponential backoff, capped at eight seconds.\n"
    "    delay = min(0.5 * 2 ** attempt, 8.0) * random.uniform(0.75, 1.0)\n"
    "    time.sleep(delay)\n",
    "if __name__ == '__main__':\n    sys.exit(main(sys.argv[1:]))\n",
)

_NON_LATIN = (
    "東京の朝は早く、駅のホームには通勤客が静かに並んでいる。",
    "この報告書では、共有されたプロンプトをキャッシュし、新しい質問だけを送る方法を説明する。",
    "图书馆的新阅览室昨天开放，许多学生一早就来排队。",
    "价格上涨以后，面包店开始在清晨出售更小的面包。",
    "Утром над рекой стоял густой туман, и паромщик ждал, пока он рассеется.",
    "Комитет решил сохранить старый мост и построить новый выше по течению.",
    "Η βιβλιοθήκη του χωριού ανοίγει κάθε πρωί στις οκτώ και κλείνει αργά το απόγευμα.",
    "في الصباح الباكر امتلأ السوق بالباعة الذين جاؤوا من القرى المجاورة.",
    "बारिश के कारण मैच देर से शुरू हुआ, लेकिन दर्शक छतरियों के नीचे रुके रहे।",
    "도서관의 새 열람실이 어제 문을 열었고 많은 학생들이 아침 일찍 줄을 섰다.",
)

_WORDS = ("alpha", "orders", "price", "status", "region", "label", "owner", "tags", "notes", "score")


def _json_unit(rng: random.Random) -> str:
    record = {
        "id": rng.randrange(10_000, 99_999),
        "name": f"{rng.choice(_WORDS)}-{rng.randrange(100)}",
        "active": rng.random() < 0.5,
        "score": round(rng.uniform(0, 100), 2),
        "tags": rng.sample(_WORDS, k=rng.randrange(1, 4)),
        "owner": {
            "email": f"user{rng.randrange(1000)}@example.org",
            "since": f"2026-0{rng.randrange(1, 10)}-1{rng.randrange(10)}",
        },
    }
    return json.dumps(record, indent=rng.choice([None, 2]))


KINDS = ("prose", "code", "json", "non-latin")


def sample(kind: str, seed: int, units: int) -> str:
    """`units` sentences (prose, non-Latin), code snippets or JSON records of `kind`, seeded."""
    rng = random.Random(f"{kind}:{seed}")
    if kind == "prose":
        return " ".join(rng.choice(_PROSE) for _ in range(units))
    if kind == "code":
        return "\n".join(rng.choice(_CODE) for _ in range(units))
    if kind == "json":
        return "[" + ",\n".join(_json_unit(rng) for _ in range(units)) + "]"
    if kind == "non-latin":
        return " ".join(rng.choice(_NON_LATIN) for _ in range(units))
    raise ValueError(f"unknown text kind {kind!r}; use one of {', '.join(KINDS)}")
