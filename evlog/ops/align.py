"""Sequence alignment for `diff`: Myers' O((N+M)·D) shortest edit script on keys, run on
bounded windows, with a hash-anchor fallback when a window is too different.

`align_window` returns the matched index pairs of two key lists (a longest common
subsequence when the edit distance is at most `max_d`; otherwise pairs found by anchoring
each key of the first list at its earliest unused position in the second).
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence


def myers(a: Sequence[Hashable], b: Sequence[Hashable], max_d: int) -> list[tuple[int, int]] | None:
    """Matched pairs (i, j) of a shortest edit script, ascending; None if D > max_d."""
    n, m = len(a), len(b)
    max_d = min(max_d, n + m)
    v: dict[int, int] = {1: 0}
    trace: list[dict[int, int]] = []
    for d in range(max_d + 1):
        trace.append(dict(v))
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[k - 1] < v[k + 1]):
                x = v[k + 1]
            else:
                x = v[k - 1] + 1
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            v[k] = x
            if x >= n and y >= m:
                return _backtrack(trace, n, m, d)
    return None


def _backtrack(trace: list[dict[int, int]], x: int, y: int, d_end: int) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    for d in range(d_end, 0, -1):
        v = trace[d]
        k = x - y
        if k == -d or (k != d and v[k - 1] < v[k + 1]):
            prev_k = k + 1
            prev_x = v[prev_k]
            prev_y = prev_x - prev_k
            start_x, start_y = prev_x, prev_y + 1     # an insertion (down)
        else:
            prev_k = k - 1
            prev_x = v[prev_k]
            prev_y = prev_x - prev_k
            start_x, start_y = prev_x + 1, prev_y     # a deletion (right)
        while x > start_x and y > start_y:
            x -= 1
            y -= 1
            pairs.append((x, y))
        x, y = prev_x, prev_y
    while x > 0 and y > 0:
        x -= 1
        y -= 1
        pairs.append((x, y))
    pairs.reverse()
    return pairs


def anchor_pairs(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[tuple[int, int]]:
    """Increasing pairs found greedily: each key of `a` matched to its next occurrence in `b`
    after the previous match (linear; not minimal when keys repeat or blocks move)."""
    positions: dict[Hashable, list[int]] = {}
    for j, key in enumerate(b):
        positions.setdefault(key, []).append(j)
    pairs = []
    last = -1
    used: dict[Hashable, int] = {}
    for i, key in enumerate(a):
        lst = positions.get(key)
        if not lst:
            continue
        p = used.get(key, 0)
        while p < len(lst) and lst[p] <= last:
            p += 1
        used[key] = p
        if p < len(lst):
            last = lst[p]
            used[key] = p + 1
            pairs.append((i, last))
    return pairs


def align_window(a: Sequence[Hashable], b: Sequence[Hashable], max_d: int) -> list[tuple[int, int]]:
    pairs = myers(a, b, max_d)
    return anchor_pairs(a, b) if pairs is None else pairs


def pair_gap(na: int, nb: int, score: callable) -> list[tuple[int, int]]:  # type: ignore[valid-type]
    """Order-preserving pairs (i, j) of two gaps maximizing the total `score(i, j)` (a value
    in [0, 1], or None when i and j must not be paired). Exact dynamic programming for
    gaps up to 400x400 cells; beyond, greedy in order."""
    if na == 0 or nb == 0:
        return []
    if na * nb > 160_000:
        pairs, j0 = [], 0
        for i in range(na):
            for j in range(j0, min(nb, j0 + 64)):
                if score(i, j) is not None:
                    pairs.append((i, j))
                    j0 = j + 1
                    break
        return pairs
    scores = [[score(i, j) for j in range(nb)] for i in range(na)]
    best = [[0.0] * (nb + 1) for _ in range(na + 1)]
    for i in range(na - 1, -1, -1):
        row, nxt, srow = best[i], best[i + 1], scores[i]
        for j in range(nb - 1, -1, -1):
            s = srow[j]
            take = -1.0 if s is None else 1.0 + s + nxt[j + 1]
            row[j] = max(nxt[j], row[j + 1], take)
    pairs = []
    i = j = 0
    while i < na and j < nb:
        s = scores[i][j]
        if s is not None and best[i][j] == 1.0 + s + best[i + 1][j + 1]:
            pairs.append((i, j))
            i += 1
            j += 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs
