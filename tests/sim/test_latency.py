"""The optional latency model: uncached input costs time, a cache hit is faster, output streams."""

from __future__ import annotations

import time

from clawdbot_nb.sim import LatencyModel
from tests.sim.sim_support import MODEL, Api, cached_system, words


def test_latency_is_off_by_default(inproc: Api) -> None:
    assert inproc.simulator.latency is None


def test_a_cache_hit_is_faster_than_a_miss(api: Api) -> None:
    # 20,000 uncached tokens at 100,000/s = 0.2 s; read from cache at 2,000,000/s = 0.01 s.
    api.simulator.latency = LatencyModel(
        base_seconds=0.0,
        uncached_tokens_per_second=100_000,
        cached_tokens_per_second=2_000_000,
        output_tokens_per_second=1e9,
    )
    client = api.client()
    params = {
        "model": MODEL,
        "max_tokens": 8,
        "system": cached_system(words(20_000)),
        "messages": [{"role": "user", "content": "x"}],
    }
    started = time.perf_counter()
    client.messages.create(**params)
    miss = time.perf_counter() - started
    started = time.perf_counter()
    client.messages.create(**params)
    hit = time.perf_counter() - started
    assert miss >= 0.2
    assert hit < miss


def test_streaming_spreads_output_over_time(inproc: Api) -> None:
    inproc.simulator.latency = LatencyModel(base_seconds=0.0, output_tokens_per_second=200)
    inproc.simulator.reply_tokens = 40
    arrivals: list[float] = []
    with inproc.client().messages.stream(
        model=MODEL, max_tokens=100, messages=[{"role": "user", "content": "talk"}]
    ) as stream:
        for _ in stream.text_stream:
            arrivals.append(time.perf_counter())
    # About 40 tokens at 200/s: the first and last text pieces are ~0.2 s apart.
    assert len(arrivals) > 5
    assert arrivals[-1] - arrivals[0] >= 0.1


def test_scale_multiplies_every_delay() -> None:
    usage = {"input_tokens": 10_000, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100_000}
    full = LatencyModel()
    tenth = LatencyModel(scale=0.1)
    assert full.time_to_first_token(usage) == 0.25 + 1.0 + 1.0
    assert tenth.time_to_first_token(usage) == full.time_to_first_token(usage) * 0.1
    assert tenth.output_seconds(80) == full.output_seconds(80) * 0.1
