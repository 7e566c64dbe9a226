"""Filters on what a user is made to say: no tool internals in a request, no near-duplicate requests.

A request that names a tool, writes snake_case, pastes a tool description or reads
"parameter name: value" teaches a model to expect users who talk like an API; the
synthesizer rejects it with the reason.  Near-duplicate requests (Jaccard >= 0.8 on
word 3-shingles, found with MinHash LSH) are dropped after a run, keeping the first by
sample id, so the result does not depend on the order in which workers finished.
"""

import re
from collections.abc import Iterable
from typing import Any

from simulator import ToolInfo

__all__ = ["NearDuplicates", "query_problems", "shingles"]

_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_THRESHOLD = 0.8


def query_problems(query: str, tools: Iterable[ToolInfo], values: Iterable[object] = ()) -> list[str]:
    """What is wrong with a user's request, one reason per problem (empty when nothing is).

    `values` are the turn's argument values: an identifier among them (a file name like
    `draft_v2.md`, a handle like `chef_marco`) is the user's own word, not an API's.  A
    description counts as pasted only for tools that declare requests of their own: one that
    declares none can only be asked for in words close to its description.
    """
    problems = []
    lowered = query.lower()
    said = " ".join(str(value).lower() for value in values)
    for tool in tools:
        if "_" in tool.name and re.search(rf"\b{re.escape(tool.name.lower())}\b", lowered):
            problems.append(f"names the tool {tool.name}")
        first = re.split(r"(?<=[.!?])\s", tool.description.strip().split("\n")[0])[0].rstrip(".!? ").lower()
        if (tool.hints or {}).get("asks") and len(first.split()) >= 3 and first in lowered:
            problems.append(f"pastes the description of {tool.name}")
        for parameter in tool.parameters:
            words = parameter.replace("_", " ").lower()
            if re.search(rf"\b{re.escape(words)}\s*:\s*\S", lowered):
                problems.append(f"reads like a form ('{words}: ...')")
    for snake in _SNAKE.finditer(query):
        if snake.group().lower() not in said:
            problems.append(f"contains the identifier {snake.group()}")
    return list(dict.fromkeys(problems))


def shingles(text: str) -> set[str]:
    """Word 3-shingles of a text (the whole text for one of fewer than three words)."""
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)} or {" ".join(words)}


class NearDuplicates:
    """Remembers texts and tells whether a new one is a near-duplicate of one remembered."""

    def __init__(self, threshold: float = _THRESHOLD, permutations: int = 64) -> None:
        from datasketch import MinHashLSH  # imported here: it costs every command seconds of start-up otherwise

        self.threshold = threshold
        self.permutations = permutations
        # weighted for recall: a proposed pair is checked exactly, a missed one stays in the data
        self._lsh = MinHashLSH(threshold=threshold, num_perm=permutations, weights=(0.1, 0.9))
        self._shingles: dict[str, set[str]] = {}

    def match(self, text: str) -> str | None:
        """The remembered text this one nearly duplicates (checked exactly, not only by MinHash), or None."""
        mine = shingles(text)
        for key in self._lsh.query(self._minhash(mine)):
            theirs = self._shingles[key]
            if len(mine & theirs) / len(mine | theirs) >= self.threshold:
                return key
        return None

    def add(self, text: str) -> None:
        if text not in self._shingles:
            self._shingles[text] = shingles(text)
            self._lsh.insert(text, self._minhash(self._shingles[text]))

    def _minhash(self, words: set[str]) -> Any:
        from datasketch import MinHash

        minhash = MinHash(num_perm=self.permutations, seed=1)
        for shingle in sorted(words):
            minhash.update(shingle.encode())
        return minhash
