"""The filesystem `diff`: difflib's exact output on ordinary files, a correct and fast one on large files."""

import difflib
import random

import pytest

from servers import create_sandbox
from servers.linediff import unified_diff


def patched(a: list[str], diff: list[str]) -> list[str]:
    """Apply a unified diff to `a` (the check that a diff is correct, whatever its length)."""
    out, position = [], 0
    for line in diff[2:]:
        if line.startswith("@@"):
            start = int(line.split()[1].split(",")[0].lstrip("-"))
            length = int(line.split()[1].split(",")[1]) if "," in line.split()[1] else 1
            start = start - 1 if length else start
            out += a[position:start]
            position = start
        elif line.startswith((" ", "-")):
            position += 1
            if line.startswith(" "):
                out.append(line[1:])
        elif line.startswith("+"):
            out.append(line[1:])
    return out + a[position:]


def edited(rng: random.Random, lines: list[str], edits: int) -> list[str]:
    result = list(lines)
    for _ in range(edits):
        where = rng.randrange(len(result) + 1)
        choice = rng.random()
        if choice < 0.3 and result:
            del result[min(where, len(result) - 1)]
        elif choice < 0.6:
            result.insert(where, f"new {rng.randrange(10)}")
        elif result:
            result[min(where, len(result) - 1)] = f"changed {rng.randrange(10)}"
    return result


@pytest.mark.parametrize("seed", range(40))
def test_ordinary_files_get_exactly_difflibs_diff(seed):
    rng = random.Random(seed)
    a = [f"line {rng.randrange(15)}" for _ in range(rng.randrange(80))]
    b = edited(rng, a, rng.randrange(10))
    assert unified_diff(a, b, "x", "y") == list(difflib.unified_diff(a, b, "x", "y", lineterm=""))
    assert patched(a, unified_diff(a, b, "x", "y")) == b


@pytest.mark.parametrize("shape", ["scattered edits", "repeated lines", "reversed", "no line in common"])
def test_large_files_get_a_correct_diff_quickly(shape):
    rng = random.Random(7)
    n = 20_000
    a = [f"row {number} {rng.random()}" if number % 4 else "}" for number in range(n)]
    b = {
        "scattered edits": edited(rng, a, 300),
        "repeated lines": ["}", "{"] * (n // 2),
        "reversed": a[::-1],
        "no line in common": [f"other {number}" for number in range(n)],
    }[shape]
    diff = unified_diff(a, b, "a", "b")  # difflib takes minutes on some of these; this is linear-ish
    assert patched(a, diff) == b and diff[:2] == ["--- a", "+++ b"]


def test_the_tool_keeps_its_result_for_a_normal_edit():
    box = create_sandbox("filesystem")
    box.execute("echo", {"content": "a\nb\nc\n", "file_name": "/one.txt"})
    box.execute("echo", {"content": "a\nB\nc\n", "file_name": "/two.txt"})
    result = box.execute("diff", {"file_name1": "/one.txt", "file_name2": "/two.txt"}).result
    assert result.diff_lines == ["--- /one.txt", "+++ /two.txt", "@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]
