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
* `(one|other|...)`: ways to say the same thing (any may be empty), in `asks` only: `expand` turns
  a template into one template per combination, so a tool declares dozens of requests in a line
  and a run of thousands of samples does not repeat a few sentences.

The synthesizer renders these; `tool()` parses them at import time so a typo in a template
fails where it was written, not in the middle of a run.

>>> render("Send {receiver} a message[ saying \\"{message}\\"]", {"receiver": "Bob"})
'Send Bob a message'
>>> expand("(Show|List) my contacts(, please|).")
['Show my contacts, please.', 'Show my contacts.', 'List my contacts, please.', 'List my contacts.']
"""

import itertools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Template", "TemplateError", "brief_words", "expand", "parse_template", "render", "value_words", "voices"]

_PLAIN = r"(?:[^(){}|]|\{[^{}?|]*\})*"  # text and plain slots, no `{a?b|c}` choice
_CHOICE = re.compile(rf"\(({_PLAIN}(?:\|{_PLAIN})+)\)")
"""`(one|other)`: ways to say the same thing; a group without `|` is plain text ("(ETA)")."""
_SLOT = re.compile(r"\{(@?[A-Za-z_][A-Za-z0-9_.]*#?)(?:\?([^|{}]*)\|([^|{}]*))?\}")


# a template's own "a" before a value that starts with a vowel sound ("one", "unit", "user", "euro" do not)
_AN_BEFORE_VOWEL = re.compile(r"\b([Aa]) +\x01(?=[aiAI]|[eE](?![uw])|[oO](?!ne\b|nce\b)|[uU](?!s|ni|ti|bi|r[aeiou]|k))")


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


def expand(text: str) -> list[str]:
    """Every template `text`'s `(one|other)` groups make, in order; `text` alone when it has none.
    A group's spaces next to an empty choice collapse, so "(please |)log in" reads "log in"."""
    pieces = _CHOICE.split(text)
    if len(pieces) == 1:
        return [text]
    choices = [piece.split("|") if index % 2 else [piece] for index, piece in enumerate(pieces)]
    return [re.sub(r"  +", " ", "".join(parts)).strip() for parts in itertools.product(*choices)]


def voices(text: str) -> list[str]:
    """The ways a person puts the same request: `text`, and for a one-sentence request ("Show my inbox.",
    "Can you show my inbox?", "Please show my inbox.") the same verb phrase asked, asked politely or
    wanted ("Could you show my inbox?", "I'd like you to show my inbox."), for a question the same
    question led in ("Quick question: what's my balance?").  Other sentences (statements, several
    sentences, a request ending in an optional segment) stay as written."""
    if re.search(r"[.?!]\s", text) or text[-1:] not in ".?":
        return [text]
    asked = _ASKED.fullmatch(text)
    verb, _, rest = text.lower().partition(" ")
    verb = verb.strip(",") if not rest.startswith("of ") else ""  # "Log of 8, please." names no verb
    if asked is not None:
        core = asked.group(1) or asked.group(2)
    elif text.endswith(".") and verb in _VERBS:
        core = text[0].lower() + text[1:-1]
    elif text.endswith("?") and verb in _QUESTIONS:
        question = text[0].lower() + text[1:]
        return [text, *(lead + question for lead in _QUESTION_LEADS)]
    else:
        return [text]
    core = re.sub(r"^please |,? please$", "", core)
    ends_in_a_value = core.endswith(("}", '"', "]"))  # "..., please" after a quoted message reads as part of it
    return [
        frame.format(core=core, Core=core[0].upper() + core[1:])
        for frame in _REQUEST_FRAMES
        if not (ends_in_a_value and frame.endswith(", please."))
    ]


_ASKED = re.compile(r"(?:Can|Could|Would) you (?:please )?(.+)\?|Please (.+)\.")
_REQUEST_FRAMES = (
    "{Core}.",
    "Please {core}.",
    "{Core}, please.",
    "Can you {core}?",
    "Could you {core}?",
    "Would you {core}?",
    "Can you please {core}?",
    "Could you please {core}?",
    "I'd like you to {core}.",
    "I need you to {core}.",
    "I want you to {core}.",
    "If you can, {core}.",
)
"""How one verb phrase is asked: told, asked, asked politely, wanted."""
_QUESTION_LEADS = ("Quick question: ", "Hey, ", "Tell me, ")
_QUESTIONS = {"what", "what's", "how", "which", "who", "where", "where's", "whose", "is", "am", "are", "do", "does"}
_VERBS = frozenset(
    re.findall(
        r"\w+",
        """
    add average bring cancel change check clear clone close comment compare convert copy create delete display
    drop erase express fetch find get give go grab list lock log look make mark measure move open order pull
    put raise read remove rename reply repost reset round save scale scan search send set share show sign sort
    start stop store sum switch take tell throw tidy trash turn type unlock update use wipe write
""",
    )
)
"""Words that open a request told as an order ("Show my inbox."); "Let me see" and statements are left out."""


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
            parts += [segment[last : match.start()], f"\x01{filled}"]  # \x01: where a value starts
            last = match.end()
        return "".join(parts) + segment[last:]

    pieces: list[str] = []
    for index, segment in enumerate(re.split(r"\[([^\]]*)\]", text)):
        filled = fill_all(segment, optional=index % 2 == 1)
        if filled is None and index % 2 == 0:
            return None  # a required slot has no value
        pieces.append(filled or "")
    text = _AN_BEFORE_VOWEL.sub(r"\1n ", "".join(pieces)).replace("\x01", "")  # "a[ {priority}]": "an urgent"
    text = re.sub(r"\b1\x00 (\w+)", lambda match: "1 " + _singular(match.group(1)), text)
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
