"""Which tool undoes which, by the words of their names: read by the explorer (a coverage walk whose target
changed nothing or was refused calls what reverses it) and by synthesis (no turn does and undoes a thing)."""

import re

__all__ = ["logs_out", "name_words", "undoes"]

_UNDO = {
    "clear": ("set", "store"),
    "remove": ("add", "set", "register"),
    "delete": ("create", "add", "post", "comment", "send"),
    "cancel": ("book", "place", "create", "set"),
    "unset": ("set",),
    "reset": ("set",),
    "stop": ("start",),
    "unlock": ("lock",),
    "lock": ("unlock",),
    "unfollow": ("follow",),
    "unlike": ("like",),
    "deactivate": ("activate",),
    "disable": ("enable",),
    "release": ("press", "engage"),
    "engage": ("release",),
    "withdraw": ("deposit",),
    "reopen": ("close", "resolve"),
    "out": ("in",),
    "logout": ("login",),
}
"""A verb of a tool's name -> verbs of the state changes it undoes."""
_SHELL_UNDO = {"rm": ("touch", "mkdir", "cp", "echo"), "rmdir": ("mkdir",)}


_VERBS = frozenset(_UNDO) | {verb for verbs in _UNDO.values() for verb in verbs}
_WORD_SPLIT = re.compile(r"[_\W]+|(?<=[a-z])(?=[A-Z])")


def undoes(later: str, earlier: str) -> bool:
    """Whether tool `later` reverses what tool `earlier` does, by their names: an inverse verb on the same noun
    (`clear_navigation_destination` after `set_navigation_destination`, `log_out` after `log_in`, `rm` after
    `touch`)."""
    if later in _SHELL_UNDO:
        return earlier in _SHELL_UNDO[later]
    words, earlier_words = _verbs(later), _verbs(earlier)
    if not {verb for word in words for verb in _UNDO.get(word, ())} & earlier_words:
        return False
    nouns = (words - _VERBS) & (earlier_words - _VERBS) - {"in", "out", "log"}
    return bool(nouns) or logs_out(later)


def logs_out(tool: str) -> bool:
    """Whether a tool's name says it ends a session (`log_out`, `logout`, `social_log_out`)."""
    return bool({"out", "logout"} & set(name_words(tool)))


def _verbs(tool: str) -> set[str]:
    """The words of a tool's name, lowercased, nouns cut to four letters (`doors` and `door` agree)."""
    words = name_words(tool)
    return {word if word in _VERBS or len(word) <= 4 else word[:4] for word in words}


def name_words(tool: str) -> list[str]:
    """The words of a tool's name, lowercased: `clear_navigation_destination`, `getUserPosts`."""
    return [word.lower() for word in _WORD_SPLIT.split(tool) if word]
