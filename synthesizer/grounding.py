"""Grounding: every argument of a call must come from somewhere the dialogue shows before the call.

A value is grounded when it is in the user's words (this turn or earlier), in an earlier
tool result, or implied by the tool's schema (its default, an enum member, a const).  A
value first seen later, or nowhere, teaches a model to invent; ground truths and model
answers alike are rejected for it.
"""

import json
import re
from typing import Any

from simulator.values import leaf_values

__all__ = ["ungrounded_arguments"]


def ungrounded_arguments(messages: list[dict[str, Any]], tools: dict[str, dict[str, Any]]) -> list[str]:
    """One line per argument value of a call in `messages` that nothing before the call shows.

    `messages` is an OpenAI-format dialogue (user, assistant with `tool_calls`, tool);
    `tools` maps a tool name to its JSON input schema.
    """
    seen: list[str] = []
    problems = []
    for message in messages:
        if message["role"] == "assistant":
            for call in message.get("tool_calls") or []:
                function = call["function"]
                arguments = function["arguments"]
                if isinstance(arguments, str):
                    arguments = json.loads(arguments or "{}")
                schema = tools.get(function["name"], {}).get("properties", {})
                for parameter, value in arguments.items():
                    implied = _implied(schema.get(parameter, {}))
                    for leaf in leaf_values(value):
                        if leaf not in implied and not _shown(leaf, seen):
                            problems.append(f"{function['name']}.{parameter}={leaf!r} appears nowhere before the call")
        elif message["role"] in ("user", "tool"):
            content = message.get("content")
            seen.append((content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)).lower())
    return problems


def _implied(schema: dict[str, Any]) -> list[Any]:
    options = schema.get("anyOf", [schema])
    implied = [schema.get("default"), schema.get("const")]
    for option in options:
        implied += option.get("enum", []) + [option.get("const"), option.get("default")]
        implied += option.get("items", {}).get("enum", [])
    return [value for value in implied if value is not None]


def _shown(value: Any, seen: list[str]) -> bool:
    if isinstance(value, str):
        needle = value.lower()
        return any(needle in text for text in seen)
    forms = {str(value)}
    if isinstance(value, float) and value.is_integer():
        forms.add(str(int(value)))
    if isinstance(value, int):
        forms.add(f"{value}.0")
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(form) for form in forms) + r")(?![\w]|\.\d)")
    return any(pattern.search(text) for text in seen)
