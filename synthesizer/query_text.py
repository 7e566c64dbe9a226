"""What a user's request must not hold, and when two requests are one: the rules the synthesizer filters by
(`synthesizer.filters`) and `funreason quality` measures by, in one place.

* **Tool text** in a request: a tool's name where it is an identifier (snake_case, camelCase), the first
  sentence of its description (three words or more), snake_case words that are none of the turn's own
  values, and "name: value" where the name is a parameter's (`dir_name`, or `dir name` in words).
* **Near-duplicates**: two requests whose word 3-shingles have a Jaccard similarity of `NEAR_DUPLICATE`
  or more.
* A value **appears** in a text when it occurs there, not inside a longer word or number.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

__all__ = ["NEAR_DUPLICATE", "ToolText", "appears", "first_sentence", "near_duplicates", "shingles", "tool_text_in"]

NEAR_DUPLICATE = 0.8
"""The Jaccard similarity of word 3-shingles from which two requests are one."""

_SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_NAME_VALUE = re.compile(r"([a-z][a-z0-9_]*(?: [a-z][a-z0-9_]*){0,3})\s*:\s*\S")
_MORE_DIGITS = re.compile(r"\.0*[1-9]")  # 0 is not in 0.001, but 50 is in 50.0


@dataclass(frozen=True)
class ToolText:
    """What of a set of tools a request must not repeat, worked out once per set."""

    identifiers: tuple[tuple[str, str], ...]
    """(lowercased name, name) of the tools whose names are identifiers (snake_case, camelCase)."""
    sentences: tuple[tuple[str, str], ...]
    """(first sentence, tool name) of every description with one (`first_sentence`)."""
    parameters: frozenset[str]
    """Parameter names as a request might spell them: `dir_name` and `dir name`, lowercased."""

    @classmethod
    def of(cls, tools: Iterable[tuple[str, str, Iterable[str]]]) -> "ToolText":
        """From (name, description, parameter names) per tool."""
        identifiers, sentences, parameters = [], [], set()
        for name, description, names in tools:
            if "_" in name or name != name.lower():
                identifiers.append((name.lower(), name))
            if sentence := first_sentence(description):
                sentences.append((sentence, name))
            parameters.update(words for parameter in names for words in (parameter.lower(), _words(parameter)))
        return cls(tuple(identifiers), tuple(sentences), frozenset(parameters))


def tool_text_in(query: str, tools: ToolText, said: str = "") -> list[tuple[str, str, str]]:
    """What of the tools' own text a request holds, as (kind, the text, what it is: tool, identifier or words).

    `query` is lowercased with its whitespace collapsed; `said` holds the turn's own values (lowercased):
    a snake_case word among them (a file name like `draft_v2.md`) is the user's word, not an API's.
    """
    found = [("description sentence", sentence, tool) for sentence, tool in tools.sentences if sentence in query]
    found += [("tool name", lowered, name) for lowered, name in tools.identifiers if appears(query, lowered)]
    for match in _SNAKE_CASE.finditer(query) if "_" in query else ():
        if match.group(0) not in said:
            found.append(("snake_case", match.group(0), match.group(0)))
    for match in _NAME_VALUE.finditer(query) if ":" in query else ():
        words = match.group(1).split()
        named = [" ".join(words[-size:]) for size in range(min(4, len(words)), 0, -1)]
        parameter = next((name for name in named if name in tools.parameters), None)
        if parameter is not None:
            found.append(("name: value", match.group(0), parameter.replace("_", " ")))
    return found


def appears(text: str, value: str) -> bool:
    """`value` (lowercased) occurs in `text` (lowercased), not inside a longer word or number (0 is not in 0.001,
    3.14 is not in -3.14; 20 is in 10-20)."""
    start = text.find(value)
    while start != -1:
        end = start + len(value)
        before = text[max(start - 2, 0) : start].rjust(2)
        after = text[end : end + 2].ljust(2)
        joined_before = value[0].isalnum() and (
            before[1].isalnum()
            or (value[0].isdigit() and before == f"{before[0]}." and before[0].isdigit())
            or (value[0].isdigit() and before[1] == "-" and not before[0].isalnum())  # -3.14 is not 3.14
        )
        joined_after = value[-1].isalnum() and (
            after[0].isalnum() or (value[-1].isdigit() and bool(_MORE_DIGITS.match(text, end)))
        )
        if not joined_before and not joined_after:
            return True
        start = text.find(value, start + 1)
    return False


@cache
def first_sentence(description: str) -> str:
    """A description's first sentence, lowercased, without its full stop; empty when under three words."""
    sentence = re.split(r"(?<=[.!?])\s", description.strip(), maxsplit=1)[0].rstrip(".!? ").lower()
    sentence = " ".join(sentence.split())
    return sentence if len(sentence.split()) >= 3 else ""


def shingles(text: str) -> set[str]:
    """Word 3-shingles of a text, lowercased (the whole text for one of fewer than three words)."""
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)} or {" ".join(words)}


def near_duplicates(one: set[str], other: set[str]) -> bool:
    """Whether two requests' shingles (`shingles`) make them near-duplicates."""
    return len(one & other) / len(one | other) >= NEAR_DUPLICATE


def _words(parameter: str) -> str:
    return parameter.lower().replace("_", " ")
