"""Reading tool calls out of what real models write, in every shape they write them.

Small and local models often skip native `tool_calls` and write the call in their
text: `<tool_call>` tags (Qwen, Hermes), a fenced or bare JSON object or list with
`name`/`arguments` (or `function`/`parameters`), or a Python-style call as BFCL asks
for (`send_message(receiver_id='USR002', message='hi')`).  Reasoning arrives as a
`<think>` block in the text or as a separate `reasoning_content` field.  Everything
that looks like a call but cannot be used is kept as a call with an `error`, so the
reject reason says what really happened instead of "no tool was called".
"""

import ast
import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ParsedReply", "native_call", "read_reply"]

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_TAGGED = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_FENCED = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)```", re.DOTALL)
_NAME_KEYS = ("name", "function", "tool", "tool_name")
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "tool_input", "input")


@dataclass
class ParsedReply:
    """A reply split into what was said, what was thought and what was called."""

    content: str
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def read_reply(text: str, tool_names: Collection[str] | None = None) -> ParsedReply:
    """Split a model's text into prose, reasoning and calls; `tool_names` marks calls to unknown tools."""
    reasoning, text = _split_thinking(text)
    calls: list[dict[str, Any]] = []
    text = _TAGGED.sub(lambda match: _take(match.group(1), calls, tool_names, tagged=True), text)
    if not calls:
        text = _FENCED.sub(lambda match: _take(match.group(2), calls, tool_names, tagged=False, fence=match), text)
    if not calls:
        text = _take(text, calls, tool_names, tagged=False, bare=True)
    if not calls:
        text = _embedded_json(text, calls, tool_names)
    return ParsedReply(content=text.strip(), reasoning=reasoning, tool_calls=calls)


def native_call(name: str, arguments: str | None, tool_names: Collection[str] | None = None) -> dict[str, Any]:
    """A native `tool_calls` entry as our call dict; arguments that are not a JSON object become an error."""
    return _call(name, arguments if arguments not in (None, "") else "{}", tool_names)


def _split_thinking(text: str) -> tuple[str, str]:
    """`<think>` blocks out of the text; a reply that starts inside one (the template opened it) too."""
    if "</think>" in text and "<think>" not in text.split("</think>", 1)[0]:
        thought, text = text.split("</think>", 1)
        return thought.strip(), text
    thoughts = [match.group(1).strip() for match in _THINK.finditer(text)]
    return "\n\n".join(thought for thought in thoughts if thought), _THINK.sub("", text)


def _take(
    chunk: str,
    calls: list[dict[str, Any]],
    tool_names: Collection[str] | None,
    *,
    tagged: bool,
    bare: bool = False,
    fence: re.Match[str] | None = None,
) -> str:
    """Calls read from one chunk are appended; the chunk is removed from the prose when it held calls."""
    found = _json_calls(chunk, tool_names) or _python_calls(chunk, tool_names)
    if found is None and tagged:
        found = [{"name": "", "arguments": {}, "error": f"unreadable tool call: {chunk.strip()[:200]}"}]
    if not found:
        return chunk if fence is None else fence.group(0)
    calls.extend(found)
    return ""


def _json_calls(chunk: str, tool_names: Collection[str] | None) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(chunk.strip())
    except ValueError:
        return None
    items = data if isinstance(data, list) else [data]
    if not items or not all(_call_shaped(item, tool_names) for item in items):
        return None
    return [_from_object(item, tool_names) for item in items]


def _embedded_json(text: str, calls: list[dict[str, Any]], tool_names: Collection[str] | None) -> str:
    """Call-shaped JSON objects inside prose ("I will call {...} now"), removed from the prose."""
    decoder = json.JSONDecoder()
    kept, position = [], 0
    while (start := text.find("{", position)) != -1:
        try:
            data, end = decoder.raw_decode(text, start)
        except ValueError:
            kept.append(text[position : start + 1])
            position = start + 1
            continue
        kept.append(text[position:start])
        if _call_shaped(data, tool_names):
            calls.append(_from_object(data, tool_names))
        else:
            kept.append(text[start:end])
        position = end
    kept.append(text[position:])
    return "".join(kept)


def _call_shaped(item: Any, tool_names: Collection[str] | None) -> bool:
    """A name and arguments; a name alone only when it is a known tool (`{"name": "Bob"}` is an answer)."""
    if not isinstance(item, dict):
        return False
    if isinstance(item.get("function"), dict):  # OpenAI's own shape, {"function": {"name", "arguments"}}
        return _call_shaped(item["function"], tool_names)
    names = [item[key] for key in _NAME_KEYS if isinstance(item.get(key), str)]
    if not names:
        return False
    return any(key in item for key in _ARGUMENT_KEYS) or (tool_names is not None and names[0] in tool_names)


def _from_object(item: dict[str, Any], tool_names: Collection[str] | None) -> dict[str, Any]:
    if isinstance(item.get("function"), dict):
        item = item["function"]
    name = next(item[key] for key in _NAME_KEYS if isinstance(item.get(key), str))
    arguments = next((item[key] for key in _ARGUMENT_KEYS if key in item), {})
    return _call(name, arguments, tool_names)


def _python_calls(chunk: str, tool_names: Collection[str] | None) -> list[dict[str, Any]] | None:
    """`f(a='x', b=2)`, one per line or as a list `[f(...), g(...)]`; only literal keyword arguments."""
    source = chunk.strip()
    if not source or "(" not in source:
        return None
    try:
        tree = ast.parse(source, mode="exec")
    except (SyntaxError, ValueError):
        return None
    expressions: list[ast.expr] = []
    for statement in tree.body:
        if not isinstance(statement, ast.Expr):
            return None
        value = statement.value
        expressions.extend(value.elts if isinstance(value, ast.List | ast.Tuple) else [value])
    if not expressions or not all(isinstance(node, ast.Call) for node in expressions):
        return None
    calls = []
    for node in expressions:
        assert isinstance(node, ast.Call)
        name = ast.unparse(node.func)
        if tool_names is None and not name.replace("_", "").replace(".", "").isalnum():
            return None
        try:
            if node.args:
                raise ValueError("positional arguments (write name=value)")
            arguments = {keyword.arg: ast.literal_eval(keyword.value) for keyword in node.keywords if keyword.arg}
        except ValueError as error:
            calls.append({"name": name, "arguments": {}, "error": f"invalid arguments for {name}: {error}"})
            continue
        calls.append(_call(name, arguments, tool_names))
    return calls


def _call(name: str, arguments: Any, tool_names: Collection[str] | None) -> dict[str, Any]:
    if tool_names is not None and name not in tool_names:
        return {"name": name, "arguments": {}, "error": f"call to unknown tool {name!r}"}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError as error:
            return {"name": name, "arguments": {}, "error": f"invalid arguments for {name} (not JSON: {error})"}
    if not isinstance(arguments, dict):
        return {"name": name, "arguments": {}, "error": f"invalid arguments for {name} (not an object)"}
    return {"name": name, "arguments": arguments}
