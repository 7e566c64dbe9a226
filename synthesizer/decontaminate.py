"""Decontamination against BFCL: drop samples whose user messages share word n-grams with BFCL's test questions.

Data made in BFCL's own classes can leak BFCL's questions.  The rule, as the GPT-3 and Llama
reports decontaminate: normalise text (lowercase; every run of characters that are not letters
or digits becomes one space), split into words, and compare word n-grams.  A sample is
contaminated when any of its user messages shares a 13-gram, or an 8-gram, with any user
question of BFCL's multi-turn categories (base, miss_func, miss_param, long_context, as the
installed `bfcl-eval` ships them).  The 8-gram test is the stricter one (every shared 13-gram
contains shared 8-grams), so it decides what is dropped; both counts are reported.
"""

import functools
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servers.bfcl import bfcl_entries
from synthesizer.errors import ExportError
from synthesizer.jsonl import json_objects
from synthesizer.samples import SampleStore

__all__ = [
    "BFCL_CATEGORIES",
    "Overlap",
    "decontaminate_file",
    "decontaminate_store",
    "find_overlap",
    "normalise",
    "record_in_dataset_info",
    "user_texts",
]

BFCL_CATEGORIES = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")
"""The BFCL categories whose questions are checked against."""

_LONG, _SHORT = 13, 8
_REASON = "decontamination:"
_NOT_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Overlap:
    """What a contaminated text shares with BFCL: the longest n checked (13 or 8), the n-gram and the entry."""

    n: int
    ngram: str
    entry: str


def normalise(text: str) -> list[str]:
    """Lowercase words, punctuation and symbols dropped: "Move 'a.pdf' to temp!" -> [move, a, pdf, to, temp]."""
    return _NOT_WORD.sub(" ", text.lower()).split()


def find_overlap(texts: Iterable[str]) -> Overlap | None:
    """The first n-gram (13-grams first, then 8-grams) that `texts` share with a BFCL question, or None."""
    index = _index()
    words = [normalise(text) for text in texts]  # read once: a generator of texts gives them only once
    grams = [_ngrams(each, _LONG) for each in words], [_ngrams(each, _SHORT) for each in words]
    for n, found in zip((_LONG, _SHORT), grams, strict=True):
        for gram in sorted(set().union(*found)):
            if gram in index[n]:
                return Overlap(n, " ".join(gram), index[n][gram])
    return None


def user_texts(record: dict[str, Any]) -> list[str]:
    """The user messages of an exported record: OpenAI/FunReason `messages`, ShareGPT `conversations`, or a
    BFCL entry's `question` (a list of turns of messages)."""
    if isinstance(record.get("messages"), list):
        messages = record["messages"]
    elif isinstance(record.get("conversations"), list):
        messages = [
            {"role": "user", "content": turn.get("value")}
            for turn in record["conversations"]
            if turn.get("from") == "human"
        ]
    elif isinstance(record.get("question"), list):
        messages = [message for turn in record["question"] for message in (turn if isinstance(turn, list) else [turn])]
    else:
        messages = []
    return [
        str(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user" and m.get("content")
    ]


def decontaminate_store(samples: SampleStore) -> dict[str, Any]:
    """Turn every contaminated sample of the store into a reject naming the n-gram and the BFCL entry.

    Counts cover the store, so a resumed run reports the samples an earlier pass dropped too."""
    for sample in list(samples.iter_samples()):
        overlap = find_overlap(m["content"] for m in sample.messages if m.get("role") == "user" and m.get("content"))
        if overlap is not None:
            reason = f"{_REASON} shares the {overlap.n}-gram {overlap.ngram!r} with BFCL {overlap.entry}"
            samples.reject_sample(sample.id, reason)
    counts = _counts()
    for reject in samples.iter_rejects():
        if reject.reason.startswith(_REASON):
            _count(counts, Overlap(int(reject.reason.split("-gram")[0].rsplit(" ", 1)[-1]), "", ""))
    counts["checked"] = counts["dropped"] + sum(1 for _ in samples.iter_samples())
    return counts


def decontaminate_file(path: Path, out: Path) -> dict[str, Any]:
    """Write the records of the JSONL file `path` that share no n-gram with BFCL to `out`; counts."""
    counts = _counts()
    kept = []
    for number, record in json_objects(path, ExportError):
        counts["checked"] += 1
        overlap = find_overlap(user_texts(record))
        if overlap is None:
            kept.append(record)
        else:
            _count(counts, overlap)
            counts.setdefault("dropped_lines", []).append(number)
    try:
        out.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in kept), encoding="utf-8")
    except OSError as error:
        raise ExportError(f"{out}: cannot write: {error.strerror}") from error
    return counts


def record_in_dataset_info(path: Path, counts: dict[str, Any]) -> None:
    """Put the counts into every entry of LLaMA-Factory's `dataset_info.json` at `path` (key `decontamination`)."""
    if not path.is_file():
        return
    info = json.loads(path.read_text(encoding="utf-8"))
    for entry in info.values():
        if isinstance(entry, dict):
            entry["decontamination"] = counts
    path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _counts() -> dict[str, Any]:
    return {
        "against": list(BFCL_CATEGORIES),
        "questions": _index()["questions"],
        "rule": "word n-grams of lowercased text without punctuation; dropped when sharing an 8-gram (or a 13-gram)",
        "checked": 0,
        "dropped": 0,
        "shared_13gram": 0,
        "shared_8gram_only": 0,
    }


def _count(counts: dict[str, Any], overlap: Overlap) -> None:
    counts["dropped"] += 1
    counts["shared_13gram" if overlap.n == _LONG else "shared_8gram_only"] += 1


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@functools.cache
def _index() -> dict[Any, Any]:
    """Every 13-gram and 8-gram of BFCL's multi-turn user questions -> the first entry that has it."""
    index: dict[Any, Any] = {_LONG: {}, _SHORT: {}}
    questions = set()
    for category in BFCL_CATEGORIES:
        for entry in bfcl_entries(category):
            for text in user_texts({"question": entry["question"]}):
                questions.add(text)
                words = normalise(text)
                for n in (_LONG, _SHORT):
                    for gram in _ngrams(words, n):
                        index[n].setdefault(gram, entry["id"])
    index["questions"] = len(questions)
    return index
