"""A request's prefix sizes as the API counts them, from the client's estimates and the usage
the API reported.

The client only estimates tokens (`clawdbot_nb.tokenizer`, a few percent off, more on unusual
text). A reply's usage gives exact counts, but only as sums that end at particular positions of
the prefix: `cache_read` is the prefix through the deepest entry read, `cache_read` plus both
writes the prefix through the last breakpoint written, `cache_read` plus the 1-hour writes the
prefix through the last 1-hour breakpoint (when both TTLs were written), and every input token
the whole prompt. A prefix's count never changes (its hash fixes its text and the model its
vocabulary), so an exact point learned from one call holds for every later call sharing it.

Everything here is pure: `locate` says which position a sum ends at, `usage_points` which exact
counts a reply states, `anchored` the counts of every position given the exact ones. The cache
watch and the what-if replay both size prefixes this way, so the ledger's figures, the cache
table and the replays agree with the API rather than with our estimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from clawdbot_nb.api.pricing import UsageCounts


def anchored(
    estimates: Sequence[int],
    exact: Mapping[int, int],
    *,
    estimated_total: int,
    total: int | None = None,
) -> tuple[list[int], int]:
    """(the cumulative count through each position, the prompt's total).

    `estimates` are the client's cumulative estimates per position, `exact` the positions whose
    count is known, `total` the prompt's count when the API reported it. Between two exact
    points a position gets the estimate's share of the gap; past the last one the estimate grows
    at the ratio the last exact point showed. Exact points that contradict the order of the
    prefix (a later position holding fewer tokens) are dropped, the later one first.
    """
    n = len(estimates)
    points: list[tuple[int, int, int]] = [(-1, 0, 0)]  # (position, estimate, count)
    for position in sorted(p for p in exact if 0 <= p < n):
        count = exact[position]
        if count >= points[-1][2] and (total is None or count <= total):
            points.append((position, estimates[position], count))
    if total is not None:
        points.append((n, max(estimated_total, points[-1][1]), max(total, points[-1][2])))
    counts: list[int] = []
    segment = 0
    for position, estimate in enumerate(estimates):
        while segment + 1 < len(points) and points[segment + 1][0] < position:
            segment += 1
        start = points[segment]
        if segment + 1 < len(points):
            end = points[segment + 1]
            if end[0] == position:
                counts.append(end[2])
                continue
            span = end[1] - start[1]
            share = (estimate - start[1]) / span if span > 0 else 1.0
            counts.append(round(start[2] + share * (end[2] - start[2])))
        else:
            ratio = start[2] / start[1] if start[1] > 0 else 1.0
            counts.append(round(start[2] + (estimate - start[1]) * ratio))
    for i in range(1, n):  # rounding never makes a longer prefix smaller
        counts[i] = max(counts[i], counts[i - 1])
    if total is None:
        last = points[-1]
        ratio = last[2] / last[1] if last[1] > 0 else 1.0
        total = round(last[2] + (estimated_total - last[1]) * ratio)
    return counts, max(total, counts[-1] if counts else 0)


def locate(tokens: int, candidates: Iterable[int], counts: Sequence[int], exact: Mapping[int, int]) -> int:
    """The candidate position whose prefix holds `tokens`: one known to hold exactly that many,
    else the one whose count is nearest (the deeper one on a tie); -1 for no tokens or none."""
    chosen = sorted(set(candidates))
    if tokens <= 0 or not chosen:
        return -1
    for position in reversed(chosen):
        if exact.get(position) == tokens:
            return position
    return min(reversed(chosen), key=lambda p: abs(counts[p] - tokens))


def usage_points(hit: int, written: Sequence[tuple[int, str]], usage: UsageCounts) -> dict[int, int]:
    """The positions whose count a reply's usage states exactly, given the position read
    through (`hit`, -1 for none) and the breakpoints written, in order, with their TTLs."""
    points: dict[int, int] = {}
    read = usage.cache_read_tokens
    if hit >= 0 and read > 0:
        points[hit] = read
    if written and usage.cache_write_tokens > 0:
        points[written[-1][0]] = read + usage.cache_write_tokens
        one_hour = [p for p, ttl in written if ttl == "1h"]
        if one_hour and usage.cache_write_1h_tokens > 0 and usage.cache_write_5m_tokens > 0:
            # The 1-hour entries come first in the prefix (the API's rule), so the 1-hour
            # writes end at the last 1-hour breakpoint.
            points[one_hour[-1]] = read + usage.cache_write_1h_tokens
    return points
