"""Writing samples as training or evaluation files: OpenAI chat, ShareGPT, BFCL multi-turn, FunReason-MT."""

import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from servers import get_environment
from servers.errors import SandboxError
from synthesizer.dialogue import Variant
from synthesizer.errors import ExportError
from synthesizer.samples import Sample

__all__ = ["ARGUMENT_FORMS", "FORMATS", "ExportOptions", "export_samples"]

logger = logging.getLogger(__name__)

FORMATS = ("openai", "sharegpt", "bfcl", "funreason")
ARGUMENT_FORMS = ("dict", "string")
"""How `openai` and `funreason` write tool-call arguments: JSON objects, or JSON strings as OpenAI's API does."""

_DATASET_INFO = "dataset_info.json"
_SHAREGPT_EVEN = ("human", "observation")
_SHAREGPT_ODD = ("gpt", "function_call")
_BFCL_PREFIX = "bfcl:"


@dataclass(frozen=True)
class ExportOptions:
    """How records are shaped, beyond the format.

    `arguments`: "dict" (default) or "string".  String arguments are what OpenAI's API sends and
    what Arrow-strict loaders need (`datasets` 3.x refuses one argument that is a number in one
    call and a string in another); Qwen2.5's and Llama-3.1's chat templates want dicts (they
    `tojson` the arguments, so a string would be quoted twice).
    `split_turns`: one record per user message, earlier messages kept without their reasoning,
    for chat templates that drop reasoning before the last user message (Qwen3): every
    reasoning block is then in exactly one record where the template keeps it.
    `parallel_calls`: False writes an assistant message with several calls as one message per
    call, each followed by its result (Llama-3.1's template takes one call per message).
    """

    arguments: str = "dict"
    split_turns: bool = False
    parallel_calls: bool = True


def export_samples(samples: Iterable[Sample], fmt: str, out: Path, options: ExportOptions | None = None) -> int:
    """Stream `samples` to `out` as JSONL in format `fmt` and return how many records were written.

    Formats (every record carries `sample.provenance()` plus per-turn `turns` under "metadata"):

    * `openai`: `{"messages", "tools", "metadata"}` as TRL's SFTTrainer and axolotl read it; the
      chain of thought is dropped, mid-dialogue system messages (a tool becoming available) are kept.
      `tools` holds only the tools offered from the start: a withheld tool must not be visible
      before the system message that announces it.
    * `funreason`: the same, with each assistant content written as `<think>\\n…\\n</think>\\n\\n…`.
    * `sharegpt`: LLaMA-Factory's `{"conversations", "system", "tools", "metadata"}` with strict
      human/gpt alternation; reasoning as `<think>` blocks in gpt and function_call turns (the
      template's thought words); parallel calls as one function_call holding a JSON list and one
      observation holding the list of results; a tool announced mid-dialogue as an observation
      turn (the environment's update; LLaMA-Factory takes a system message only first).
      `dataset_info.json` next to `out` gets (or updates) the entry for it.
    * `bfcl`: BFCL multi-turn entries that BFCL's own checker loads: `multi_turn_<category>_<n>` ids,
      one turn per user message (a missing-parameter turn asks with no ground truth; the answer is
      the next turn), BFCL's holdout turn for a tool withheld until a system message announces it
      (`missed_function`), paths as `Class.method`, and for BFCL's classes their own class names and
      initial configs.  `metadata.steps` holds the dialogue's calls, one inner list per assistant
      message, in BFCL's decoded-result layout.

    The file is written to a temporary file in the same folder and renamed at the end, so a
    failure never leaves a half file nor replaces a good one. Raises `ExportError` for an unknown
    format or option, a folder that cannot be written, or a sample the format cannot express.
    """
    options = options or ExportOptions()
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if options.arguments not in ARGUMENT_FORMS:
        raise ExportError(f"unknown argument form {options.arguments!r}; choose one of {', '.join(ARGUMENT_FORMS)}")
    if fmt == "bfcl" and options.split_turns:
        raise ExportError("--split-turns is for training formats; a BFCL entry is a whole dialogue")
    convert = _CONVERTERS[fmt]
    out = Path(out)
    # read LLaMA-Factory's index first: a broken one must stop the export before anything is replaced
    dataset_info = _read_dataset_info(out.parent / _DATASET_INFO) if fmt == "sharegpt" else None
    encoded_tools: dict[int, tuple[list[dict[str, Any]], orjson.Fragment]] = {}
    with _atomic_writer(out) as write:
        count = 0
        for sample in samples:
            parts = _parts(sample) if options.split_turns else [(sample, None)]
            for part, position in parts:
                if not options.parallel_calls:
                    part = replace(part, dialogue=part.dialogue.map_messages(_one_call_per_message))
                record = convert(part, options, count)
                if record.get("tools") is part.tools:
                    record["tools"] = _encoded_once(encoded_tools, part.tools)
                record["metadata"] = _metadata(sample, position, len(parts)) | record.pop("metadata", {})
                write(_json_line(record, sample.id))
                count += 1
    if dataset_info is not None:
        _register_sharegpt(out, dataset_info)
    logger.info("wrote %d %s records to %s", count, fmt, out)
    return count


# --- formats ---------------------------------------------------------------------------------------------------


def _openai(sample: Sample, options: ExportOptions, number: int) -> dict[str, Any]:
    stringify = options.arguments == "string"
    return {"messages": _chat_messages(sample.messages, stringify, think=False), "tools": sample.tools}


def _funreason(sample: Sample, options: ExportOptions, number: int) -> dict[str, Any]:
    stringify = options.arguments == "string"
    return {"messages": _chat_messages(sample.messages, stringify, think=True), "tools": sample.tools}


def _sharegpt(sample: Sample, options: ExportOptions, number: int) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT; arguments are always objects here, as LLaMA-Factory's function formatter reads them.

    A system message after the dialogue began announces a tool: it becomes an observation turn, the
    environment's update, in place of the simulated user's "go ahead" that follows it (BFCL's holdout
    turn has no user words either).  Announced right before a turn's query, there is no slot for an
    observation; the update then goes ahead of the query in that human turn, the only place left.
    """
    system: list[str] = []
    update: list[str] = []  # system messages after the dialogue began, not yet placed
    conversations: list[dict[str, str]] = []
    requests = {id(turn.messages[0]) for turn in sample.dialogue.turns}
    for role, group in _grouped(sample.messages):
        if role == "system":
            (update if conversations else system).extend(_text(m.get("content")) for m in group)
        elif role == "user":
            for message in group:
                text = _text(message["content"])
                if update and id(message) not in requests:
                    conversations.append({"from": "observation", "value": "\n\n".join(update)})
                else:
                    conversations.append({"from": "human", "value": "\n\n".join([*update, text])})
                update = []
        elif role == "assistant":
            conversations.extend(_sharegpt_assistant(message) for message in group)
        elif role == "tool":
            results = [_text(m.get("content")) for m in group]
            value = results[0] if len(results) == 1 else json.dumps(results, ensure_ascii=False)
            conversations.append({"from": "observation", "value": value})
        else:
            raise ExportError(f"sample {sample.id}: unknown message role {role!r}")
    if update:
        raise ExportError(f"sample {sample.id}: a system message has no user message after it to be placed before")
    _check_alternation(sample.id, conversations)
    return {
        "conversations": conversations,
        "system": "\n\n".join(system),
        # orjson: the stdlib's dump of every sample's tool schemas was most of this format's time (LLaMA-Factory
        # parses the string, so its spacing is no part of what a model sees)
        "tools": orjson.dumps([tool["function"] for tool in sample.tools], option=orjson.OPT_NON_STR_KEYS).decode(),
    }


def _bfcl(sample: Sample, options: ExportOptions, number: int) -> dict[str, Any]:
    """A BFCL multi-turn entry, one BFCL turn per user message.

    A follow-up user message inside a turn (the answer to the assistant's question) opens a BFCL turn
    of its own, as in BFCL's miss_param entries: ground-truth calls the dialogue made before it stay
    in the asking turn (usually none), the rest move to the answer's turn.  A tool withheld until a
    system message announces it gets BFCL's holdout turn: an empty question (BFCL's runner asserts
    that and speaks for the user there), the tool in `missed_function`, and the ground-truth calls
    that come after the announcement; the simulated user's "go ahead" gives way to BFCL's own prompt.
    Announced between turns, the holdout turn is empty and the next query follows it.
    """
    turns: list[dict[str, Any]] = []  # BFCL turns: question, ground-truth calls, tools released, steps
    schemas = {
        tool["function"]["name"]: tool["function"].get("parameters") for tool in [*sample.tools, *sample.extra_tools]
    }
    made = 0  # ground-truth calls of the last BFCL turn the dialogue has made, in order (matched by tool name)
    announced: list[str] = []  # tools named by system messages since the last user message
    for turn in sample.dialogue.turns:
        for position, message in enumerate(turn.messages):
            role, content = message.get("role"), _text(message.get("content"))
            query = position == 0
            if role == "user":
                if turns and (announced or not query):
                    split = len(turns[-1]["calls"]) if query else made
                    later = turns[-1]["calls"][split:]
                    del turns[-1]["calls"][split:]
                    turns.append(_bfcl_turn([] if announced else [content], later, announced))
                    announced, made = [], 0
                if query:
                    turns.append(_bfcl_turn([content], list(turn.calls), []))
                    made = 0
            elif role == "assistant" and message.get("tool_calls"):
                step = []
                for call in message["tool_calls"]:
                    name, arguments = call["function"].get("name"), call["function"].get("arguments")
                    step.append(_call_string(name, _shared_defaults_written(schemas.get(name), arguments)))
                    calls = turns[-1]["calls"]
                    if made < len(calls) and name == calls[made]["tool"]:
                        made += 1
                turns[-1]["steps"].append(step)
            elif role == "system":
                released = {name for turn in turns for name in turn["missed"]} | set(announced)
                announced += [name for name in _announced(sample, content) if name not in released]
    classes = _bfcl_classes(sample)
    return {
        "id": f"multi_turn_{_bfcl_category(sample, turns)}_{number}",
        "question": [[{"role": "user", "content": text} for text in turn["question"]] for turn in turns],
        "initial_config": _bfcl_initial_config(sample),
        "involved_classes": list(classes.values()),
        "path": [_bfcl_path(classes, call["tool"]) for turn in sample.dialogue.turns for call in turn.calls],
        "ground_truth": [
            [
                _call_string(call["tool"], _shared_defaults_written(schemas.get(call["tool"]), call["arguments"]))
                for call in turn["calls"]
            ]
            for turn in turns
        ],
        "function": [tool["function"] for tool in [*sample.tools, *sample.extra_tools]],
        "missed_function": {str(i): turn["missed"] for i, turn in enumerate(turns) if turn["missed"]},
        "metadata": {"steps": [turn["steps"] for turn in turns]},
    }


_CONVERTERS: dict[str, Callable[[Sample, ExportOptions, int], dict[str, Any]]] = {
    "openai": _openai,
    "sharegpt": _sharegpt,
    "bfcl": _bfcl,
    "funreason": _funreason,
}


# --- helpers -----------------------------------------------------------------------------------------------------


def _metadata(sample: Sample, part: int | None, parts: int) -> dict[str, Any]:
    """Provenance, each turn's variant and goal (`target`; old samples: the last ground-truth call's tool)."""
    turns = [
        {
            "index": index,
            "variant": str(turn.variant or Variant.PLAIN),
            "target": turn.target or (turn.calls[-1]["tool"] if turn.calls else None),
            "withheld": turn.withheld,
        }
        for index, turn in enumerate(sample.dialogue.turns)
    ]
    where = {} if part is None else {"part": part, "parts": parts}
    return sample.provenance() | {"turns": turns} | where


def _parts(sample: Sample) -> list[tuple[Sample, int]]:
    """One sample per user message: its messages up to the next user message, earlier ones without reasoning.

    System messages right before a user message (an announcement) open that user message's part.
    """
    messages = sample.messages
    starts: list[int] = []
    for index, message in enumerate(messages):
        if message.get("role") == "user":
            start = index
            while start > (starts[-1] + 1 if starts else 0) and messages[start - 1].get("role") == "system":
                start -= 1
            starts.append(start if starts else 0)
    bounds = list(zip(starts, [*starts[1:], len(messages)], strict=True))
    return [
        (replace(sample, dialogue=sample.dialogue.regrouped(_part(messages, start, end))), number)
        for number, (start, end) in enumerate(bounds)
    ]


def _part(messages: list[dict[str, Any]], start: int, end: int) -> list[dict[str, Any]]:
    return [_without_reasoning(m) for m in messages[:start]] + messages[start:end]


def _one_call_per_message(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each assistant message with several calls as one message per call, its result right after it.

    The calls of one message are independent of each other, so doing them one by one gives the same
    results; reasoning and text stay with the first.
    """
    out: list[dict[str, Any]] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        calls = message.get("tool_calls") or []
        results = messages[index + 1 : index + 1 + len(calls)]
        if len(calls) < 2 or len(results) < len(calls) or any(r.get("role") != "tool" for r in results):
            out.append(message)
            index += 1
            continue
        by_id = {result.get("tool_call_id"): result for result in results}
        for number, call in enumerate(calls):
            single = {key: value for key, value in message.items() if key not in ("tool_calls", "reasoning")}
            if number:
                single["content"] = ""
            elif "reasoning" in message:
                single["reasoning"] = message["reasoning"]
            out += [single | {"tool_calls": [call]}, by_id.get(call.get("id"), results[number])]
        index += 1 + len(calls)
    return out


def _without_reasoning(message: dict[str, Any]) -> dict[str, Any]:
    """A copy without the reasoning (a copy and a pop: faster than filtering every key)."""
    out = dict(message)
    out.pop("reasoning", None)
    return out


def _think(message: dict[str, Any]) -> str:
    """The reasoning as a think block (the thought words LLaMA-Factory and Qwen3 use), or nothing."""
    reasoning = _text(message.get("reasoning")).strip()
    return f"<think>\n{reasoning}\n</think>\n\n" if reasoning else ""


def _chat_messages(messages: list[dict[str, Any]], stringify: bool, *, think: bool) -> list[dict[str, Any]]:
    """OpenAI chat messages, reasoning dropped or moved into think blocks.

    The hot path of the openai and funreason exports: a message that nothing changes (most
    that are not the assistant's) is passed on itself, without a call.
    """
    return [
        message
        if message.get("role") != "assistant" and "reasoning" not in message
        else _chat_message(message, stringify, think=think)
        for message in messages
    ]


def _chat_message(message: dict[str, Any], stringify: bool, *, think: bool) -> dict[str, Any]:
    """One OpenAI chat message, reasoning dropped or moved into a think block (itself when nothing changes).

    An assistant message is copied once; its calls keep their very list when they stay as written
    (copying them was most of an export's own time).
    """
    if message.get("role") != "assistant":
        return _without_reasoning(message) if "reasoning" in message else message
    out = _without_reasoning(message)
    content = message.get("content")
    text = content if isinstance(content, str) else _text(content)
    out["content"] = _think(message) + text if think else text
    calls = message.get("tool_calls")
    if calls and (stringify or not all(isinstance(call["function"].get("arguments"), dict) for call in calls)):
        out["tool_calls"] = [_tool_call(call, stringify) for call in calls]
    return out


def _tool_call(call: dict[str, Any], stringify: bool) -> dict[str, Any]:
    if not stringify and isinstance(call["function"].get("arguments"), dict):
        return call  # already as written
    arguments = _arguments(call["function"].get("arguments"))
    function = {**call["function"], "arguments": json.dumps(arguments, ensure_ascii=False) if stringify else arguments}
    return {**call, "function": function}


def _sharegpt_assistant(message: dict[str, Any]) -> dict[str, str]:
    """A gpt turn, or a function_call turn (one call as an object, parallel calls as a list), reasoning first.

    Text beside the calls has no place in LLaMA-Factory's function slot: it must hold JSON after the thought.
    """
    calls = [
        {"name": call["function"]["name"], "arguments": _arguments(call["function"].get("arguments"))}
        for call in message.get("tool_calls") or []
    ]
    if not calls:
        return {"from": "gpt", "value": _think(message) + _text(message.get("content"))}
    value = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
    return {"from": "function_call", "value": _think(message) + value}


def _check_alternation(sample_id: str, conversations: list[dict[str, str]]) -> None:
    """LLaMA-Factory drops (or rejects) a conversation whose roles do not alternate; fail loudly instead."""
    for position, turn in enumerate(conversations):
        allowed = _SHAREGPT_ODD if position % 2 else _SHAREGPT_EVEN
        if turn["from"] not in allowed:
            raise ExportError(
                f"sample {sample_id}: ShareGPT turns do not alternate: position {position} is {turn['from']!r}, "
                f"expected one of {allowed}"
            )
    if not conversations or conversations[0]["from"] != "human" or conversations[-1]["from"] != "gpt":
        shape = "empty" if not conversations else f"{conversations[0]['from']} ... {conversations[-1]['from']}"
        raise ExportError(f"sample {sample_id}: ShareGPT conversation must run from human to gpt, got {shape}")


def _bfcl_turn(question: list[str], calls: list[dict[str, Any]], missed: list[str]) -> dict[str, Any]:
    return {"question": question, "calls": calls, "missed": missed, "steps": []}


def _bfcl_category(sample: Sample, turns: list[dict[str, Any]]) -> str:
    """BFCL's category for the entry (its checker reads it from the id)."""
    if any(turn["missed"] for turn in turns):
        return "miss_func"
    if any(turn.variant is Variant.MISSING_PARAMETER for turn in sample.dialogue.turns):
        return "miss_param"
    return "base"


def _bfcl_classes(sample: Sample) -> dict[str, str]:
    """Environment -> the class name BFCL's checker knows it by (BFCL's own for `bfcl:<Class>`)."""
    return {env: env.removeprefix(_BFCL_PREFIX) for env in sample.env.split("+")}


def _bfcl_path(classes: dict[str, str], tool: str) -> str:
    """`Class.method`: the class whose environment has the tool (the only class when none is known to)."""
    for env, name in classes.items():
        try:
            if tool in get_environment(env).tool_specs():
                return f"{name}.{tool}"
        except SandboxError:
            continue
    return f"{next(iter(classes.values()))}.{tool}" if len(classes) == 1 else tool


def _bfcl_initial_config(sample: Sample) -> dict[str, Any]:
    """Our environments: the sample's initial state.  BFCL's classes: the config their loader took."""
    state = dict(sample.initial_state or {})
    chosen = json.loads(sample.scenario) if sample.scenario.startswith("{") else {}
    for env in sample.env.split("+"):
        if not env.startswith(_BFCL_PREFIX):
            continue
        scenario = chosen.get(env, "default") if chosen else sample.scenario
        configs = get_environment(env).builtin_scenarios
        if scenario not in configs:
            raise ExportError(f"sample {sample.id}: {env} scenario {scenario!r} is not one of BFCL's initial configs")
        state.pop(env, None)
        state[env.removeprefix(_BFCL_PREFIX)] = configs[scenario]
    return state


def _announced(sample: Sample, text: str) -> list[str]:
    """The withheld tools a system message announces: those whose schema it quotes, else those it names."""
    names = [tool["function"]["name"] for tool in sample.extra_tools]
    quoted = [name for name in names if re.search(rf'"name":\s*"{re.escape(name)}"', text)]
    return quoted or [name for name in names if re.search(rf"\b{re.escape(name)}\b", text)]


def _shared_defaults_written(schema: dict[str, Any] | None, arguments: Any) -> dict[str, Any]:
    """The arguments with each omitted list or object default written out (`mentions=[]`): a Python class's
    default list is one object for every call (BFCL's `post_tweet`), so BFCL's checker, executing the ground
    truth and the answer side by side, would see one's `mention` in the other's tweet."""
    given = _arguments(arguments)
    defaults = {
        name: spec["default"]
        for name, spec in ((schema or {}).get("properties") or {}).items()
        if isinstance(spec, dict) and isinstance(spec.get("default"), list | dict)
    }
    return given | {name: value for name, value in defaults.items() if name not in given}


def _call_string(tool: str, arguments: Any) -> str:
    """A Python call as BFCL's ground truth writes it: `tool(a='x', n=3)`, keyword order kept."""
    return f"{tool}({', '.join(f'{key}={value!r}' for key, value in _arguments(arguments).items())})"


def _arguments(arguments: Any) -> dict[str, Any]:
    """Tool-call arguments as a dict, whether they came as one or as a JSON string."""
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError as e:
            raise ExportError(f"tool-call arguments are not JSON: {arguments[:80]!r}") from e
    return dict(arguments)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _grouped(messages: list[dict[str, Any]]) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    """Runs of consecutive messages with the same role (consecutive tool results make one observation)."""
    run: list[dict[str, Any]] = []
    for message in messages:
        if run and message.get("role") != run[0].get("role"):
            yield run[0].get("role"), run
            run = []
        run.append(message)
    if run:
        yield run[0].get("role"), run


def _encoded_once(
    encoded: dict[int, tuple[list[dict[str, Any]], orjson.Fragment]], tools: list[dict[str, Any]]
) -> orjson.Fragment:
    """`tools` as JSON, encoded once per list: streamed samples of one tool set share its list (see `SampleStore`)."""
    hit = encoded.get(id(tools))
    if hit is None:  # the list is held in `encoded`, so its id cannot be reused by another list meanwhile
        hit = encoded[id(tools)] = (tools, orjson.Fragment(orjson.dumps(tools, option=orjson.OPT_NON_STR_KEYS)))
    return hit[1]


def _json_line(record: dict[str, Any], sample_id: str) -> bytes:
    """One JSONL line, by orjson: the hot path of every export (the stdlib's encoder was half of its time)."""
    try:
        return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)
    except (TypeError, ValueError) as e:
        raise ExportError(f"sample {sample_id} cannot be written as JSON: {e}") from e


def _read_dataset_info(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ExportError(f"cannot read {path}: {e}") from e
    if not isinstance(info, dict):
        raise ExportError(f"cannot merge into {path}: it holds a JSON {type(info).__name__}, not an object")
    return info


def _register_sharegpt(out: Path, info: dict[str, Any]) -> None:
    """Add (or replace) this file's entry in LLaMA-Factory's `dataset_info.json`, keeping the others."""
    info[out.stem] = {
        "file_name": out.name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system", "tools": "tools"},
        "tags": {
            "role_tag": "from",
            "content_tag": "value",
            "user_tag": "human",
            "assistant_tag": "gpt",
            "observation_tag": "observation",
            "function_tag": "function_call",
            "system_tag": "system",
        },
    }
    with _atomic_writer(out.parent / _DATASET_INFO) as write:
        write((json.dumps(info, ensure_ascii=False, indent=2) + "\n").encode())


@contextlib.contextmanager
def _atomic_writer(path: Path) -> Iterator[Callable[[bytes], object]]:
    """Write to a temporary file beside `path`, renamed over `path` only when the block succeeds."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0o666 lets the umask decide the final permissions, as for any ordinary file
        file = os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb", buffering=1 << 20)
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from e

    def write(data: bytes) -> None:
        try:
            file.write(data)
        except OSError as e:
            raise ExportError(f"cannot write {path}: {e.strerror or e}") from e

    try:
        with file:
            yield write
            try:
                file.flush()
                os.fsync(file.fileno())  # the rename must never expose a file whose data is not on disk yet
                os.replace(tmp, path)
            except OSError as e:
                raise ExportError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        tmp.unlink(missing_ok=True)
