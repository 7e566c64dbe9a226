"""Decontamination against BFCL's multi-turn questions: normalised word 13-grams and 8-grams."""

import importlib.util
import json

import pytest

from synthesizer.decontaminate import decontaminate_file, find_overlap, normalise, user_texts
from tests.conftest import funreason

pytestmark = pytest.mark.skipif(importlib.util.find_spec("bfcl_eval") is None, reason="bfcl-eval is not installed")

BFCL_QUESTION = (
    "Move 'final_report.pdf' within document directory to 'temp' directory in document. "
    "Make sure to create the directory"
)


def test_normalising_lowercases_and_drops_punctuation():
    assert normalise("Move 'final_report.pdf' to TEMP!") == ["move", "final", "report", "pdf", "to", "temp"]


def test_a_copied_question_shares_a_13_gram_and_a_reworded_one_only_an_8_gram():
    copied = find_overlap([f"Hi there. {BFCL_QUESTION.upper()}, thanks!"])
    assert copied is not None and copied.n == 13 and copied.entry == "multi_turn_base_0"
    eight = find_overlap(["Please move final_report.pdf within document directory to temp now"])
    assert eight is not None and eight.n == 8 and len(eight.ngram.split()) == 8
    assert eight.ngram in " ".join(normalise(BFCL_QUESTION))
    assert find_overlap(["Make a new folder called drafts.", "What's 3 plus 4?"]) is None
    # a run checks its store's messages as a generator: the 8-grams are looked for too, not only the 13-grams
    reworded = (text for text in ["Please move final_report.pdf within document directory to temp now"])
    assert find_overlap(reworded) == eight


def test_user_messages_of_every_export_format_are_read():
    messages = {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "a"}]}
    sharegpt = {"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]}
    bfcl = {"question": [[{"role": "user", "content": "a"}], []]}
    assert user_texts(messages) == user_texts(sharegpt) == user_texts(bfcl) == ["a"]


def test_the_command_writes_the_clean_records_and_prints_the_counts(tmp_path):
    path = tmp_path / "openai.jsonl"
    records = [
        {"messages": [{"role": "user", "content": BFCL_QUESTION}]},
        {"messages": [{"role": "user", "content": "Make a new folder called drafts."}]},
        {"conversations": [{"from": "human", "value": "move final_report.pdf within document directory to temp"}]},
    ]
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    outcome = funreason("decontaminate", str(path), "--against", "bfcl")
    assert outcome.returncode == 0, outcome.stderr
    assert (
        "3 records checked" in outcome.stderr and "2 dropped (1 sharing a 13-gram, 1 an 8-gram only)" in outcome.stderr
    )
    kept = (tmp_path / "openai.decontaminated.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in kept] == [records[1]]
    counts = decontaminate_file(path, tmp_path / "again.jsonl")
    assert (counts["checked"], counts["dropped"], counts["shared_13gram"]) == (3, 2, 1)


def test_a_file_that_is_no_jsonl_is_one_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("[1, 2]\n", encoding="utf-8")
    outcome = funreason("decontaminate", str(path))
    assert outcome.returncode == 1 and outcome.stderr.strip() == f"error: {path}:1: not a JSON object"
