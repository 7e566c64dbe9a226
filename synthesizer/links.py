"""How the turns of a read dialogue build on each other, and what a request dictates: the story figures' rules.

Read on `synthesizer.chat_flow.Dialogue` (any OpenAI chat record, ours or BFCL's), over successful calls:

* A **login** call opens a session: its tool provides a `*logged_in` condition, or, without hints, its
  name says log in / sign in / authenticate.  A link through a login (its token carried on, the
  session it opened still needed) is "a login still being active", not a story.
* A later turn **carries a value** when one of its calls sends a value an earlier turn's call revealed
  (in that call's result, not an echo of its own or an earlier call's arguments), the producer being
  no login.  It carries it **unsaid** when the user had not said the value before the call either: the
  model must take it from the history ("cancel that booking").  It **refers back** when a call sends a
  value only an earlier turn's request said ("email her" after a turn about Alice).
* A later turn **acts on an object or state** of an earlier turn when one of its calls shares a value
  with an earlier turn's state-changing call (the same file, booking, ticket), needs a condition such a
  call provides (hints), or, where the earlier tool declares nothing, follows a context setter (`cd`).
  Logins do not count.
* A turn **dictates every step** when each of its calls is named by the request: a word of the tool's
  name (not a word most tools of the record share, like an environment prefix) starts a word of the
  request outside the turn's argument values, or a shell word's meaning does ("move" for `mv`); a
  login is named only by "log in", "sign in" or "authenticate" (its other words name the service).
"""

import re
from dataclasses import dataclass

from simulator.undo import name_words
from synthesizer.chat_flow import Call, Dialogue, Turn, hint
from synthesizer.query_text import appears

__all__ = ["TurnLinks", "is_login", "is_logout", "mentioned", "revealed", "turn_links"]

_LOGIN = re.compile(r"(log_?in|sign_?in|authenticat|login)", re.IGNORECASE)
_LOGOUT = re.compile(r"(log_?out|sign_?out|logoff|logout)", re.IGNORECASE)
_SAID_LOGIN = re.compile(r"\b(log(ged)? ?(me )?in|sign(ed)? ?(me )?in|authenticat|login)")
_CONTEXT = re.compile(r"(^|_)(cd|chdir|select|switch|use|open)(_|$)")
_STOP = frozenset(
    [
        "get",
        "set",
        "list",
        "info",
        "information",
        "details",
        "data",
        "by",
        "of",
        "to",
        "for",
        "the",
        "all",
        "new",
        "my",
        "id",
        "ids",
        "current",
        "is",
        "has",
        "do",
        "make",
        "show",
        "view",
        "find",
        "search",
        "check",
    ]
)
_SHELL = {
    "cd": ("go to", "go into", "navigat", "enter ", "switch to", "head to", "cd "),
    "ls": ("list", "content", "files", "show"),
    "mv": ("move", "rename"),
    "cp": ("copy", "duplicat"),
    "rm": ("remov", "delet"),
    "rmdir": ("remov", "delet"),
    "mkdir": ("creat", "make", "new director", "new folder"),
    "touch": ("creat", "file"),
    "cat": ("content", "display", "show", "read"),
    "grep": ("search", "find", "line"),
    "wc": ("count",),
    "du": ("size", "usage"),
    "pwd": ("where", "current director"),
    "echo": ("write",),
    "diff": ("compar", "differ", "juxtapos"),
    "tail": ("last",),
    "head": ("first",),
}
"""Shell words (BFCL's file system) and the stems a request uses for them."""


@dataclass(frozen=True)
class TurnLinks:
    """What ties one later turn to the turns before it (each a short reason, or None)."""

    value: str | None = None  # a value an earlier result revealed
    unsaid: str | None = None  # ... which the user had not said again
    reference: str | None = None  # a value only an earlier request said
    state: str | None = None  # an object an earlier state change touched, or a state it set
    login: str | None = None  # only a session an earlier login opened

    @property
    def depends(self) -> bool:
        """Linked beyond a login still being active."""
        return bool(self.value or self.reference or self.state)


def turn_links(dialogue: Dialogue, turn: Turn) -> TurnLinks:
    """The links of `turn` (a later turn of `dialogue`) to the turns before it."""
    earlier = [call for call in dialogue.calls if call.turn < turn.index and not call.failed]
    own = [call for call in turn.calls if not call.failed]
    value = unsaid = reference = state = login = None
    asked_before = "\n".join(t.query.lower() for t in dialogue.turns[: turn.index])
    session = {  # what logins revealed (a token): sharing it is the login still being active
        item for login_call in earlier if is_login(dialogue, login_call) for item in login_call.result.split("\n")
    }
    for call in own:
        for path, item in call.values:
            producers = [e for e in earlier if revealed(e, item)]
            for producer in producers:
                why = f"{call.tool}.{path}={item!r} from {producer.tool} (turn {producer.turn})"
                if is_login(dialogue, producer):
                    login = login or why
                    continue
                value = value or why
                if not appears(call.user_before, item) and unsaid is None:
                    unsaid = why
            said_now = appears(turn.query.lower(), item)
            shown_now = any(appears(c.result, item) for c in own if c.message < call.message)
            if not producers and not said_now and not shown_now and appears(asked_before, item):
                reference = reference or f"{call.tool}.{path}={item!r} said in an earlier request"
        for producer in earlier:
            if dialogue.read_only(producer.tool):
                continue
            why = _state_link(dialogue, producer, call, session)
            if why is None:
                continue
            if is_login(dialogue, producer):
                login = login or why
            else:
                state = state or why
    return TurnLinks(value, unsaid, reference, state, login)


def revealed(call: Call, value: str) -> bool:
    """`call`'s result shows `value`, and neither its own arguments nor an earlier call's sent it."""
    return appears(call.result, value) and value not in call.every_value and value not in call.used_before


def is_login(dialogue: Dialogue, call: Call) -> bool:
    provides = hint(dialogue, call.tool, "provides")
    if provides:
        return any("logged_in" in condition or "login" in condition for condition in provides)
    return bool(_LOGIN.search(call.tool)) and not _LOGOUT.search(call.tool)


def is_logout(call: Call) -> bool:
    return bool(_LOGOUT.search(call.tool))


def mentioned(dialogue: Dialogue, call: Call, query: str, values: list[str] = ()) -> bool:
    """Whether the request names the step `call` takes (see the module docstring); words inside the turn's
    argument `values` ("San Francisco International Airport") name no step."""
    lowered = query.lower()
    for value in sorted(values, key=len, reverse=True):
        if len(value) > 3:
            lowered = lowered.replace(value, " ")
    if is_login(dialogue, call):  # "log me in" names the step; "Post ... on Twitter" names the goal, not the login
        return bool(_SAID_LOGIN.search(lowered))
    stems = _SHELL.get(call.tool)
    if stems is not None:
        return any(stem in lowered for stem in stems)
    words = set(re.findall(r"[a-z]+", lowered))
    shared = _namespace_words(dialogue)
    for word in name_words(call.tool):
        if word in _STOP or word in shared or len(word) < 3:
            continue
        stem = word[:5] if len(word) > 5 else word
        if any(token.startswith(stem) for token in words):
            return True
    return False


def _state_link(dialogue: Dialogue, producer: Call, call: Call, session: set[str]) -> str | None:
    shared = ({value for _, value in producer.values} & {value for _, value in call.values}) - session
    if shared:
        return f"{call.tool} acts on {sorted(shared)[0]!r} that {producer.tool} (turn {producer.turn}) changed"
    conditions = set(hint(dialogue, producer.tool, "provides")) & set(hint(dialogue, call.tool, "requires"))
    if conditions:
        return f"{call.tool} needs {sorted(conditions)[0]} that {producer.tool} (turn {producer.turn}) set"
    if producer.tool not in dialogue.hints and _CONTEXT.search(producer.tool.lower()):
        return f"{call.tool} runs in the context {producer.tool} (turn {producer.turn}) set"
    return None


def _namespace_words(dialogue: Dialogue) -> frozenset[str]:
    """Words in over a third of the record's tool names (with at least six tools): `travel_`, `ticket`."""
    names = dialogue.tools.names
    if len(names) < 6:
        return frozenset()
    counts: dict[str, int] = {}
    for name in names:
        for word in set(name_words(name)):
            counts[word] = counts.get(word, 0) + 1
    return frozenset(word for word, count in counts.items() if count * 3 > len(names))
