"""Filters on what a user is made to say: no tool internals in a request, no near-duplicate requests.

A request that names a tool, writes snake_case, pastes a tool description or reads
"parameter name: value" teaches a model to expect users who talk like an API; the
synthesizer rejects it with the reason.  Near-duplicate requests (found with MinHash LSH)
are dropped after a run, keeping the first by sample id, so the result does not depend on
the order in which workers finished.  The rules themselves live in `synthesizer.query_text`,
which `funreason quality` measures by too.
"""

from collections.abc import Iterable
from typing import Any

from simulator import ToolInfo
from synthesizer.query_text import NEAR_DUPLICATE, ToolText, near_duplicates, shingles, tool_text_in

__all__ = ["NearDuplicates", "query_problems"]

_PROBLEMS = {
    "tool name": "names the tool {}",
    "description sentence": "pastes the description of {}",
    "name: value": "reads like a form ('{}: ...')",
    "snake_case": "contains the identifier {}",
}


def query_problems(query: str, tools: Iterable[ToolInfo], values: Iterable[object] = ()) -> list[str]:
    """What is wrong with a user's request, one reason per problem (empty when nothing is).

    `values` are the turn's argument values: an identifier among them (a file name like
    `draft_v2.md`, a handle like `chef_marco`) is the user's own word, not an API's.  A
    description counts as pasted only for tools that declare requests of their own: one that
    declares none can only be asked for in words close to its description.
    """
    tools = list(tools)
    asking = {tool.name for tool in tools if (tool.hints or {}).get("asks")}
    text = ToolText.of((tool.name, tool.description, tool.parameters) for tool in tools)
    said = " ".join(str(value).lower() for value in values)
    found = tool_text_in(" ".join(query.lower().split()), text, said)
    problems = [
        _PROBLEMS[kind].format(what) for kind, _, what in found if kind != "description sentence" or what in asking
    ]
    return list(dict.fromkeys(problems))


class NearDuplicates:
    """Remembers texts and tells whether a new one is a near-duplicate of one remembered."""

    def __init__(self, permutations: int = 64) -> None:
        from datasketch import MinHashLSH  # imported here: it costs every command seconds of start-up otherwise

        self.permutations = permutations
        # weighted for recall: a proposed pair is checked exactly, a missed one stays in the data
        self._lsh = MinHashLSH(threshold=NEAR_DUPLICATE, num_perm=permutations, weights=(0.1, 0.9))
        self._texts: set[str] = set()  # the texts only: a proposed pair's shingles are made again (a 17k run
        # says 60,000 requests, and their shingle sets took 280 MB more than the texts)

    def match(self, text: str) -> str | None:
        """The remembered text this one nearly duplicates (checked exactly, not only by MinHash), or None."""
        mine = shingles(text)
        for key in sorted(self._lsh.query(self._minhash(mine))):  # a set: in hash order otherwise
            if near_duplicates(mine, shingles(key)):
                return key
        return None

    def add(self, text: str) -> None:
        if text not in self._texts:
            self._texts.add(text)
            self._lsh.insert(text, self._minhash(shingles(text)))

    def _minhash(self, words: set[str]) -> Any:
        from datasketch import MinHash

        minhash = MinHash(num_perm=self.permutations, seed=1)
        for shingle in sorted(words):
            minhash.update(shingle.encode())
        return minhash
