"""Exports read the way trainers read them: LLaMA-Factory's ShareGPT rules, published chat templates, Arrow, and
`datasets` at the oldest version we claim (3.6, in a throwaway virtual environment, under -m heavy)."""

import json
import re
import subprocess
import venv

import pyarrow
import pyarrow.json
import pytest
from jinja2.exceptions import TemplateError

from synthesizer.dialogue import Dialogue
from synthesizer.export import ExportOptions, export_samples
from synthesizer.samples import Sample
from tests.conftest import FUNREASON
from tests.synthesizer.chat_templates import TEMPLATES, render
from tests.synthesizer.test_export import _call, _provenance, _result, _tool, all_samples


def written(tmp_path, fmt, samples=None, **options):
    out = tmp_path / f"{fmt}.jsonl"
    export_samples(all_samples() if samples is None else samples, fmt, out, ExportOptions(**options))
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def reasoning_blocks(samples):
    return [
        message["reasoning"].strip()
        for sample in samples
        for message in sample.messages
        if message.get("role") == "assistant" and (message.get("reasoning") or "").strip()
    ]


def calls_of(record):
    """(name, arguments) of every tool call in an openai/funreason record, in order."""
    found = []
    for message in record["messages"]:
        for call in message.get("tool_calls") or []:
            arguments = call["function"]["arguments"]
            found.append((call["function"]["name"], json.loads(arguments) if isinstance(arguments, str) else arguments))
    return found


# --- LLaMA-Factory's sharegpt rules, re-implemented from its data README and converter -------------------------

THOUGHT_WORDS = [("<think>\n", "\n</think>\n\n"), ("<think>", "</think>")]


def llamafactory_sharegpt(record, thought_words):
    """What LLaMA-Factory's sharegpt converter and function formatter make of a record, or an AssertionError.

    Rules: an optional leading `system` turn; human/observation at odd positions (1-based), gpt/function_call at
    even ones; an even number of turns; a function_call holds, after an optional thought, a JSON object with
    `name` and `arguments` or a list of them (parallel calls); `tools` is a JSON list.
    """
    messages = record["conversations"]
    if messages and messages[0]["from"] == "system":
        messages = messages[1:]
    accepted = (("human", "observation"), ("gpt", "function_call"))
    for position, message in enumerate(messages):
        assert message["from"] in accepted[position % 2], f"invalid role tag at {position}: {message['from']}"
    assert len(messages) % 2 == 0, "invalid message count"
    assert isinstance(json.loads(record["tools"] or "[]"), list)
    thought = re.compile(f"{re.escape(thought_words[0])}(.*?){re.escape(thought_words[1])}", re.DOTALL)
    aligned = []
    for message in messages:
        content, thoughts = message["value"], thought.findall(message["value"])
        if message["from"] in ("gpt", "function_call") and thoughts:
            content = content.replace(thought.search(content).group(0), "")
        calls = None
        if message["from"] == "function_call":
            calls = json.loads(content)
            calls = calls if isinstance(calls, list) else [calls]
            assert all(set(call) == {"name", "arguments"} for call in calls)
        aligned.append({"role": message["from"], "content": content, "thought": thoughts, "calls": calls})
    return aligned


@pytest.mark.parametrize("thought_words", THOUGHT_WORDS, ids=["newline-thought-words", "bare-thought-words"])
@pytest.mark.parametrize(
    "options", [{}, {"split_turns": True}, {"parallel_calls": False}], ids=["whole", "split", "one-call-each"]
)
def test_sharegpt_follows_llamafactory_rules_and_keeps_every_reasoning_block(tmp_path, options, thought_words):
    records = written(tmp_path, "sharegpt", **options)
    thoughts = []
    for record in records:
        aligned = llamafactory_sharegpt(record, thought_words)
        thoughts += [text.strip() for message in aligned for text in message["thought"]]
    expected = reasoning_blocks(all_samples())
    if options.get("split_turns"):  # each part keeps its own reasoning only: every block exactly once overall
        assert sorted(thoughts) == sorted(expected)
    else:
        assert thoughts == expected


def test_sharegpt_parallel_calls_are_one_function_call_list_and_one_observation_list(tmp_path):
    record = next(r for r in written(tmp_path, "sharegpt") if r["metadata"]["sample_id"] == "s-plain")
    aligned = llamafactory_sharegpt(record, THOUGHT_WORDS[0])
    assert aligned[1]["calls"] == [
        {"name": "ls", "arguments": {"path": "documents"}},
        {"name": "cat", "arguments": {"file_path": "notes.txt"}},
    ]
    assert json.loads(aligned[2]["content"])[1] == "Meeting with design team on Monday\nBuy milk\n"
    sequential = next(
        r for r in written(tmp_path, "sharegpt", parallel_calls=False) if r["metadata"]["sample_id"] == "s-plain"
    )
    roles = [message["role"] for message in llamafactory_sharegpt(sequential, THOUGHT_WORDS[0])]
    assert roles[:5] == ["human", "function_call", "observation", "function_call", "observation"]


# --- published chat templates ------------------------------------------------------------------------------------


def rendered_calls(text, template):
    """The calls a model trained on `text` learns to write, parsed back as a serving stack parses them."""
    if template == "llama3.1":
        pattern = r'<\|start_header_id\|>assistant<\|end_header_id\|>\n\n(\{"name": .*?)<\|eot_id\|>'
        return [(call["name"], call["parameters"]) for call in map(json.loads, re.findall(pattern, text, re.S))]
    blocks = re.findall(r"<tool_call>\n(.*?)\n</tool_call>", text, re.S)
    calls = [json.loads(block) for block in blocks if "<function-name>" not in block]  # not the format example
    return [(call["name"], call["arguments"]) for call in calls]


@pytest.mark.parametrize(
    ("template", "options"),
    [
        ("qwen2.5", {}),
        ("qwen3", {}),
        ("qwen3", {"arguments": "string"}),
        ("llama3.1", {"parallel_calls": False}),
    ],
    ids=["qwen2.5", "qwen3", "qwen3-string-arguments", "llama3.1-one-call-each"],
)
@pytest.mark.parametrize("fmt", ["openai", "funreason"])
def test_every_call_renders_and_parses_back(tmp_path, template, options, fmt):
    records = written(tmp_path, fmt, **options)
    for record in records:
        text = render(TEMPLATES[template], record["messages"], record["tools"])
        assert rendered_calls(text, template) == calls_of(record)
        spoken = [m["content"].split("</think>")[-1].strip() for m in record["messages"] if m["role"] != "tool"]
        assert all(content in text for content in spoken)
    assert sum(len(calls_of(record)) for record in records) == sum(sample.n_calls for sample in all_samples())


def test_llama31_takes_parallel_calls_only_one_per_message(tmp_path):
    record = written(tmp_path, "openai")[0]
    with pytest.raises(TemplateError, match="single tool-calls"):
        render(TEMPLATES["llama3.1"], record["messages"], record["tools"])


def test_string_arguments_are_quoted_twice_by_templates_that_tojson_them(tmp_path):
    """Why the README sends Qwen2.5 and Llama-3.1 users to dict arguments."""
    record = written(tmp_path, "openai", arguments="string")[0]
    (name, arguments), *_ = rendered_calls(render(TEMPLATES["qwen2.5"], record["messages"], record["tools"]), "qwen2.5")
    assert name == "ls" and arguments == '{"path": "documents"}'


def test_qwen3_keeps_every_reasoning_block_only_with_split_turns(tmp_path):
    """Qwen3's template drops reasoning before the last user message; one record per user message keeps all."""
    expected = reasoning_blocks(all_samples())

    def surviving(records):
        found = []
        for record in records:
            text = render(TEMPLATES["qwen3"], record["messages"], record["tools"])
            found += [block for block in set(expected) if f"<think>\n{block}\n</think>" in text]
        return found

    whole = surviving(written(tmp_path, "funreason"))
    assert len(whole) < len(set(expected))  # the problem --split-turns solves
    assert sorted(surviving(written(tmp_path, "funreason", split_turns=True))) == sorted(set(expected))


def test_split_turns_parts_end_with_their_answer_and_say_where_they_are(tmp_path):
    records = written(tmp_path, "openai", split_turns=True)
    plain = [record for record in records if record["metadata"]["sample_id"] == "s-plain"]
    assert [(record["metadata"]["part"], record["metadata"]["parts"]) for record in plain] == [(0, 2), (1, 2)]
    assert plain[0]["messages"][-1]["content"].startswith("Documents holds two reports")
    assert plain[1]["messages"][:6] == plain[0]["messages"]
    tool = [record for record in records if record["metadata"]["sample_id"] == "s-tool"]
    assert [record["messages"][-1]["role"] for record in tool] == ["assistant"] * len(tool)
    opening = tool[-1]["messages"][len(tool[-2]["messages"])]
    assert opening["role"] == "system" and "A new tool" in opening["content"]  # it opens the "go ahead" part


# --- Arrow ---------------------------------------------------------------------------------------------------------

SET_UNITS = _tool("set_display_units", "Set units.", {"temperature": {"type": "string"}}, ["temperature"])
SET_CABIN = _tool("set_cabin_temperature", "Set the cabin.", {"temperature": {"type": "number"}}, ["temperature"])


def mixed_argument_types_sample():
    """One argument name, a string in one call and a number in another: what Arrow cannot put in one column."""
    messages = [
        {"role": "user", "content": "Show celsius and warm the cabin to 19.5."},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "Two independent settings.",
            "tool_calls": [
                _call("call_0_0", "set_display_units", temperature="celsius"),
                _call("call_0_1", "set_cabin_temperature", temperature=19.5),
            ],
        },
        _result("call_0_0", "set_display_units", '{"temperature": "celsius"}'),
        _result("call_0_1", "set_cabin_temperature", '{"temperature": 19.5}'),
        {"role": "assistant", "content": "Done: celsius, 19.5 degrees.", "reasoning": "Report."},
    ]
    calls = [
        {"tool": "set_display_units", "arguments": {"temperature": "celsius"}, "result": {}},
        {"tool": "set_cabin_temperature", "arguments": {"temperature": 19.5}, "result": {}},
    ]
    turns = [{"query": messages[0]["content"], "calls": calls, "variant": "plain", "target": "set_cabin_temperature"}]
    return Sample(
        **_provenance("s-mixed", "vehicle"),
        dialogue=Dialogue.stored(messages, turns),
        tools=[SET_UNITS, SET_CABIN],
        initial_state={"vehicle": {}},
    )


@pytest.mark.parametrize("fmt", ["openai", "funreason"])
def test_arrow_reads_string_arguments_and_refuses_mixed_dict_arguments(tmp_path, fmt):
    samples = [*all_samples(), mixed_argument_types_sample()]
    export_samples(samples, fmt, tmp_path / "strings.jsonl", ExportOptions(arguments="string"))
    table = pyarrow.json.read_json(tmp_path / "strings.jsonl")
    assert table.num_rows == len(samples)
    export_samples(samples, fmt, tmp_path / "dicts.jsonl")
    with pytest.raises(pyarrow.ArrowInvalid, match="changed from (number to string|string to number)"):
        pyarrow.json.read_json(tmp_path / "dicts.jsonl")


# --- datasets at the oldest version we claim ----------------------------------------------------------------------

DATASETS_OLDEST = "3.6.0"
LOAD_AND_COMPARE = """
import datetime, json, sys
import datasets
datasets.disable_progress_bars()

def plain(value):  # Arrow pads missing struct fields with nulls and reads ISO dates and times as datetimes
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.datetime.fromisoformat(value).isoformat()
        except ValueError:
            return value
    return value

verdicts = {}
for path in sys.argv[2:]:
    try:
        rows = list(datasets.load_dataset("json", data_files=path, split="train", cache_dir=sys.argv[1]))
    except Exception as error:
        verdicts[path] = f"{type(error).__name__}: {error.__cause__ or error}"[:300]
        continue
    expected = [json.loads(line) for line in open(path, encoding="utf-8")]
    verdicts[path] = "same" if plain(rows) == plain(expected) else "different"
print(json.dumps({"version": datasets.__version__, "verdicts": verdicts}))
"""


@pytest.mark.heavy
def test_every_format_of_a_real_run_loads_with_the_oldest_datasets(tmp_path_factory):
    """openai and funreason need --arguments string (3.6 refuses mixed argument types); the rest load as written."""
    root = tmp_path_factory.mktemp("datasets36")
    venv.create(root / "venv", with_pip=True)
    python = str(root / "venv" / "bin" / "python")
    install = [python, "-m", "pip", "install", "--quiet", f"datasets=={DATASETS_OLDEST}"]
    subprocess.run(install, check=True, capture_output=True, timeout=600)
    run = [FUNREASON, "run", "--trajectories", "8", "--out", str(root / "run")]
    subprocess.run(run, check=True, capture_output=True, timeout=600)
    mixed = [*all_samples(), mixed_argument_types_sample()]
    export_samples(mixed, "openai", root / "mixed-string.jsonl", ExportOptions(arguments="string"))
    export_samples(mixed, "openai", root / "mixed-dict.jsonl")
    files = [str(root / "mixed-string.jsonl"), str(root / "mixed-dict.jsonl")]
    for fmt in ("openai", "funreason", "sharegpt", "bfcl"):
        for arguments in ("string", "dict"):
            out = root / f"{fmt}-{arguments}.jsonl"
            export = ["export", "--db", str(root / "run" / "store.db"), "--format", fmt, "--out", str(out)]
            subprocess.run([FUNREASON, *export, "--arguments", arguments], check=True, capture_output=True)
            files.append(str(out))
    check = [python, "-c", LOAD_AND_COMPARE, str(root / "cache"), *files]
    report = json.loads(subprocess.run(check, check=True, capture_output=True, text=True, timeout=600).stdout)
    assert report["version"] == DATASETS_OLDEST
    verdicts = {path.rsplit("/", 1)[-1]: verdict for path, verdict in report["verdicts"].items()}
    strict = ("openai-string", "funreason-string", "sharegpt-string", "sharegpt-dict", "bfcl-string", "bfcl-dict")
    for name in (*strict, "mixed-string"):
        assert verdicts[f"{name}.jsonl"] == "same", verdicts
    # the failure the string form exists for (as the vehicle environment's `temperature`: a number and a string)
    assert re.search("changed from (number to string|string to number)", verdicts["mixed-dict.jsonl"]), verdicts
