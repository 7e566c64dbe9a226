"""Words a person would use: a turn's request from the tools' phrasing, values as the user knows them, answers.

An argument reads in the user's words as the user knows its value: a value the user gives
reads as itself; a value an earlier call looked up reads as what it was looked up by
(`get_user_id("Bob") -> USR002` reads "Bob") or as the name next to it in a listing; a
value the user was shown in an earlier answer reads as itself.  Anything else the user
cannot know, so no request may mention it.
"""

import dataclasses
import json
import math
import random
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from servers.phrasing import brief_words, render, value_words
from simulator import ToolInfo
from synthesizer.plan import Call, TurnPlan, is_identifier, machine_float, value_path

__all__ = [
    "Unphrasable",
    "answer_for",
    "askable",
    "known_as",
    "parameter_words",
    "request_for",
    "rewordings",
    "tool_request",
]

_RESULT_SOURCES = ("result", "probe")
_PLACES = {".": "the current folder", "..": "the folder above", "/": "the top folder"}
_ID_PARAMETER = re.compile(r"(?:([a-z][a-z_]*?)_)?(id|symbol)")
_NOT_A_DETAIL = re.compile(r"(^|_)(id|ids|code|at|time|timestamp|password|email|token|url|path)$")
"""Fields no person tells a listed thing apart by: its keys, times, secrets, addresses."""
_AUTHOR = re.compile(r"(^|_)(author|creator|poster)$")
"""Who made a listed thing: the one person a person tells it by ("the post by dkhan")."""
_PERSON = re.compile(r"user|receiver|recipient|sender|customer|agent|assignee|owner|follower|contact")
_NAMES_SOMEONE = re.compile(r"(name|author|user|owner|id|agent|assignee|customer|handle|path|file|sender|receiver)s?$")
_FOLLOW_UPS = ["Thanks.", "Great.", "OK.", "Perfect.", "Good.", "Got it.", "Nice.", "Thank you.", "Alright."]
_FOLLOW_UP_SHARE = 0.6
"""Share of later requests that open by acknowledging the last answer, as people in a conversation do."""
_THAT = ["that {noun}", "this {noun}", "the same {noun}"]
_DOUBLED_NOUN = re.compile(r"\b(\w+) ((?:that|this|the same) \1)\b", re.IGNORECASE)
"""A template's noun before a reference to the same noun ("cancel order {order_id}" -> "order this order")."""
"""How a request points back at an earlier turn's object."""
_MADE = {"message": "sent", "order": "placed", "booking": "made", "post": "made", "comment": "left", "ticket": "opened"}
"""The verb for a thing the assistant made for the user: "the booking you made", "the ticket you opened"."""
_REPEATED_NOUN = re.compile(r"\b(?:the |a |an )?(\w+) (that|the same) \1\b", re.IGNORECASE)
"""A template's noun before a reference to the same noun: "booking that booking" reads "that booking"."""
_NESTED_PHRASES = 2
"""How deep computed values may nest in one request ("the square root of the sum of 3 and 4"); deeper reads as noise."""


def parameter_words(name: str) -> str:
    """`send_message.receiver_id` (or `.receiver_id.2`) -> `receiver id`: a parameter as it reads in a sentence;
    a unit at its end reads as one (`force_newtons` -> `force in newtons`, `speed_kmh` -> `speed in km/h`)."""
    parts = name.split(".")
    words = (parts[1] if len(parts) > 1 else parts[0]).split("_")
    if len(words) > 1 and words[-1] in _UNITS:
        words[-1] = f"in {_UNITS[words[-1]]}"
    return " ".join(words)


_UNITS = {
    "newtons": "newtons",
    "kmh": "km/h",
    "km": "km",
    "litres": "litres",
    "psi": "PSI",
    "celsius": "degrees Celsius",
    "minutes": "minutes",
}
"""Unit words that end a parameter's name, as a sentence says them after "in"."""


class Unphrasable(Exception):
    """A turn no user could ask for: it needs a value the user cannot know or name."""


def known_as(turn: TurnPlan, call: Call, parameter: str, depth: int = 0, refer: bool = False) -> str | None:
    """How the user refers to `call`'s argument `parameter`, or None when the user cannot know it.

    A value picked out of a listing reads as the name next to it; a value a look-up found
    reads as what it was looked up by; a computed value reads as what computes it ("the sum
    of 3 and 4"); an identifier or a computed value the user was shown reads as itself.
    Other looked-up values (a number, a sentence) have no words the user would know them by.
    With `refer` (a request, not an answer), an id an earlier turn's result gave reads as a
    person points back at it ("that booking", "them"), leaving the value in the history.
    """
    value = call.arguments.get(parameter)
    origin = call.provenance.get(parameter, {})
    if origin.get("source") not in _RESULT_SOURCES:
        return value_words(value)
    producer = {earlier.step: earlier for earlier in [*turn.earlier_calls, *turn.calls]}.get(origin.get("step", -1))
    if producer is None or depth > 4:
        return None
    identifier = is_identifier(value, parameter)
    if identifier and refer and depth == 0 and producer in turn.earlier_calls:
        reference = _reference(turn, origin, parameter, value, call.step)
        if reference is not None:  # "that tweet", not "tweet 2" again, even when the answer showed the 2
            return reference
    phrase = producer.result_names.get(origin.get("field", ""))
    if phrase is not None:  # a computed value: itself once the user was shown it, else what computes it
        if _appears(value_words(value), turn.shown):  # but nobody types 62.0668921458098 back
            return None if machine_float(value) else value_words(value)
        return _computed_as(turn, producer, phrase, depth) if depth < _NESTED_PHRASES else None
    if not identifier:
        return None
    if len(str(value)) > 1 and _appears(str(value).lower(), turn.shown):  # ticket 1: every text holds a 1
        return value_words(value)
    if parameter not in call.choices and _identifies(producer.result, value):
        # what it was made or looked up by: the one short key among the inputs
        stated = {
            name: words
            for name in producer.arguments
            if not _unsaid(producer, name) and (words := known_as(turn, producer, name, depth + 1)) is not None
        }
        titles = [f'"{words}"' if " " in words else words for name, words in stated.items() if _titles(name)]
        keys = [words for name, words in stated.items() if is_identifier(producer.arguments[name], name)]
        if len(titles) == 1:  # a thing made or found by its title is known by it
            return titles[0]
        # a look-up's result is what it looked up (get_user_id("Bob") is Bob); a thing made by a change is not
        # what went into it (a message sent to Eve is not Eve)
        for candidates in (list(stated.values()), keys) if not producer.changes_state else ():
            if len(candidates) == 1 and len(candidates[0].split()) <= 4:
                return candidates[0]
    return _readable_sibling(producer.result, value) or _told_apart(producer.result, value, parameter)


def _reference(turn: TurnPlan, origin: dict[str, Any], parameter: str, value: Any, step: int) -> str | None:
    """How a request points back at an id an earlier turn's result gave: "that booking" for a `booking_id`,
    "them" for a person's id, "that stock" for a symbol; only when the earlier turns' results hold one such
    value, so the words point at one thing, or, among several, the one thing a change of an earlier turn
    made ("the ticket you opened").  The words vary ("this booking", "the same booking"), as people's do,
    and depend only on the plan."""
    found = _ID_PARAMETER.fullmatch(parameter)
    field = str(origin.get("field") or "")
    if found is None or not field:
        return None
    noun = found.group(1) or ""
    if found.group(2) == "symbol":
        noun = "stock"
    this = {json.dumps(value)}
    # the walk may credit a later listing's field ("message_ids"); the key the producer's result holds it under
    # ("message_id") is what an object of its kind is called
    producer = next((call for call in turn.earlier_calls if call.step == origin.get("step")), None)
    path = value_path(producer.result, value) if producer is not None else None
    key = path[-1] if path and isinstance(path[-1], str) else field
    held = {json.dumps(item) for call in turn.earlier_calls for item in _field_values(call.result, field)}
    held = held or {json.dumps(item) for call in turn.earlier_calls for item in _field_values(call.result, key)}
    named = {json.dumps(sent) for call in turn.earlier_calls for name, sent in call.arguments.items() if name == key}
    if named - this:  # the user named another such thing ("the replies to POST0002"): "that post" would be it
        return None
    if held != this:  # several such things in the history: the one the user had made, else none
        made = {  # what earlier changes brought into being: in their results, not sent by their arguments
            json.dumps(item)
            for call in turn.earlier_calls
            if call.changes_state
            for item in _field_values(call.result, key)
            if item not in call.arguments.values()
        }
        if made != this or not noun or _PERSON.fullmatch(noun):
            return None
        return f"the {noun.replace('_', ' ')} you {_MADE.get(noun, 'created')}"
    if _PERSON.fullmatch(noun):
        return "them"
    if not noun:
        return None
    pick = sum(map(ord, f"{turn.shown[:40]}{step}")) % len(_THAT)  # the same plan gives the same words
    return _THAT[pick].format(noun=noun.replace("_", " "))


def _field_values(data: Any, field: str) -> list[Any]:
    """Every value under key `field` anywhere in `data` (its items, when it holds a list)."""
    if isinstance(data, dict):
        found = []
        for key, value in data.items():
            if key != field:
                found += _field_values(value, field)
            else:
                found += value if isinstance(value, list) else [value]
        return found
    if isinstance(data, list):
        return [item for value in data for item in _field_values(value, field)]
    return []


def _computed_as(turn: TurnPlan, producer: Call, phrase: str, depth: int) -> str | None:
    """A computed value as the phrase that computes it, over the producer's arguments as the user knows them."""
    words = {name: known_as(turn, producer, name, depth + 1) for name in producer.arguments}
    return render(phrase, {name: text for name, text in words.items() if text is not None}, sentence=False)


def askable(target: Call, closure: list[Call], earlier: Sequence[Call] = ()) -> bool:
    """Whether a user could ask for `target` knowing what its own closure shows and, after `earlier` turns'
    calls, pointing back at what those made or found ("cancel that booking", "read the message you sent")."""
    turn = TurnPlan(1 if earlier else 0, closure, {}, earlier_calls=list(earlier))
    if any(origin.get("source") == "composed" for call in closure for origin in call.provenance.values()):
        return False  # a list holding values an earlier result computed: no user could say it
    return all(
        known_as(turn, call, name, refer=bool(earlier)) is not None
        for call in closure
        for name, origin in call.provenance.items()
        if origin.get("source") in _RESULT_SOURCES
        and (call is target or name in call.choices)
        and not _unsaid(call, name)
    )


def tool_request(tool: ToolInfo, values: dict[str, Any], rng: random.Random, must: Sequence[str] = ()) -> str | None:
    """One of the tool's declared requests with these slot values (None when none has all it needs),
    or for a tool that declares none, a request made from its description.

    A request that says every one of `must` (the user's own values) is preferred to one that
    leaves an optional value out.
    """
    asks = (tool.hints or {}).get("asks") or []
    if not asks:
        return _from_description(tool, values)
    phrases = [name for name, value in values.items() if isinstance(value, str) and " " in value]
    touching: list[str] = []  # a math symbol next to a phrase ("√{number}"): said only when every request has one
    fallback = None
    for index in _random_order(len(asks), rng):  # lazily: a tool declares hundreds (`servers.phrasing.expand`)
        if phrases and _symbol_next_to(asks[index], phrases):
            touching.append(asks[index])
        elif (sentence := _rendered(asks[index], values)) is not None:
            if all(_appears(word, sentence.lower()) for word in must):
                return sentence
            fallback = fallback or sentence
    if len(touching) < len(asks):
        return fallback
    rendered = [sentence for template in touching if (sentence := _rendered(template, values)) is not None]
    complete = [sentence for sentence in rendered if all(_appears(word, sentence.lower()) for word in must)]
    return (complete or rendered or [None])[0]


def _rendered(template: str, values: dict[str, Any]) -> str | None:
    sentence = render(template, values)
    return None if sentence is None else _REPEATED_NOUN.sub(r"\2 \1", sentence)


def _random_order(size: int, rng: random.Random) -> Iterator[int]:
    """0 .. size-1 in an order drawn with two numbers (a start and a stride prime to `size`), not `size`
    of them: a tool's hundreds of requests are mostly never looked at past the first."""
    stride = rng.randrange(1, size) if size > 2 else 1
    while math.gcd(stride, size) != 1:
        stride = stride % (size - 1) + 1
    start = rng.randrange(size)
    return ((start + step * stride) % size for step in range(size))


def request_for(turn: TurnPlan, tools: dict[str, ToolInfo], rng: random.Random) -> str:
    """The user's request for a turn: the target's request, and what else only the user can say.

    Values that intermediate calls look up stay implicit (they read as what the user knows
    them by); a prerequisite with inputs of its own (credentials, a card, which of several
    items) is said as a sentence of its own.  The withheld value of a missing-parameter turn
    is left out; a turn that cannot leave it out becomes a plain one.  Raises `Unphrasable`
    when the target needs a value the user cannot name.
    """
    withheld = turn.free_input_of(turn.withheld) if turn.variant == "missing_parameter" and turn.withheld else None
    target = turn.target
    values = _slot_values(turn, target, tools[target.tool], withheld)
    main = tool_request(tools[target.tool], values, rng, _must_say(turn, target, tools[target.tool], withheld))
    if main is None and withheld is not None and withheld[0] is target:
        # no request for the target reads without the value: this turn cannot leave it out
        turn.variant, turn.withheld, withheld = "plain", None, None
        main = tool_request(tools[target.tool], _slot_values(turn, target, tools[target.tool], None), rng)
    if main is None:
        raise Unphrasable(f"no request for {target.tool} can be said with what the user knows")
    said = main.lower()
    sentences = []
    asked: list[int] = []  # look-ups the request asks about: the answer reports them too
    own_ids: set[int] = set()  # look-ups of the user's own id: their login says who the user is instead
    for call in turn.calls[:-1]:
        if turn.variant == "error_recovery" and call.step in target.discovered and _acts_first(turn):
            continue  # the assistant learns this step from the error; the user does not know of it
        changes = tools[call.tool].read_only is not True  # a user asks for every change made on their behalf
        if not changes and _feeds_only_a_login(turn, call, tools):
            own_ids.add(call.step)  # the user's own id, looked up by their name: the login says "I'm Karim"
            continue
        declared = _declared_step(turn, call, tools) and not own_ids & set(call.needs)
        if changes and declared and not _must_say(turn, call, tools[call.tool], withheld):
            continue  # ... but one the tools declare a later call needs, with no value of the user's, is theirs
        if changes or any(not _appears(words, said) for words in _must_say(turn, call, tools[call.tool], withheld)):
            if _opens_session(tools[call.tool]) and call is not target:  # the goal needs it; the user gives facts
                sentence = _credentials(_slot_values(turn, call, tools[call.tool], withheld), call, rng)
            else:
                sentence = _prerequisite_request(turn, call, tools[call.tool], withheld, rng)
                if sentence is not None and not changes:
                    asked.append(call.step)
            if sentence is None and changes and withheld is not None and withheld[0] is call:
                # a change the user must ask for, and no request for it reads without the withheld value
                turn.variant, turn.withheld = "plain", None
                return request_for(turn, tools, rng)
            if sentence is not None:
                sentences.append(sentence)
                said += " " + sentence.lower()
    if withheld is not None and _appears(value_words(withheld[0].arguments[withheld[1]]), said):
        turn.variant, turn.withheld = "plain", None  # the request says it anyway (a name it was looked up by)
        return request_for(turn, tools, rng)
    # an identifier only a hidden result showed is no value of the user's (names, words and prose are)
    hidden = " ".join(json.dumps(call.result, ensure_ascii=False) for call in turn.earlier_calls).lower()
    for call in turn.calls:
        for words in _must_say(turn, call, tools[call.tool], withheld):
            if not _appears(words, said):
                raise Unphrasable(f"{call.tool} needs {words!r}, which no request for it says")
            looks_like_an_id = re.search(r"[\d_/-]", words) and not re.fullmatch(r"\d{1,3}", words)  # not "100"
            if looks_like_an_id and _appears(words, hidden) and not _appears(words, turn.shown):
                raise Unphrasable(f"the user would say {words!r}, which only an earlier result showed")
    for call in turn.calls:  # a string the sampler made up ("update_78") names nothing the user has:
        tool = tools[call.tool]  # fine as the name of a new thing ("Keep alpha_3 for me."), not as a reference
        made_up = [
            value
            for name, value in call.arguments.items()
            if call.provenance.get(name, {}).get("source") == "random" and (tool.read_only or name not in tool.required)
        ]
        if any(isinstance(value, str) and _appears(value.lower(), said) for value in made_up):
            raise Unphrasable(f"a request for {call.tool} would say a made-up value")
    turn.asked = tuple(asked)
    request = _DOUBLED_NOUN.sub(r"\2", " ".join(_sentence(text) for text in [*sentences, main]))
    if turn.index > 0:  # a later request reads as one: "Thanks. Cancel that booking."
        request = f"{rng.choice(_FOLLOW_UPS)} {request}" if rng.random() < _FOLLOW_UP_SHARE else request
    return request


def rewordings(turn: TurnPlan, tools: dict[str, ToolInfo], count: int) -> tuple[str, ...]:
    """Up to `count` other requests for a turn `request_for` has worded (`turn.query`), asking the same thing.

    Each is `request_for` again with a random generator of its own, seeded by the request and its number
    (the dialogue's generator is left as it was, so the rest of the dialogue is unchanged), on a copy of
    the turn; one is kept only when it leaves the variant, the withheld value and the look-ups the answer
    reports (`asked`) as they were.  A run at scale says a short request ("Open that post for me.") many
    times over: the near-duplicate pass (`synthesizer.synthesize.drop_near_duplicates`) takes one of these
    in its place before it cuts a dialogue short.
    """
    found: list[str] = []
    for number in range(count):
        other = dataclasses.replace(turn)
        try:
            text = request_for(other, tools, random.Random(f"{turn.query}|{number}"))
        except Unphrasable:
            continue
        same = (other.variant, other.withheld, other.asked) == (turn.variant, turn.withheld, turn.asked)
        if same and text != turn.query and text not in found:
            found.append(text)
    return tuple(found)


def _declared_step(turn: TurnPlan, call: Call, tools: dict[str, ToolInfo]) -> bool:
    """Whether `call` sets a state a later call of the turn declares it requires (`lock_all_doors` before
    `start_engine`): the tools' own descriptions make the step discoverable, so the request need not say it."""
    provides = set((tools[call.tool].hints or {}).get("provides") or [])
    later = turn.calls[turn.calls.index(call) + 1 :]
    return any(provides & set((tools[other.tool].hints or {}).get("requires") or []) for other in later)


def _feeds_only_a_login(turn: TurnPlan, call: Call, tools: dict[str, ToolInfo]) -> bool:
    """Whether every call of the turn taking a value from look-up `call` is a login: the look-up found the user's
    own id, which the user asks for no more than they say it ("I'm Karim", not "find out Karim's user id")."""
    takers = [
        other for other in turn.calls if any(origin.get("step") == call.step for origin in other.provenance.values())
    ]
    return bool(takers) and all(_opens_session(tools[other.tool]) for other in takers)


def _opens_session(tool: ToolInfo) -> bool:
    return any("logged_in" in condition for condition in (tool.hints or {}).get("provides") or [])


def _credentials(values: dict[str, Any], call: Call, rng: random.Random) -> str | None:
    """A login's inputs as facts about the user ("My user id is TRV002 and my password is ..."): the request
    states the goal and what only the user knows; that signing in comes first is the tools' to say."""
    parts = [  # a value the user knows by another name (an id looked up by the name) is said as who they are
        f"my {parameter_words(name)} is {value_words(value)}" if value == call.arguments[name] else f"I'm {value}"
        for name, value in values.items()
        if name in call.arguments and not isinstance(value, bool)
    ]
    if not parts:
        return None
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    frames = ["{joined}.", "For my account, {joined}.", "In case you need it, {joined}.", "{joined}, by the way."]
    if joined.startswith("I'm"):
        frames = ["{joined}.", "{joined}, by the way.", "Hi, {joined}."]
    return _sentence(rng.choice(frames).format(joined=joined))


def answer_for(turn: TurnPlan, tools: dict[str, ToolInfo], rng: random.Random) -> str:
    """The assistant's closing answer, in sentences, never raw JSON: every part the user asked about, in the
    order the calls gave them, then what the target returned.

    The parts are the look-ups the request asked about and the computed values it spelled out ("the log
    base 5 of the factorial of 12" asks for the factorial too).  A computed value is said as the next step
    took it, and once said, the next sentence names it by its value ("The log base 5 of 479001600 is 12.42").
    """
    target = turn.target
    refusal = _refusal(target.result, changes_state=tools[target.tool].read_only is False)
    if refusal is not None:  # a result that says no never reads as success, whatever the templates say
        return refusal
    sentences = []
    for call in turn.calls[:-1]:
        spelled = _spelled_out(turn, call)
        if call.step in turn.asked or spelled:
            text = _answer_of(turn, call, tools, rng, value_words if spelled else brief_words)
            if text:
                sentences.append(text)
                turn = dataclasses.replace(turn, shown=f"{turn.shown} {text.lower()}")
    found = [  # the id the target is about, which the turn looked up by what the user said (a handle found by the
        value  # name): the user never saw it, and the answer says it
        for name, value in target.arguments.items()
        if target.provenance.get(name, {}).get("step") in {call.step for call in turn.calls[:-1]}
        and is_identifier(value, name)
        and _identifies(target.result, value)
        and not _appears(str(value).lower(), turn.shown)
    ]
    return " ".join([*sentences, _answer_of(turn, target, tools, rng, found=found) or _summary(target.result)])


def _spelled_out(turn: TurnPlan, call: Call) -> bool:
    """Whether the request spelled `call` out as a computed value a later call of the turn takes ("the sum of
    3 and 4"): the user asked for it as a step of the computation."""
    return any(
        origin.get("step") == call.step and origin.get("field") in call.result_names
        for later in turn.calls
        for origin in later.provenance.values()
    )


def _answer_of(
    turn: TurnPlan,
    call: Call,
    tools: dict[str, ToolInfo],
    rng: random.Random,
    words: Callable[[Any], str] = brief_words,
    found: Sequence[Any] = (),
) -> str | None:
    """`call`'s result in one of its tool's declared answers (its values as `words` says them), or None when
    none renders; one that says a value of `found` first."""
    result = call.result if isinstance(call.result, dict) else {"result": call.result}
    values: dict[str, Any] = {key: _spoken_status(key, value) for key, value in result.items()}
    defaults = {name: schema.get("default") for name, schema in tools[call.tool].parameters.items()}
    for name, value in {**defaults, **call.arguments}.items():
        if value is not None:
            said = known_as(turn, call, name) if name in call.arguments and not isinstance(value, bool) else None
            values[f"@{name}"] = said or value  # a flag stays a flag: "no" would read as true
    answers = list((tools[call.tool].hints or {}).get("answers") or [])
    rng.shuffle(answers)
    rendered = [sentence for template in answers if (sentence := render(template, values, words)) is not None]
    saying = [text for text in rendered if any(_appears(str(value).lower(), text.lower()) for value in found)]
    chosen = next(iter(saying or rendered), None)
    return None if chosen is None else _sentence(re.sub(r"^Done[:,]\s*", "", chosen))


def _symbol_next_to(template: str, slots: list[str]) -> bool:
    """Whether a math symbol touches one of these slots: "√{number}" reads well with 2, not with a phrase."""
    return any(re.search(rf"[|√^×÷*/+=-]\s?\{{{slot}\}}|\{{{slot}\}}\s?[|^×÷*/+=-]", template) for slot in slots)


def _identifies(result: Any, value: Any) -> bool:
    """Whether `value` is what the result is about (its first field or its id), not a detail of it (a currency)."""
    if not isinstance(result, dict) or not result:
        return False
    keys = [key for key, item in result.items() if item == value]
    return bool(keys) and (keys[0] == next(iter(result)) or keys[0].endswith(("id", "code", "symbol", "path")))


def _titles(parameter: str) -> bool:
    return parameter.endswith(("title", "name", "subject"))


def _spoken_status(key: str, value: Any) -> Any:
    """A status or kind as words (`in_progress` -> "in progress"); names (`rosa_sahin`) and other values as they are."""
    if _NAMES_SOMEONE.search(key) or not isinstance(value, str) or not re.fullmatch(r"[a-z]+(_[a-z]+)+", value):
        return value
    return value.replace("_", " ")


def _acts_first(turn: TurnPlan) -> bool:
    """Whether the target can be tried before anything else of its turn (no value of it comes from the turn)."""
    steps = {call.step for call in turn.calls}
    return not any(origin.get("step") in steps for origin in turn.target.provenance.values())


def _prerequisite_request(
    turn: TurnPlan, call: Call, tool: ToolInfo, withheld: tuple[Call, str] | None, rng: random.Random
) -> str | None:
    """The sentence for a prerequisite the user has to speak of (credentials, a card, which item).

    When every request for it needs the withheld value, its other values are said plainly.
    """
    values = _slot_values(turn, call, tool, withheld)
    must = _must_say(turn, call, tool, withheld)
    sentence = tool_request(tool, values, rng, must)
    if sentence is None and withheld is not None and withheld[0] is call:
        # every request for it needs the withheld value: say the rest plainly ("My user id is TRV003.")
        said = [
            f"My {name.replace('_', ' ')} is {value_words(value)}."
            for name, value in values.items()
            if name in call.arguments and not isinstance(value, bool)
        ]
        return " ".join(said) or None
    return sentence


def _slot_values(turn: TurnPlan, call: Call, tool: ToolInfo, withheld: tuple[Call, str] | None) -> dict[str, Any]:
    """Slot values for one call's request: the user's own values as given, looked-up ones as the user knows them."""
    values: dict[str, Any] = {  # a flag left at its default still picks its words ("{unread_only?...|...}")
        name: schema["default"] for name, schema in tool.parameters.items() if isinstance(schema.get("default"), bool)
    }
    for name, value in call.arguments.items():
        if withheld == (call, name) or _unsaid(call, name):
            continue
        if call.provenance.get(name, {}).get("source") not in _RESULT_SOURCES:
            values[name] = _spoken(value, tool.parameters.get(name, {}))
        elif (words := known_as(turn, call, name, refer=True)) is not None:
            values[name] = words
        elif call is turn.target or name in call.choices:
            raise Unphrasable(f"{call.tool}.{name}={value!r} is nothing the user could know or name")
    return values


def _spoken(value: Any, schema: dict[str, Any]) -> Any:
    """An enum member as a person says it (`front_left` -> "front left"); other values as they are."""
    members = [member for option in schema.get("anyOf", [schema]) for member in option.get("enum", [])]
    if isinstance(value, str) and value in members:
        return value.replace("_", " ")
    return _PLACES.get(value, value) if isinstance(value, str) else value


def _must_say(turn: TurnPlan, call: Call, tool: ToolInfo, withheld: tuple[Call, str] | None) -> list[str]:
    """What the user has to say for `call`: its own values, and which item of a listing it is about."""
    words = []
    for name, value in call.arguments.items():
        if withheld == (call, name) or _unsaid(call, name) or isinstance(value, bool):
            continue
        if call.provenance.get(name, {}).get("source") not in _RESULT_SOURCES:
            words.append(value_words(_spoken(value, tool.parameters.get(name, {}))))
        elif name in call.choices:
            words.append(known_as(turn, call, name, refer=True) or "")
    return [text for text in words if text]


def _appears(words: str, text: str) -> bool:
    """`words` in `text`, case-insensitive, not inside a longer word or number."""
    return re.search(rf"(?<![\w.]){re.escape(words.lower())}(?![\w]|\.\d)", text) is not None


def _unsaid(call: Call, parameter: str) -> bool:
    """A token an earlier result gave (a fresh access token) is the model's to pass on, never the user's to say;
    one the user holds (their scenario's token, as BFCL's users state it) is said like any other value."""
    return parameter.endswith("token") and call.provenance.get(parameter, {}).get("source") in _RESULT_SOURCES


def _readable_sibling(result: Any, value: Any, siblings: list[Any] = ()) -> str | None:
    """The name or title of the object in `result` that `value` identifies (its id, code or first field).

    `siblings` are the other objects of the listing it is in: a name two of them share ("Maya
    Patel" holds two cards) does not say which one is meant.
    """
    if isinstance(result, dict):
        keys = [key for key, item in result.items() if item == value]
        if keys and (keys[0] == next(iter(result)) or keys[0].endswith(("id", "code", "symbol", "username"))):
            for key, item in result.items():
                readable = key.endswith(("name", "title", "subject", "city")) and isinstance(item, str)
                shared = any(isinstance(other, dict) and other.get(key) == item for other in siblings)
                says_it = isinstance(value, str) and readable and _appears(value, item.lower())  # "Meta" says META
                if readable and item != value and not shared and not says_it:
                    return item
            return None
        for item in result.values():
            found = _readable_sibling(item, value)
            if found is not None:
                return found
    elif isinstance(result, list):
        for position, item in enumerate(result):
            found = _readable_sibling(item, value, [*result[:position], *result[position + 1 :]])
            if found is not None:
                return found
    return None


def _told_apart(result: Any, value: Any, parameter: str) -> str | None:
    """An object of a listing that has no name, as a person tells it from the others by a detail only it has:
    "the TSLA order", "the visa card", "the booking on 2026-04-14", "the card ending in 4242", "the post by
    dkhan".  The detail is the first short text field no sibling shares, not an id, a time, a secret or a
    person other than its author (the user is one of them)."""
    found = _ID_PARAMETER.fullmatch(parameter)
    noun = (found.group(1) or "") if found is not None and found.group(2) == "id" else ""
    listed = _listing_holding(result, value)
    if not noun or listed is None:
        return None
    item, siblings = listed
    for key, detail in item.items():
        if (
            not isinstance(detail, str)
            or detail == value
            or _NOT_A_DETAIL.search(key)
            or (_PERSON.search(key) and not _AUTHOR.search(key))
            or len(detail) > 30
            or len(detail.split()) > 3
            or any(other.get(key) == detail for other in siblings)
        ):
            continue
        said, thing = _spoken_status(key, detail), noun.replace("_", " ")
        if _AUTHOR.search(key):  # a handle as spelt; one in snake_case reads as an API's word, and is not said
            if "_" in detail:
                continue
            return f"the {thing} by {detail}"
        if key.startswith("last"):
            return f"the {thing} ending in {said}"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", detail):
            return f"the {thing} on {said}"
        return f"the {said} {thing}"
    return None


def _listing_holding(result: Any, value: Any) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The object of a list in `result` that `value` identifies (an id-like field of its), and the list's others."""
    if isinstance(result, dict):
        return next((found for item in result.values() if (found := _listing_holding(item, value))), None)
    if not isinstance(result, list):
        return None
    for position, item in enumerate(result):
        if isinstance(item, dict) and any(
            detail == value and key.endswith(("id", "code")) for key, detail in item.items()
        ):
            others = [other for other in result[:position] + result[position + 1 :] if isinstance(other, dict)]
            return item, others
    return next((found for item in result if (found := _listing_holding(item, value))), None)


def _from_description(tool: ToolInfo, values: dict[str, Any]) -> str:
    """A request for a tool that declares none: its purpose as something the user wants, and the values."""
    goal = re.split(r"(?<=[.!?])\s", tool.description.strip().split("\n")[0])[0]
    goal = re.sub(r"\s*\([^)]*\)", "", goal).rstrip(".!? ")
    goal = goal[:1].lower() + goal[1:] if goal[1:2].islower() else goal
    goal = re.sub(r"\b(a|the) user's\b", "my", goal)
    given = [value_words(value) for value in values.values()]
    if not given:
        return f"I need you to {goal}."
    return f"I need you to {goal}, for {value_words(given)}."


_SAYS_NO = re.compile(r"(^|_)(status|success|ok|succeeded|found|valid|available|exists|result)$")


def _refusal(result: Any, *, changes_state: bool) -> str | None:
    """An answer for a result that reports a failure or nothing found; None for any other result.

    A change that returns nothing (BFCL's `mkdir`, a Python method returning None) is done, not empty."""
    if isinstance(result, dict) and result.get("error"):
        return _sentence(f"That didn't work: {value_words(result['error'])}")
    if isinstance(result, dict):
        false = [key for key, value in result.items() if value is False and _SAYS_NO.search(str(key).lower())]
        if false:
            return _sentence(f"That didn't go through: the {false[0].replace('_', ' ')} came back false")
    if isinstance(result, str) and re.match(r"\s*error\b", result, re.IGNORECASE):
        first = re.split(r"(?<=[.!?])\s", result.strip())[0]
        return _sentence(f"That didn't work: {first}")
    if result in (None, "") and changes_state:
        return None
    if result in (None, "", [], {}):
        return "Nothing came back: there is nothing to show for that."
    return None


def _summary(result: Any) -> str:
    """Plain sentences for a result no answer template covers."""
    if isinstance(result, dict):
        facts = [
            f"the {key.replace('_', ' ')} is {value_words(value)}"
            for key, value in result.items()
            if isinstance(value, str | int | float) and not isinstance(value, bool)
        ][:3]
        counts = [f"{len(value)} {key.replace('_', ' ')}" for key, value in result.items() if isinstance(value, list)]
        if facts or counts:
            text = "; ".join(facts + [f"there are {count}" for count in counts[:1]])
            return _sentence(f"Here is what came back: {text}")
    if isinstance(result, str) and result.strip():
        first = re.split(r"(?<=[.!?])\s", result.strip())[0]
        return _sentence(first if len(first) < 300 else "It's done")
    return "It's done."


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text[-1:] in ".?!\"'" else text + "."
