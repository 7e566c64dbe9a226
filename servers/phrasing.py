"""How a person asks for a tool's work and how an assistant reports it: templates declared next to each tool.

A tool declares `asks` (requests in the user's voice) and `answers` (reports in the
assistant's voice).  Templates are plain sentences with three kinds of markup:

* `{name}`: a slot.  In `asks` it is an argument as the user states it; in `answers` it is a
  field of the tool's result (dotted path into nested objects and through lists of them,
  `{items#}` for a list's length)
  or, as `{@name}`, one of the call's arguments.
* `[ ... ]`: an optional segment, kept only when every slot inside it has a value (an optional
  argument the call really passed, a result field that is present, not null and not an empty list).
* `{name?text|other}`: a choice by a boolean argument or field: `text` when true, `other`
  (may be empty) when false.

The synthesizer renders these; `tool()` parses them at import time so a typo in a template
fails where it was written, not in the middle of a run.

>>> render("Send {receiver} a message[ saying \\"{message}\\"]", {"receiver": "Bob"})
'Send Bob a message'
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Template", "TemplateError", "brief_words", "parse_template", "render", "value_words"]

_SLOT = re.compile(r"\{(@?[A-Za-z_][A-Za-z0-9_.]*#?)(?:\?([^|{}]*)\|([^|{}]*))?\}")


class TemplateError(ValueError):
    """A template that cannot be parsed (unbalanced brackets or braces, an empty slot)."""


@dataclass(frozen=True)
class Template:
    """A parsed template: the text and the slot names it uses (outside and inside optional segments)."""

    text: str
    required_slots: frozenset[str]
    optional_slots: frozenset[str]

    @property
    def slots(self) -> frozenset[str]:
        return self.required_slots | self.optional_slots


def parse_template(text: str) -> Template:
    """Check the markup of `text` and list its slots; raises `TemplateError` naming the problem."""
    required: set[str] = set()
    optional: set[str] = set()
    depth = 0
    position = 0
    while position < len(text):
        char = text[position]
        if char == "[":
            if depth:
                raise TemplateError(f"nested optional segment in {text!r}")
            depth = 1
        elif char == "]":
            if not depth:
                raise TemplateError(f"']' without '[' in {text!r}")
            depth = 0
        elif char == "{":
            match = _SLOT.match(text, position)
            if match is None:
                raise TemplateError(f"bad slot at {text[position : position + 20]!r} in {text!r}")
            (optional if depth else required).add(match.group(1).rstrip("#"))
            position = match.end()
            continue
        elif char == "}":
            raise TemplateError(f"'}}' without '{{' in {text!r}")
        position += 1
    if depth:
        raise TemplateError(f"'[' without ']' in {text!r}")
    return Template(text, frozenset(required), frozenset(optional - required))


def render(
    text: str, values: Mapping[str, Any], words: Callable[[Any], str] | None = None, *, sentence: bool = True
) -> str | None:
    """`text` with its slots filled from `values`; None when a slot outside optional segments has no value.

    `values` maps slot names (`name`, `@name`) to values; a dotted slot also reaches into
    nested mappings.  `words` turns a value into the words of a sentence (default `value_words`).
    A sentence starts with a capital; a phrase (`sentence=False`) keeps its first letter as written.
    """
    to_words = words or value_words
    missing = object()

    def fill(match: re.Match[str], optional: bool) -> str | object:
        name = match.group(1)
        counted = name.endswith("#")
        value = _lookup(values, name.rstrip("#"), missing)
        if value is missing or value is None or (optional and value == [] and not counted):
            return missing
        if match.group(2) is not None:
            return match.group(2) if value else match.group(3)
        if counted:
            return f"{len(value)}\x00" if isinstance(value, list | dict) else missing
        return to_words(value)

    def fill_all(segment: str, optional: bool) -> str | None:
        parts: list[str] = []
        last = 0
        for match in _SLOT.finditer(segment):
            filled = fill(match, optional)
            if filled is missing:
                return None
            parts += [segment[last : match.start()], str(filled)]
            last = match.end()
        return "".join(parts) + segment[last:]

    pieces: list[str] = []
    for index, segment in enumerate(re.split(r"\[([^\]]*)\]", text)):
        filled = fill_all(segment, optional=index % 2 == 1)
        if filled is None and index % 2 == 0:
            return None  # a required slot has no value
        pieces.append(filled or "")
    text = re.sub(r"\b1\x00 (\w+)", lambda match: "1 " + _singular(match.group(1)), "".join(pieces))
    said = re.sub(r"\s+([,.;:?!])", r"\1", re.sub(r"  +", " ", text.replace("\x00", ""))).strip()
    said = re.sub(r"(?<!\.)\.\.(?!\.)", ".", said)  # a value ending a sentence with its own dot ("Amazon.com Inc.")
    return said[:1].upper() + said[1:] if sentence else said


def value_words(value: Any, *, brief: bool = False) -> str:
    """How a value reads inside a sentence: text as is, numbers plainly, lists as 'a, b and c'.

    `brief` is for what an assistant reports: long lists end in "and N more" and long
    fractions are rounded.  A request never abbreviates: every value the user gives is said.
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, float) and brief:
        return f"{value:.2f}" if 1 <= abs(value) < 1e9 else f"{value:.4g}"
    if isinstance(value, int | float | str):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        items = [value_words(item, brief=brief) for item in value]
        if brief and len(items) > 6:
            items = [*items[:5], f"{len(items) - 5} more"]
        return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else "none"
    return json.dumps(value, ensure_ascii=False)


def brief_words(value: Any) -> str:
    """`value_words` for an assistant's report: lists shortened, fractions rounded."""
    return value_words(value, brief=True)


def _singular(word: str) -> str:
    """'messages' -> 'message', 'addresses' -> 'address': the noun after a count of one."""
    if re.search(r"(ss|sh|ch|x)es$", word):
        return word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _lookup(values: Mapping[str, Any], name: str, missing: object) -> Any:
    """A flat key first (`@name`, `a.b` stored as such), else a dotted path into nested mappings; a step into a
    list of mappings takes that field of each (`{tickets.title}`: every ticket's title)."""
    if name in values:
        return values[name]
    current: Any = values
    for part in name.split("."):
        if isinstance(current, list) and current and all(isinstance(item, Mapping) for item in current):
            current = [item[part] for item in current if part in item]
            if not current:
                return missing
        elif not isinstance(current, Mapping) or part not in current:
            return missing
        else:
            current = current[part]
    return current
