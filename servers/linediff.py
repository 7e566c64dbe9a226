"""A unified diff that stays near-linear on large inputs: `difflib`'s output where difflib is fast.

`difflib.SequenceMatcher` is quadratic in the worst case (a 14,000-line file took
21 s, 20,000 lines 55 s) and a tool call must not take that.  Small inputs go to
difflib unchanged, so their output is exactly difflib's.  Large ones are cut down
first: the common head and tail are set aside, lines that occur once on each side
anchor the match (patience diff: the longest increasing run of such pairs, found in
O(n log n)), and only the short gaps between anchors go to difflib; a gap too long
for it is shown as replaced.  The diff is always correct (applying it gives the
second file); only on large inputs may it be longer than the shortest one.
"""

import bisect
import difflib
from collections.abc import Iterator, Sequence

__all__ = ["unified_diff"]

_QUADRATIC_BUDGET = 1_000_000
"""Most line pairs a difflib run may compare (its worst case is their number)."""

Opcode = tuple[str, int, int, int, int]


def unified_diff(a: Sequence[str], b: Sequence[str], from_name: str, to_name: str, context: int = 3) -> list[str]:
    """`difflib.unified_diff(a, b, from_name, to_name, lineterm="", n=context)` without its quadratic time."""
    if len(a) * len(b) <= _QUADRATIC_BUDGET:
        return list(difflib.unified_diff(a, b, from_name, to_name, lineterm="", n=context))
    return list(_format(a, b, from_name, to_name, _group(_opcodes(a, b), context)))


def _opcodes(a: Sequence[str], b: Sequence[str]) -> list[Opcode]:
    matches = _matching_blocks(a, b, 0, len(a), 0, len(b))
    opcodes: list[Opcode] = []
    i = j = 0
    for ai, bj, size in [*matches, (len(a), len(b), 0)]:
        tag = "replace" if i < ai and j < bj else "delete" if i < ai else "insert" if j < bj else ""
        if tag:
            opcodes.append((tag, i, ai, j, bj))
        if size:
            opcodes.append(("equal", ai, ai + size, bj, bj + size))
        i, j = ai + size, bj + size
    return opcodes


def _matching_blocks(a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int) -> list[tuple]:
    """Matching runs (i, j, size) of a[alo:ahi] and b[blo:bhi], in order."""
    head = 0
    while alo + head < ahi and blo + head < bhi and a[alo + head] == b[blo + head]:
        head += 1
    tail = 0
    while ahi - tail > alo + head and bhi - tail > blo + head and a[ahi - tail - 1] == b[bhi - tail - 1]:
        tail += 1
    blocks = [(alo, blo, head)] if head else []
    i, ilast, j, jlast = alo + head, ahi - tail, blo + head, bhi - tail
    if (ilast - i) * (jlast - j) <= _QUADRATIC_BUDGET:
        matcher = difflib.SequenceMatcher(None, a[i:ilast], b[j:jlast], autojunk=False)
        blocks += [(i + x, j + y, size) for x, y, size in matcher.get_matching_blocks() if size]
    else:
        for ai, bj in _anchors(a, b, i, ilast, j, jlast):
            blocks += _gap(a, b, i, ai, j, bj)
            blocks.append((ai, bj, 1))
            i, j = ai + 1, bj + 1
        blocks += _gap(a, b, i, ilast, j, jlast)
    if tail:
        blocks.append((ahi - tail, bhi - tail, tail))
    return _merged(blocks)


def _gap(a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int) -> list[tuple]:
    """Matches between two anchors: difflib when it can afford them, else none (shown as replaced)."""
    if alo == ahi or blo == bhi:
        return []
    if (ahi - alo) * (bhi - blo) > _QUADRATIC_BUDGET:
        return []
    matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
    return [(alo + x, blo + y, size) for x, y, size in matcher.get_matching_blocks() if size]


def _anchors(a: Sequence[str], b: Sequence[str], alo: int, ahi: int, blo: int, bhi: int) -> list[tuple[int, int]]:
    """Lines found exactly once on each side, in the longest order both sides share (patience sorting)."""
    once_a = _unique_positions(a, alo, ahi)
    once_b = _unique_positions(b, blo, bhi)
    pairs = sorted((i, once_b[line]) for line, i in once_a.items() if line in once_b)
    tops: list[int] = []  # smallest b-position ending an increasing run of each length
    ends: list[int] = []  # index into pairs of that run's last pair
    before: list[int] = []
    for index, (_, j) in enumerate(pairs):
        length = bisect.bisect_left(tops, j)
        if length == len(tops):
            tops.append(j)
            ends.append(index)
        else:
            tops[length], ends[length] = j, index
        before.append(ends[length - 1] if length else -1)
    chain = []
    index = ends[-1] if ends else -1
    while index >= 0:
        chain.append(pairs[index])
        index = before[index]
    return chain[::-1]


def _unique_positions(lines: Sequence[str], lo: int, hi: int) -> dict[str, int]:
    seen: dict[str, int] = {}
    repeated: set[str] = set()
    for index in range(lo, hi):
        line = lines[index]
        if line in seen:
            repeated.add(line)
        seen[line] = index
    return {line: index for line, index in seen.items() if line not in repeated}


def _merged(blocks: list[tuple]) -> list[tuple]:
    merged: list[tuple] = []
    for i, j, size in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            merged[-1] = (merged[-1][0], merged[-1][1], merged[-1][2] + size)
        else:
            merged.append((i, j, size))
    return merged


def _group(opcodes: list[Opcode], n: int) -> Iterator[list[Opcode]]:
    """Hunks with `n` lines of context, as `SequenceMatcher.get_grouped_opcodes` makes them."""
    if not any(tag != "equal" for tag, *_ in opcodes):
        return
    codes = list(opcodes)
    if codes[0][0] == "equal":
        tag, i1, i2, j1, j2 = codes[0]
        codes[0] = (tag, max(i1, i2 - n), i2, max(j1, j2 - n), j2)
    if codes[-1][0] == "equal":
        tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = (tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n))
    group: list[Opcode] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * n:
            group.append((tag, i1, min(i2, i1 + n), j1, min(j2, j1 + n)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - n), max(j1, j2 - n)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _format(a: Sequence[str], b: Sequence[str], from_name: str, to_name: str, groups) -> Iterator[str]:
    started = False
    for group in groups:
        if not started:
            started = True
            yield f"--- {from_name}"
            yield f"+++ {to_name}"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            yield from ("-" + line for line in a[i1:i2]) if tag in ("replace", "delete") else ()
            yield from ("+" + line for line in b[j1:j2]) if tag in ("replace", "insert") else ()


def _range(start: int, stop: int) -> str:
    """A hunk's range as difflib writes it: `start,length`, 1-based; an empty range names the line before."""
    length = stop - start
    beginning = start + 1
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"
