"""BFCL's multi-turn entries as OpenAI chat records, so `funreason quality` measures BFCL beside our data.

An entry holds the users' turns and, in BFCL's `possible_answer` file of the same name, each turn's
ground-truth calls as Python call strings.  The calls are executed in BFCL's own classes, loaded with
the entry's initial config (as BFCL's checker does), so every call's result is the one BFCL's
environment returns: the figures that follow values from results to later calls need them.  Each call
is an assistant message of its own (BFCL does not say which ones could go together) and no turn has an
answer, so the answer and parallelism figures do not apply to these records.
"""

import copy
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from servers.bfcl import BFCL_PREFIX, bfcl_class, parse_bfcl_call
from synthesizer.errors import DatasetError

__all__ = ["bfcl_question_file", "is_bfcl_entry", "read_bfcl_records"]

_STATELESS = frozenset({"MathAPI"})
"""Classes BFCL's checker builds without a scenario."""


def bfcl_question_file(category: str = "multi_turn_base") -> Path:
    """The installed `bfcl-eval` package's question file of `category` (its newest version)."""
    try:
        data = resources.files("bfcl_eval") / "data"
    except ModuleNotFoundError:
        raise DatasetError("measuring BFCL needs the bfcl-eval package: pip install 'funreason-mt[bfcl]'") from None
    found = sorted(path.name for path in data.iterdir() if path.name.endswith(f"_{category}.json"))
    if not found:
        raise DatasetError(f"bfcl-eval ships no {category!r} entries")
    return Path(str(data / found[-1]))


def is_bfcl_entry(record: Any) -> bool:
    """A BFCL question entry (`question` turns and no `messages`), not a chat record."""
    return isinstance(record, dict) and isinstance(record.get("question"), list) and "messages" not in record


def read_bfcl_records(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of BFCL question file `path` as chat records, ground truth from `possible_answer/<name>`."""
    answers_path = path.parent / "possible_answer" / path.name
    if not answers_path.is_file():
        raise DatasetError(f"{path}: no ground truth beside it (looked for {answers_path})")
    answers = {entry["id"]: entry.get("ground_truth") or [] for entry in _lines(answers_path)}
    for number, entry in enumerate(_lines(path), 1):
        if not is_bfcl_entry(entry):
            raise DatasetError(f"{path}:{number}: not a BFCL entry (no 'question' list)")
        yield _record(entry, answers.get(entry.get("id"), []))


def _record(entry: dict[str, Any], ground_truth: list[list[str]]) -> dict[str, Any]:
    classes = list(entry.get("involved_classes") or [])
    instances = [_instance(name, entry.get("initial_config") or {}) for name in classes]
    messages: list[dict[str, Any]] = []
    for turn, asked in enumerate(entry["question"]):
        text = "\n".join(str(m.get("content") or "") for m in asked if isinstance(m, dict) and m.get("role") == "user")
        messages.append({"role": "user", "content": text})
        for number, call in enumerate(ground_truth[turn] if turn < len(ground_truth) else []):
            tool, arguments = parse_bfcl_call(call, classes)
            call_id = f"call_{turn}_{number}"
            messages.append(
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"id": call_id, "type": "function", "function": {"name": tool, "arguments": arguments}}
                    ],
                }
            )
            messages.append({"role": "tool", "tool_call_id": call_id, "content": _execute(instances, tool, arguments)})
    env = "+".join(f"{BFCL_PREFIX}{name}" for name in classes)  # measured with the shipped hints, as our data is
    return {"messages": messages, "tools": _tools(classes), "metadata": {"sample_id": entry.get("id"), "env": env}}


def _instance(name: str, config: dict[str, Any]) -> Any:
    instance = bfcl_class(name)()
    if name not in _STATELESS:
        instance._load_scenario(copy.deepcopy(config.get(name, {})), long_context=False)
    return instance


def _execute(instances: list[Any], tool: str, arguments: dict[str, Any]) -> str:
    """The call's result as BFCL's executor shows it: JSON of the returned value, or the error it raised."""
    method = next((getattr(instance, tool) for instance in instances if hasattr(instance, tool)), None)
    if method is None:
        return json.dumps({"error": f"no involved class has {tool}"})
    try:
        result = method(**arguments)
    except Exception as error:  # BFCL's executor shows any exception of the class as the call's result
        return f"Error during execution: {error}"
    return result if isinstance(result, str) else json.dumps(result, default=str, ensure_ascii=False)


def _tools(classes: list[str]) -> list[dict[str, Any]]:
    from bfcl_eval.constants.executable_backend_config import MULTI_TURN_FUNC_DOC_FILE_MAPPING

    docs = resources.files("bfcl_eval") / "data" / "multi_turn_func_doc"
    tools = []
    for name in classes:
        for doc in _lines(Path(str(docs / MULTI_TURN_FUNC_DOC_FILE_MAPPING[name]))):
            function = {key: doc[key] for key in ("name", "description", "parameters") if key in doc}
            tools.append({"type": "function", "function": function})
    return tools


def _lines(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: cannot read BFCL entries: {error}") from None
