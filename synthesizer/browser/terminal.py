"""A view as a chat in the terminal (`funreason show`), with `rich`: the same turns, calls, origins and diffs."""

import json
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

__all__ = ["print_view"]


def print_view(view: dict[str, Any], console: Console | None = None, *, results: bool = True) -> None:
    """Print `view`; `results=False` folds tool results to one line each, as the page does until opened."""
    console = console or Console()
    head = Text.assemble(
        (f"{view['id']}\n", "bold"),
        (f"{view['status']}", "green" if view["status"] in ("verified", "passed") else "red"),
        f" · {view['env']} · scenario {view['scenario']}",
        f" · model {view['model']}" if view.get("model") else "",
        f" · {view['attempts']} attempts" if view.get("attempts") is not None else "",
    )
    console.print(Panel(head, expand=False))
    if view.get("reason"):
        where = f" at turn {view['failed_turn']}" if view.get("failed_turn") else ""
        console.print(Text(f"{'Rejected' if view['kind'] == 'reject' else 'Failed'}{where}: {view['reason']}", "red"))
    calls = view.get("calls") or {}
    for number, turn in enumerate(view["turns"]):
        label = f"Turn {number + 1} · variant {turn.get('variant') or 'plain'}"
        label += f" · target {turn['target']}" if turn.get("target") else ""
        label += f" · withheld {turn['withheld']}" if turn.get("withheld") else ""
        console.rule(label, style="red" if turn.get("failure") else "blue")
        if turn.get("failure"):
            console.print(_failure(turn["failure"]))
        for message in turn["messages"]:
            console.print(_message(message, calls, results))
    if view.get("walk"):
        console.rule(f"The walk this {view['kind']} came from ({len(view['walk'])} recorded calls)")
        for step in view["walk"]:
            outcome = step["text"] if step["is_error"] else json.dumps(step["result"], ensure_ascii=False)
            style = "red" if step["is_error"] else "dim"
            console.print(Text.assemble((f"→ {step['tool']}", "bold"), f"({_inline(step['arguments'])})"))
            console.print(Text(f"  ⇐ {_cut(outcome, 200)}", style))


def _message(message: dict[str, Any], calls: dict[str, Any], results: bool) -> Any:
    role = message["role"]
    if role == "tool":
        body = _pretty(message.get("content") or "")
        if not results:
            return Text(f"  ⇐ {message.get('name', 'result')}: {_cut(' '.join(body.split()), 100)}", "dim")
        return Panel(Syntax(body, "json", word_wrap=True), title=f"⇐ {message.get('name', 'result')}", expand=False)
    parts: list[Any] = []
    if message.get("reasoning"):
        parts.append(Text(f"(reasoning) {message['reasoning']}", "italic dim"))
    if message.get("content"):
        parts.append(Text(message["content"]))
    for call in message.get("tool_calls") or []:
        arguments = call["function"]["arguments"]
        if isinstance(arguments, str):
            arguments = json.loads(arguments or "{}")
        parts.append(Text.assemble((f"→ {call['function']['name']}", "bold cyan"), f"({_inline(arguments)})"))
        link = calls.get(call.get("id"), {})
        for name, origin in (link.get("origins") or {}).items():
            parts.append(Text(f"    {name} ← {_origin(origin, calls)}", "magenta"))
        if link.get("diff"):
            for op in link["diff"]:
                value = "" if op["op"] == "remove" else f" = {_cut(json.dumps(op.get('value')), 80)}"
                parts.append(Text(f"    Δ {op['op']} {'.'.join(map(str, op['path']))}{value}", "yellow"))
    colour = {"user": "blue", "assistant": "white", "system": "yellow"}.get(role, "white")
    return Panel(Group(*parts), title=role, title_align="left", border_style=colour, expand=True)


def _failure(failure: dict[str, Any]) -> Text:
    text = Text(f"Failed here: {failure['kind']}", "bold red")
    if failure.get("why"):
        text.append(f" — {failure['why']}")
    for key in failure.get("state_keys") or []:
        expected = "absent" if key.get("absent") == "expected" else _cut(json.dumps(key["expected"]), 60)
        got = "absent" if key.get("absent") == "got" else _cut(json.dumps(key["got"]), 60)
        text.append(f"\n  {key['path']}: expected {expected}, got {got}")
    for result in failure.get("missing") or []:
        text.append(f"\n  never given: {_cut(json.dumps(result), 120)}")
    return text


def _origin(origin: dict[str, Any], calls: dict[str, Any]) -> str:
    if origin["kind"] == "result":
        turn = calls.get(origin["call"], {}).get("turn")
        where = f" (turn {turn + 1})" if turn is not None else ""
        field = f".{origin['field']}" if origin.get("field") else ""
        return f"result of {origin.get('tool') or 'a call'}{field}{where}"
    if origin["kind"] == "user":
        return f"the user, turn {origin['turn'] + 1}"
    return f"from {origin['kind']}"


def _inline(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{name}={_cut(json.dumps(value, ensure_ascii=False), 60)}" for name, value in arguments.items())


def _pretty(content: str) -> str:
    try:
        return json.dumps(json.loads(content), indent=2, ensure_ascii=False)
    except ValueError:
        return content


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
