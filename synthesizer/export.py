"""Writing samples as training or evaluation files: OpenAI chat, ShareGPT, BFCL multi-turn, FunReason-MT."""

import contextlib
import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from synthesizer.errors import ExportError
from synthesizer.samples import Sample

__all__ = ["FORMATS", "export_samples"]

logger = logging.getLogger(__name__)

FORMATS = ("openai", "sharegpt", "bfcl", "funreason")

_DATASET_INFO = "dataset_info.json"
_SHAREGPT_EVEN = ("human", "observation")
_SHAREGPT_ODD = ("gpt", "function_call")


def export_samples(samples: Iterable[Sample], fmt: str, out: Path, *, stringify_arguments: bool = False) -> int:
    """Stream `samples` to `out` as JSONL in format `fmt` and return how many were written.

    Formats (every record also carries `sample.provenance()` under "metadata"):

    * `openai`: `{"messages", "tools", "metadata"}` as TRL's SFTTrainer and axolotl read it; the
      chain of thought is dropped, mid-dialogue system messages (a tool becoming available) are kept.
      `tools` holds only the tools offered from the start: a withheld tool must not be visible
      before the system message that announces it.
    * `funreason`: the same, with each assistant content written as `<think>\\n…\\n</think>\\n\\n…`.
    * `sharegpt`: LLaMA-Factory's `{"conversations", "system", "tools", "metadata"}` with strict
      human/gpt alternation; `dataset_info.json` next to `out` gets (or updates) the entry for it.
    * `bfcl`: BFCL multi-turn entries (`question`, `initial_config`, `ground_truth`, ...), so the
      data can serve as an evaluation set; a withheld tool gets BFCL's holdout turn (`missed_function`).

    `stringify_arguments` writes tool-call arguments as JSON strings (what the OpenAI API itself
    sends) in `openai` and `funreason`; the other formats hold strings or evaluation data already.
    Use it for files read through Hugging Face `datasets`: it loads dict arguments of mixed shapes
    (5.x, as `Json` columns), but through a float parser that is not round-trip exact, so a tool
    argument like 2.53 can come back as 2.5300000000000002; older versions refuse mixed shapes.

    The file is written to a temporary file in the same folder and renamed at the end, so a
    failure never leaves a half file nor replaces a good one. Raises `ExportError` for an unknown
    format, a folder that cannot be written, or a sample the format cannot express.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    convert = _CONVERTERS[fmt]
    out = Path(out)
    # read LLaMA-Factory's index first: a broken one must stop the export before anything is replaced
    dataset_info = _read_dataset_info(out.parent / _DATASET_INFO) if fmt == "sharegpt" else None
    with _atomic_writer(out) as write:
        count = 0
        for sample in samples:
            write(_json_line(convert(sample, stringify_arguments), sample.id))
            count += 1
    if dataset_info is not None:
        _register_sharegpt(out, dataset_info)
    logger.info("wrote %d %s samples to %s", count, fmt, out)
    return count


# --- formats ---------------------------------------------------------------------------------------------------


def _openai(sample: Sample, stringify: bool) -> dict[str, Any]:
    messages = [_chat_message(message, stringify, think=False) for message in sample.messages]
    return {"messages": messages, "tools": sample.tools, "metadata": sample.provenance()}


def _funreason(sample: Sample, stringify: bool) -> dict[str, Any]:
    messages = [_chat_message(message, stringify, think=True) for message in sample.messages]
    return {"messages": messages, "tools": sample.tools, "metadata": sample.provenance()}


def _sharegpt(sample: Sample, stringify: bool) -> dict[str, Any]:
    """LLaMA-Factory's ShareGPT; `stringify` changes nothing since every value is a string already."""
    system: list[str] = []
    pending: list[str] = []  # system messages after the dialogue began, folded into the next human turn
    conversations: list[dict[str, str]] = []
    for role, group in _grouped(sample.messages):
        if role == "system":
            (pending if conversations else system).extend(_text(m.get("content")) for m in group)
        elif role == "user":
            for message in group:
                conversations.append({"from": "human", "value": "\n\n".join([*pending, _text(message["content"])])})
                pending = []
        elif role == "assistant":
            conversations.extend(_sharegpt_assistant(message) for message in group)
        elif role == "tool":
            results = [_text(m.get("content")) for m in group]
            value = results[0] if len(results) == 1 else json.dumps(results, ensure_ascii=False)
            conversations.append({"from": "observation", "value": value})
        else:
            raise ExportError(f"sample {sample.id}: unknown message role {role!r}")
    if pending:
        raise ExportError(f"sample {sample.id}: a system message has no user message after it to be folded into")
    _check_alternation(sample.id, conversations)
    functions = [tool["function"] for tool in [*sample.tools, *sample.extra_tools]]
    return {
        "conversations": conversations,
        "system": "\n\n".join(system),
        "tools": json.dumps(functions, ensure_ascii=False),
        "metadata": sample.provenance(),
    }


def _bfcl(sample: Sample, stringify: bool) -> dict[str, Any]:
    """A BFCL multi-turn entry; `stringify` changes nothing since ground truth is strings already.

    A tool withheld until a system message announces it gets BFCL's holdout turn: an empty question
    (BFCL's runner asserts that and speaks for the user there), the tool in `missed_function`, and the
    ground-truth calls that come after the announcement. Announced inside a turn (the synthesizer's
    way), the turn splits in two: calls the dialogue made before the announcement stay in the first
    part, and the simulated user's "go ahead" gives way to BFCL's own prompt. Announced between turns,
    the holdout turn is empty and the next query follows it.
    """
    turns: list[dict[str, Any]] = []  # BFCL turns: question, ground-truth calls, tools released there
    made = 0  # ground-truth calls of the last turn the dialogue has made, in order (matched by tool name)
    announced: list[str] = []  # tools named by system messages since the last user message
    for message in sample.messages:
        role, content = message.get("role"), _text(message.get("content"))
        if role == "user":
            begun = sum(1 for turn in turns if turn["question"])
            query = begun < len(sample.turns) and content == sample.turns[begun]["query"]
            if not turns and not query:
                raise ExportError(f"sample {sample.id}: the first user message is not the first turn's query")
            if announced:
                split = len(turns[-1]["calls"]) if query else made
                turns.append({"question": [], "calls": turns[-1]["calls"][split:], "missed": announced})
                del turns[-2]["calls"][split:]
                announced, made = [], 0
            if query:
                turns.append({"question": [], "calls": list(sample.turns[begun]["calls"]), "missed": []})
                made = 0
            if not turns[-1]["missed"]:
                turns[-1]["question"].append({"role": "user", "content": content})
        elif role == "assistant" and turns:
            for call in message.get("tool_calls") or []:
                calls = turns[-1]["calls"]
                if made < len(calls) and call["function"].get("name") == calls[made]["tool"]:
                    made += 1
        elif role == "system" and turns:
            released = {name for turn in turns for name in turn["missed"]} | set(announced)
            announced += [name for name in _announced(sample, content) if name not in released]
    begun = sum(1 for turn in turns if turn["question"])
    if begun != len(sample.turns):
        raise ExportError(
            f"sample {sample.id}: found the queries of {begun} of {len(sample.turns)} turns in the messages"
        )
    return {
        "id": sample.id,
        "question": [turn["question"] for turn in turns],
        "initial_config": sample.initial_state or {},
        "involved_classes": sample.env.split("+"),
        "path": [call["tool"] for turn in sample.turns for call in turn["calls"]],
        "ground_truth": [[_call_string(call["tool"], call["arguments"]) for call in turn["calls"]] for turn in turns],
        "function": [tool["function"] for tool in [*sample.tools, *sample.extra_tools]],
        "missed_function": {str(i): turn["missed"] for i, turn in enumerate(turns) if turn["missed"]},
        "metadata": sample.provenance(),
    }


_CONVERTERS: dict[str, Callable[[Sample, bool], dict[str, Any]]] = {
    "openai": _openai,
    "sharegpt": _sharegpt,
    "bfcl": _bfcl,
    "funreason": _funreason,
}


# --- helpers -----------------------------------------------------------------------------------------------------


def _chat_message(message: dict[str, Any], stringify: bool, *, think: bool) -> dict[str, Any]:
    """A copy of one OpenAI chat message, reasoning dropped or moved into a think block."""
    out = {key: value for key, value in message.items() if key != "reasoning"}
    if message.get("role") != "assistant":
        return out
    content = _text(message.get("content"))
    reasoning = _text(message.get("reasoning")).strip()
    out["content"] = f"<think>\n{reasoning}\n</think>\n\n{content}" if think and reasoning else content
    if message.get("tool_calls"):
        out["tool_calls"] = [_tool_call(call, stringify) for call in message["tool_calls"]]
    return out


def _tool_call(call: dict[str, Any], stringify: bool) -> dict[str, Any]:
    arguments = _arguments(call["function"].get("arguments"))
    function = {**call["function"], "arguments": json.dumps(arguments, ensure_ascii=False) if stringify else arguments}
    return {**call, "function": function}


def _sharegpt_assistant(message: dict[str, Any]) -> dict[str, str]:
    """A gpt turn, or a function_call turn (any text beside the calls has no place in LLaMA-Factory's slot)."""
    calls = [
        {"name": call["function"]["name"], "arguments": _arguments(call["function"].get("arguments"))}
        for call in message.get("tool_calls") or []
    ]
    if not calls:
        return {"from": "gpt", "value": _text(message.get("content"))}
    return {"from": "function_call", "value": json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)}


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


def _announced(sample: Sample, text: str) -> list[str]:
    """The withheld tools a system message announces: those whose schema it quotes, else those it names."""
    names = [tool["function"]["name"] for tool in sample.extra_tools]
    quoted = [name for name in names if re.search(rf'"name":\s*"{re.escape(name)}"', text)]
    return quoted or [name for name in names if re.search(rf"\b{re.escape(name)}\b", text)]


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


def _json_line(record: dict[str, Any], sample_id: str) -> str:
    try:
        return json.dumps(record, ensure_ascii=False) + "\n"
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
        write(json.dumps(info, ensure_ascii=False, indent=2) + "\n")


@contextlib.contextmanager
def _atomic_writer(path: Path) -> Iterator[Callable[[str], object]]:
    """Write to a temporary file beside `path`, renamed over `path` only when the block succeeds."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0o666 lets the umask decide the final permissions, as for any ordinary file
        file = os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "w", encoding="utf-8")
    except OSError as e:
        raise ExportError(f"cannot write {path}: {e.strerror or e}") from e

    def write(text: str) -> None:
        try:
            file.write(text)
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
