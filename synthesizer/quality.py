"""Quality figures of a function-calling dataset: would a fine-tuner want to train on it (issues 11 and 13)?

A measurement, not a filter: it reads any OpenAI chat export (ours or anyone's: `messages` with
`tool_calls`, `role: tool` results, optional `tools` and `metadata`) and counts what teaches a model
bad habits, each figure with its denominator and a few examples a person can look up.

How a record is read (turns, failed calls, values, data flow, read-only tools, closures) is
written in `synthesizer.chat_flow`; how turns link and what a request names, in `synthesizer.links`.

The story figures (issue 23), each with its denominator and an example of what it counts:

* `user_turns_per_dialogue`: user turns (a query and its follow-ups) / dialogues.  `dialogues_with_3_turns`:
  dialogues with three or more / dialogues.
* `dependent_dialogues`: dialogues of >= 2 turns with a later turn that carries a value an earlier result
  revealed, refers back to a value only an earlier request said, or acts on an object or state an
  earlier state change made, a login's token or session not counting / dialogues of >= 2 turns
  ("Book me a flight ..." then "Email me its invoice": the booking id comes from the history).
  `dependent_later_turns`: the same per later task turn / later task turns (`by_value`, `by_reference`,
  `by_state` split it).  `unlinked_dialogues`: no link at all, not even a login / dialogues of >= 2 turns.
* `unsaid_value_dialogues`: dialogues of >= 2 turns with a later call sending an earlier result's value
  the user had not said ("cancel that booking") / dialogues of >= 2 turns.
* `undo_in_one_turn`: task turns in which a state change is followed by its inverse on the same object
  (`set_navigation_destination` then `clear_navigation_destination`; `log_in` then `log_out`) / task turns.
  `login_only_to_log_out`: turns with a login and then a logout / turns with a login.
* `dictated_steps`: turns with >= 2 successful calls whose request names every one of them ("Hold the
  brake. Lock the car. Start the engine.") / turns with >= 2 successful calls.
* `skipped_step_errors`: error-recovery turns (a failed call later made again with success) whose fixing
  call, between the failure and the retry, the request named ("log me in and send Bob hi", and the
  assistant sent first) / error-recovery turns.
* `last_part_only_answers`: answers to a request with a sentence that asks about a look-up of the turn
  ("tell me Catherine's user id"; tell/show/find/list/what/which..., naming the look-up and not the last
  call; no login), which report the last call (a change by confirming it, a look-up by a value it
  revealed) and none of those look-ups / such answers.  `dropped_asked_results`:
  those answers missing any named call's result / the same answers.
* `success_after_failure`: answers of turns whose last call failed or said no (an error, a false status,
  nothing found), with no word of refusal, failure or absence in them ("It's done." after "User not
  authenticated") / turns whose last call failed or said no.
* `common_reasoning_opening`: reasoning blocks whose first six words are the most common six (when two
  blocks or more share them) / blocks.
* `unsourced_history_values`: reasoning blocks whose calls send a value carried unsaid from an earlier
  turn's result, naming neither the tool that gave it nor the history ("earlier", "already", "before") / such blocks.
"""

import copy
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from simulator.undo import undoes
from synthesizer.chat_flow import Call, Dialogue, Flows, Turn, feeds, hint, shape_problem
from synthesizer.errors import DatasetError
from synthesizer.jsonl import json_lines
from synthesizer.links import TurnLinks, is_login, is_logout, mentioned, revealed, turn_links
from synthesizer.query_text import NEAR_DUPLICATE, appears, near_duplicates, shingles, tool_text_in

__all__ = ["QUALITY_FIGURES", "figure_value", "format_quality", "measure_quality", "read_records"]

logger = logging.getLogger(__name__)

QUALITY_FIGURES: dict[str, tuple[str, str]] = {
    # issue 11: every call needed and grounded, parallel where independent
    "unneeded_state_changes": ("multi-call turns with a state-changing call its target does not need", "0"),
    "unused_intermediate_calls": ("intermediate calls whose result and state change feed nothing later", "0"),
    "ungrounded_values": ("argument values not in earlier user words, results or the schema", "0"),
    "altered_user_values": ("error-recovery turns with a call that changes a value the user gave", "0"),
    "calls_per_task_turn": ("calls per task turn not building on an earlier one (mean)", ">= 2.0"),
    "chained_task_turns": ("such task turns whose target needs >= 2 calls of the turn (a real chain)", ">= 50%"),
    "parallel_independent_calls": ("multi-call turns whose every call is made as early as its inputs allow", ">= 90%"),
    "dependent_calls_sharing_a_message": ("multi-call messages with a call that needs another one's result", "0"),
    # issue 13: queries, answers and reasoning in a person's voice
    "tool_text_in_queries": ("queries with a description sentence, tool name, snake_case or 'name: value'", "0"),
    "unshown_references": ("queries referring to a value the user was never shown", "0"),
    "templated_answers": ('answers starting with the template "Done:"', "0"),
    "raw_or_cut_answers": ("answers with raw JSON or cut off", "0"),
    "near_duplicate_queries": ("queries in a near-duplicate pair (Jaccard >= 0.8 on word 3-shingles)", "<= 5%"),
    "distinct_query_frames": ("distinct query frames (values and names masked) per query", ">= 80%"),
    "invented_dependencies": ("reasoning blocks naming a dependency the data flow does not have", "0"),
    # issue 23: dialogues whose turns build on each other, hard queries, right lessons
    "user_turns_per_dialogue": ("user turns per dialogue (mean)", ">= 3.5"),
    "dialogues_with_3_turns": ("dialogues with >= 3 user turns", ">= 60%"),
    "dependent_dialogues": ("dialogues with a later turn depending on an earlier one (beyond a login)", ">= 75%"),
    "dependent_later_turns": ("later turns depending on an earlier turn (value, object or state)", ">= 50%"),
    "unsaid_value_dialogues": ("dialogues whose later turn takes an earlier result's value unsaid", ">= 40%"),
    "unlinked_dialogues": ("dialogues with no link at all between their turns", "-"),
    "undo_in_one_turn": ("turns that undo, in the same turn, what a call of theirs did", "0"),
    "login_only_to_log_out": ("turns with a login that log out again", "0"),
    "dictated_steps": ("multi-call turns whose request names every step", "<= 20%"),
    "skipped_step_errors": ("error-recovery turns whose fix is a step the request asked for", "0"),
    "last_part_only_answers": ("answers to a several-part request reporting only the last part", "<= 5%"),
    "dropped_asked_results": ("answers missing a result the request asked for", "0"),
    "success_after_failure": ("answers after a failed, false or empty result that read as success", "0"),
    "common_reasoning_opening": ("reasoning blocks opening with the most common 6 words", "<= 5%"),
    "unsourced_history_values": ("reasoning blocks using an earlier turn's value without saying whence", "0"),
}
"""Figure key -> (what it counts, the goal issues 11, 13 and 23 set for a default run; "-": no goal).

Calls per turn and chained turns count the turns that stand on their own (first turns, changes of
topic): a follow-up that takes its inputs from the history ("cancel that booking", or the session an
earlier turn's login opened: "now list my bookings") is rightly one call."""

_EXAMPLES = 5
_PERMUTATIONS = 128
_CANDIDATES = 64
_BATCH = 2000
"""Queries whose MinHash signatures are made together (`MinHash.bulk`), then indexed."""
_REFERENCE = re.compile(
    r"\bthe (?:[\w-]+ ){0,4}?(?:from (?:before|earlier|above)|as before|you (?:just )?(?:found|got|looked up))\b"
)
_IDENTIFIER = re.compile(r"(?=\S*[a-z])(?=\S*\d)\S{3,}|\S*[a-z0-9][/_-][a-z0-9]\S*")  # ids, paths
_RAW_JSON = re.compile(r'[{,]\s*"[^"\n]{1,80}"\s*:\s*["\d\[{tfn-]|\[\s*"[^"\n]*"\s*[,\]]|\{\s*\}|\[\s*\]')
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")
_FIRST_BECAUSE = re.compile(r"\b(\w+) first,? because (.*)")
_NEEDS = re.compile(r"\b(\w+) needs\b")
_NEEDS_FROM = re.compile(r"\b(\w+) needs (?:its |the |an? )?[\w ]{1,40}? from (?:the result of )?(\w+)")
_FROM_RESULT = re.compile(r"\b(?:from the result of|returned by|produced by|given by|depends on) (\w+)")
_QUOTED = re.compile(r'"[^"]*"')
_NAME = re.compile(r"(?<=[^.!?] )(?!I\b|I')[A-Z][\w'-]*")  # a capitalized word mid-sentence, not "I"
_TOKEN_WITH_DIGITS = re.compile(r"[^\s<>]*[\d_/@][^\s<>]*")


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a JSONL export, one per non-blank line; `DatasetError` names the line that is not one."""
    for number, record in json_lines(path, DatasetError):
        problem = shape_problem(record)
        if problem:
            raise DatasetError(f"{path}:{number}: {problem}")
        yield record


def measure_quality(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Every figure of `QUALITY_FIGURES` over `records` (OpenAI chat records), with counts, totals and examples."""
    tally = _Tally()
    for number, record in enumerate(records, 1):
        tally.add(Dialogue.read(record, number))
    logger.info("measured %d samples, %d task turns", tally.counts["samples"], tally.counts["task_turns"])
    return tally.result()


def format_quality(quality: dict[str, Any]) -> str:
    """The figures as a table a person reads, with examples under each figure that misses its goal."""
    counts = quality["counts"]
    lines = [", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items()), ""]
    lines.append(f"{'figure':<{_WIDTH}}  {'value':<34}  {'goal':<7}  ")
    for figure in quality["figures"].values():
        mark = "ok" if figure["ok"] else "MISSED"
        lines.append(f"{figure['what']:<{_WIDTH}}  {figure_value(figure):<34}  {figure['goal']:<7}  {mark}")
    for key, figure in quality["figures"].items():
        if not figure["ok"] and figure["examples"]:
            lines += ["", f"{key}:", *(f"  - {example}" for example in figure["examples"])]
    return "\n".join(lines)


def figure_value(figure: dict[str, Any]) -> str:
    """'112 / 355 (31.5%)', or the mean for a mean."""
    if "mean" in figure:
        counted, over = figure.get("units", ("calls", "turns"))
        return f"{figure['mean']:.2f} ({figure['count']:,} {counted} / {figure['total']:,} {over})"
    share = "n/a" if figure["share"] is None else f"{figure['share']:.1%}"
    return f"{figure['count']:,} / {figure['total']:,} ({share})"


_WIDTH = max(len(what) for what, _ in QUALITY_FIGURES.values())


# --- the tally ----------------------------------------------------------------------------------------------------


class _Tally:
    """Counts over all dialogues; queries are kept for the near-duplicate and frame figures at the end."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.figures = {
            key: {"count": 0, "total": 0, "examples": [], **copy.deepcopy(_EXTRAS.get(key, {}))}
            for key in QUALITY_FIGURES
        }
        self.queries: list[tuple[str, str]] = []  # (where, text)
        self.frames: Counter[str] = Counter()
        self.openings: Counter[str] = Counter()  # the first six words of each reasoning block

    def hit(self, key: str, where: str, detail: str) -> None:
        figure = self.figures[key]
        figure["count"] += 1
        if len(figure["examples"]) < _EXAMPLES:
            figure["examples"].append(f"{where}: {detail}")

    def add(self, dialogue: Dialogue) -> None:
        self.counts["samples"] += 1
        self.counts["turns"] += len(dialogue.turns)
        self.counts["calls"] += len(dialogue.calls)
        flows = Flows.of(dialogue)
        links = {turn.index: turn_links(dialogue, turn) for turn in dialogue.turns[1:] if turn.calls}
        self._grounding(dialogue)
        for turn in dialogue.turns:
            where = f"{dialogue.name} turn {turn.index}"
            self._query(dialogue, turn, where)
            if turn.calls:
                self.counts["task_turns"] += 1
                link = links.get(turn.index)
                standalone = link is None or not (link.depends or link.login)
                self._turn(dialogue, flows, turn, where, standalone)
                if turn.answer is not None:
                    self._answer(turn.answer, where)
        self._messages(dialogue, where=dialogue.name)
        self._reasoning(dialogue)
        self._story(dialogue, links)

    # issue 11 -------------------------------------------------------------------------------------------------------

    def _grounding(self, dialogue: Dialogue) -> None:
        figure = self.figures["ungrounded_values"]
        for call in dialogue.calls:
            earlier = "\n".join(other.result for other in dialogue.calls if other.message < call.message)
            for path, value in call.values:
                figure["total"] += 1
                if appears(call.user_before, value) or appears(earlier, value):
                    continue
                later = "appears only later" if appears(dialogue.all_text, value) else "appears nowhere"
                where = f"{dialogue.name} turn {call.turn}"
                self.hit("ungrounded_values", where, f"{call.tool}.{path}={value!r} {later}")

    def _turn(self, dialogue: Dialogue, flows: Flows, turn: Turn, where: str, standalone: bool) -> None:
        calls = turn.calls
        done = [call for call in calls if not call.failed]
        if standalone:
            self.figures["calls_per_task_turn"]["count"] += len(calls)
            self.figures["calls_per_task_turn"]["total"] += 1
        targets = [call for call in done if call.tool == turn.target_tool] or done
        target = targets[-1] if targets else None
        needed = flows.closure(target) if target else set()
        chained = sum(call.index in needed for call in done) >= 2
        self.figures["chained_task_turns"]["total"] += standalone
        if chained and standalone:
            self.figures["chained_task_turns"]["count"] += 1
        elif standalone and len(self.figures["chained_task_turns"]["examples"]) < _EXAMPLES and target:
            self.figures["chained_task_turns"]["examples"].append(f"{where}: {' -> '.join(c.tool for c in calls)}")
        if len(calls) >= 2:
            self.figures["unneeded_state_changes"]["total"] += 1
            unneeded = [c for c in done if c.index not in needed and not dialogue.read_only(c.tool)]
            if unneeded and target:
                names = ", ".join(c.tool for c in unneeded)
                self.hit("unneeded_state_changes", where, f"{names} not needed by the target {target.tool}")
        for call in done:
            if call is target:
                continue
            self.figures["unused_intermediate_calls"]["total"] += 1
            if not flows.users.get(call.index):
                self.hit("unused_intermediate_calls", where, f"nothing later uses {call.tool}")
        self._independence(flows, done, where)
        recovering = turn.variant == "error_recovery" if turn.variant else any(call.failed for call in calls)
        if recovering:
            self.figures["altered_user_values"]["total"] += 1
            altered = _altered_user_values(calls)
            if altered:
                self.hit("altered_user_values", where, altered)

    def _independence(self, flows: Flows, done: list[Call], where: str) -> None:
        """A turn with independent calls is parallel when every call is made in the earliest message that the
        calls it needs allow: no message boundary holds back a call that could have gone along sooner.

        (Pairwise "every independent pair shares a message" cannot hold in general: with A -> B and C
        independent of both, C can share a message with A or with B, not both.)
        """
        closures = {call.index: flows.closure(call) for call in done}
        pairs = [
            (a, b)
            for i, a in enumerate(done)
            for b in done[i + 1 :]
            if a.index not in closures[b.index] and b.index not in closures[a.index]
        ]
        if not pairs:
            return
        figure = self.figures["parallel_independent_calls"]
        figure["total"] += 1
        figure["pairs"] += len(pairs)
        figure["parallel_pairs"] += sum(a.message == b.message for a, b in pairs)
        level = {message: number for number, message in enumerate(sorted({call.message for call in done}))}
        earliest: dict[int, int] = {}
        held_back = None
        for call in sorted(done, key=lambda call: call.message):
            needed = [earliest[c.index] for c in done if c.index in closures[call.index] and c.index != call.index]
            earliest[call.index] = 1 + max(needed, default=-1)
            if level[call.message] > earliest[call.index] and held_back is None:
                held_back = call
        if held_back is None:
            figure["count"] += 1
        elif len(figure["examples"]) < _EXAMPLES:
            figure["examples"].append(f"{where}: {held_back.tool} could have been made with an earlier call")

    def _messages(self, dialogue: Dialogue, where: str) -> None:
        figure = self.figures["dependent_calls_sharing_a_message"]
        for position, calls in dialogue.messages_with_calls.items():
            if len(calls) < 2:
                continue
            figure["total"] += 1
            earlier = "\n".join(c.result for c in dialogue.calls if c.message < position)
            for later in calls:
                producers = [
                    other.tool
                    for other in calls
                    if other is not later
                    and (
                        any(
                            appears(other.result, value)
                            and not appears(later.user_before, value)
                            and not appears(earlier, value)
                            for _, value in later.values
                        )
                        or set(hint(dialogue, other.tool, "provides")) & set(hint(dialogue, later.tool, "requires"))
                    )
                ]
                if producers:
                    self.hit(
                        "dependent_calls_sharing_a_message",
                        f"{where} turn {later.turn}",
                        f"{later.tool} needs {producers[0]} but shares its message",
                    )
                    break

    # issue 13 -------------------------------------------------------------------------------------------------------

    def _query(self, dialogue: Dialogue, turn: Turn, where: str) -> None:
        query = turn.query.strip()
        lowered = " ".join(query.lower().split())
        self.counts["queries"] += 1
        self.queries.append((where, lowered))
        self.frames[_frame(query, dialogue.argument_values)] += 1
        found = tool_text_in(lowered, dialogue.tools.text, dialogue.argument_text)
        self.figures["tool_text_in_queries"]["total"] += 1
        by_kind = self.figures["tool_text_in_queries"]["by_kind"]
        for kind in {kind for kind, _, _ in found}:
            by_kind[kind] = by_kind.get(kind, 0) + 1
        if found:
            self.hit("tool_text_in_queries", where, f"{found[0][0]} {found[0][1]!r} in {query[:120]!r}")
        self.figures["unshown_references"]["total"] += 1
        self.figures["unshown_references"]["phrase_references"] += bool(_REFERENCE.search(lowered))
        unshown = _unshown_reference(dialogue, turn, lowered)
        if unshown:
            self.hit("unshown_references", where, unshown)

    def _answer(self, answer: str, where: str) -> None:
        self.counts["answers"] += 1
        for key in ("templated_answers", "raw_or_cut_answers"):
            self.figures[key]["total"] += 1
        if re.match(r"\s*done\s*:", answer, re.IGNORECASE):
            self.hit("templated_answers", where, repr(answer[:100]))
        raw = bool(_RAW_JSON.search(answer))
        cut = _looks_cut(answer)
        if raw or cut:
            kind = " and ".join(k for k, on in (("raw JSON", raw), ("cut", cut)) if on)
            figure = self.figures["raw_or_cut_answers"]
            figure["raw_json"] += raw
            figure["cut"] += cut
            self.hit("raw_or_cut_answers", where, f"{kind}: ...{answer[-80:]!r}")

    def _reasoning(self, dialogue: Dialogue) -> None:
        figure = self.figures["invented_dependencies"]
        for text, calls in dialogue.reasoning:
            self.counts["reasoning_blocks"] += 1
            self.openings[_opening(text)] += 1
            figure["total"] += 1
            claim = _invented_dependency(dialogue, text, calls)
            if claim:
                turn = calls[0].turn if calls else "?"
                self.hit("invented_dependencies", f"{dialogue.name} turn {turn}", claim)

    # issue 23 -------------------------------------------------------------------------------------------------------

    def _story(self, dialogue: Dialogue, by_turn: dict[int, TurnLinks]) -> None:
        turns = self.figures["user_turns_per_dialogue"]
        turns["count"] += len(dialogue.turns)
        turns["total"] += 1
        self._share("dialogues_with_3_turns", len(dialogue.turns) >= 3, dialogue.name, f"{len(dialogue.turns)} turns")
        links = [(dialogue.turns[index], link) for index, link in by_turn.items()]
        for turn, link in links:
            where = f"{dialogue.name} turn {turn.index}"
            figure = self.figures["dependent_later_turns"]
            figure["by_value"] += bool(link.value)
            figure["by_reference"] += bool(link.reference)
            figure["by_state"] += bool(link.state)
            self._share("dependent_later_turns", link.depends, where, link.value or link.reference or link.state)
        if len(dialogue.turns) >= 2:
            depends = next((link for _, link in links if link.depends), None)
            why = depends and (depends.value or depends.reference or depends.state)
            self._share("dependent_dialogues", depends is not None, dialogue.name, why or "")
            unsaid = next((link.unsaid for _, link in links if link.unsaid), None)
            self._share("unsaid_value_dialogues", unsaid is not None, dialogue.name, unsaid or "")
            linked = depends is not None or any(link.login for _, link in links)
            self._share("unlinked_dialogues", not linked, dialogue.name, dialogue.turns[1].query[:100])
        for turn in dialogue.turns:
            where = f"{dialogue.name} turn {turn.index}"
            done = [call for call in turn.calls if not call.failed]
            if turn.calls:
                undone = _undone(dialogue, done)
                self._share("undo_in_one_turn", undone is not None, where, f"{undone} in {turn.query[:100]!r}")
            logins = [call for call in done if is_login(dialogue, call)]
            if logins:
                out = any(is_logout(call) and call.index > logins[0].index for call in done)
                self._share("login_only_to_log_out", out, where, repr(turn.query[:120]))
            if len(done) >= 2:
                named = all(mentioned(dialogue, call, turn.query, _argument_text(done)) for call in done)
                self._share("dictated_steps", named, where, repr(turn.query[:160]))
            fixer = _recovery_fix(dialogue, turn)
            if fixer is not None:
                asked = fixer if fixer and mentioned(dialogue, fixer, turn.query, _argument_text(turn.calls)) else None
                detail = f"the request asked for {asked.tool}: {turn.query[:120]!r}" if asked else ""
                self._share("skipped_step_errors", asked is not None, where, detail)
            if turn.answer is not None and done:
                self._parts(dialogue, turn, done, where)
            if turn.answer is not None and turn.calls and turn.calls[-1].negative:
                success = not _NEGATIVE.search(turn.answer)
                detail = f"{turn.answer[:80]!r} after {turn.calls[-1].tool}: {turn.calls[-1].result[:60]!r}"
                self._share("success_after_failure", success, where, detail)
        self._sources(dialogue)

    def _share(self, key: str, counted: bool, where: str, detail: str | None) -> None:
        self.figures[key]["total"] += 1
        if counted:
            self.hit(key, where, detail or "")

    def _parts(self, dialogue: Dialogue, turn: Turn, done: list[Call], where: str) -> None:
        answer = turn.answer.lower() if turn.answer else ""
        target = done[-1]
        values = _argument_text(done)
        sentences = [s for s in _SENTENCE_END.split(turn.query) if s.strip()]
        told = [  # look-ups a sentence of the request asks about, a sentence not about the last call
            call
            for call in done[:-1]
            if dialogue.read_only(call.tool)
            and not is_login(dialogue, call)
            and _revealed_values(call)
            and any(
                _ASKING.search(sentence)
                and mentioned(dialogue, call, sentence, values)
                and not mentioned(dialogue, target, sentence, values)
                for sentence in sentences
            )
        ]
        if not told:
            return
        reported = [any(_told(answer, value) for value in _revealed_values(call)) for call in told]
        shows = _revealed_values(target)
        # a change is reported by confirming it; a look-up by giving what it found
        reported.append(not dialogue.read_only(target.tool) or not shows or any(_told(answer, v) for v in shows))
        last_only = reported[-1] and not any(reported[:-1])
        self._share("last_part_only_answers", last_only, where, f"{turn.answer!r} for {turn.query[:100]!r}")
        dropped = not all(reported)
        self.figures["last_part_only_answers"]["dropped"] += dropped
        parts = [*told, target]
        missing = next((call.tool for call, shown in zip(parts, reported, strict=True) if not shown), "")
        self._share("dropped_asked_results", dropped, where, f"no result of {missing} in {turn.answer!r}")

    def _sources(self, dialogue: Dialogue) -> None:
        for text, calls in dialogue.reasoning:
            carried = [
                (call, producer)
                for call in calls
                for _, value in call.values
                for producer in dialogue.calls
                if producer.turn < call.turn
                and not producer.failed
                and revealed(producer, value)
                and not appears(call.user_before, value)
                and not _revealed_in_its_turn(dialogue, call, value)
            ]
            if not carried:
                continue
            lowered = text.lower()
            said = _WHENCE.search(lowered) or any(producer.tool in lowered for _, producer in carried)
            call, producer = carried[0]
            detail = f"{call.tool} takes a value of {producer.tool} (turn {producer.turn}): {text[:100]!r}"
            self._share("unsourced_history_values", not said, f"{dialogue.name} turn {call.turn}", detail)

    def _openings(self) -> None:
        figure = self.figures["common_reasoning_opening"]
        figure["total"] = sum(self.openings.values())
        if self.openings:
            count = self.openings.most_common(1)[0][1]
            figure["count"] = count if count > 1 else 0  # an opening no other block has is no common one
            figure["examples"] = [f"{n} blocks: {text!r}" for text, n in self.openings.most_common(_EXAMPLES)]

    # result ---------------------------------------------------------------------------------------------------------

    def result(self) -> dict[str, Any]:
        self._near_duplicates()
        frames = self.figures["distinct_query_frames"]
        frames["count"], frames["total"] = len(self.frames), sum(self.frames.values())
        frames["examples"] = [f"{n} queries: {frame!r}" for frame, n in self.frames.most_common(_EXAMPLES) if n > 1]
        for key in ("calls_per_task_turn", "user_turns_per_dialogue"):
            mean = self.figures[key]
            mean["mean"] = round(mean["count"] / mean["total"], 3) if mean["total"] else 0.0
            mean["examples"] = []
        self._openings()
        figures = {}
        for key, (what, goal) in QUALITY_FIGURES.items():
            figure = self.figures[key]
            share = round(figure["count"] / figure["total"], 4) if figure["total"] and "mean" not in figure else None
            if "by_kind" in figure:
                figure["by_kind"] = dict(sorted(figure["by_kind"].items()))
            figures[key] = {"what": what, "goal": goal, **figure, "share": share, "ok": _meets(goal, figure, share)}
        return {"counts": {key: self.counts[key] for key in _COUNTS}, "figures": figures}

    def _near_duplicates(self) -> None:
        """MinHash LSH proposes pairs; each is confirmed on the exact Jaccard of word 3-shingles.

        Exact repeats are matched by their text and never enter the index, and at most `_CANDIDATES`
        proposals are checked per query, so a file of look-alike queries stays near-linear.  Signatures
        are made a batch at a time and shingles again for each proposal, so what stays in memory per
        query is its text and its bands (`_Bands`).
        """
        from datasketch import MinHash  # seconds to import (its package pulls in its async parts)

        figure = self.figures["near_duplicate_queries"]
        figure["total"] = len(self.queries)
        members: set[int] = set()
        first: dict[str, int] = {}
        unique: list[int] = []
        for number, (_, text) in enumerate(self.queries):
            if text in first:
                members.update((first[text], number))
                self._pair(figure, first[text], number)
            else:
                first[text] = number
                unique.append(number)
        del first
        index = _Bands()
        for start in range(0, len(unique), _BATCH):
            batch = unique[start : start + _BATCH]
            grams = [shingles(self.queries[number][1]) for number in batch]
            signatures = MinHash.bulk([[gram.encode() for gram in own] for own in grams], num_perm=_PERMUTATIONS)
            for number, own, signature in zip(batch, grams, signatures, strict=True):
                bands = index.bands(signature)
                for other in index.query(bands)[:_CANDIDATES]:
                    if other in members and number in members:
                        continue
                    if near_duplicates(shingles(self.queries[other][1]), own):
                        members.update((other, number))
                        self._pair(figure, other, number)
                index.insert(number, bands)
        figure["count"] = len(members)

    def _pair(self, figure: dict[str, Any], one: int, other: int) -> None:
        if len(figure["examples"]) < _EXAMPLES:
            (where, text), (again, _) = self.queries[one], self.queries[other]
            figure["examples"].append(f"{where} ~ {again}: {text[:100]!r}")


class _Bands:
    """datasketch's `MinHashLSH` (same bands, same proposals in the same order) with a query's number
    kept alone under a band no other query shares, and no record of each query's bands: at 70,000
    queries that is a third of its memory."""

    def __init__(self) -> None:
        from datasketch import MinHashLSH

        self._ranges = MinHashLSH(threshold=NEAR_DUPLICATE, num_perm=_PERMUTATIONS).hashranges
        self._tables: list[dict[bytes, int | set[int]]] = [{} for _ in self._ranges]

    def bands(self, signature: Any) -> list[bytes]:
        return [bytes(signature.hashvalues[start:end].byteswap().data) for start, end in self._ranges]

    def query(self, bands: list[bytes]) -> list[int]:
        candidates: set[int] = set()
        for band, table in zip(bands, self._tables, strict=True):
            found = table.get(band)
            if isinstance(found, int):
                candidates.add(found)
            elif found:
                candidates.update(found)
        return list(candidates)

    def insert(self, number: int, bands: list[bytes]) -> None:
        for band, table in zip(bands, self._tables, strict=True):
            found = table.get(band)
            if found is None:
                table[band] = number
            elif isinstance(found, int):
                table[band] = {found, number}
            else:
                found.add(number)


_EXTRAS: dict[str, dict[str, Any]] = {
    "parallel_independent_calls": {"pairs": 0, "parallel_pairs": 0},
    "unshown_references": {"phrase_references": 0},
    "tool_text_in_queries": {"by_kind": {}},
    "raw_or_cut_answers": {"raw_json": 0, "cut": 0},
    "user_turns_per_dialogue": {"units": ["turns", "dialogues"]},
    "dependent_later_turns": {"by_value": 0, "by_reference": 0, "by_state": 0},
    "last_part_only_answers": {"dropped": 0},
}
"""Counts some figures carry beside their own: independent pairs, "from before" phrases, kinds, reasons."""
_COUNTS = ("samples", "turns", "task_turns", "calls", "queries", "answers", "reasoning_blocks")


def _revealed_in_its_turn(dialogue: Dialogue, call: Call, value: str) -> bool:
    """A call of the same turn before `call` gave `value` (round_number's 100, not the 100 of an earlier
    turn's "... * 100"): that call is where it comes from."""
    return any(
        earlier.turn == call.turn and earlier.index < call.index and not earlier.failed and revealed(earlier, value)
        for earlier in dialogue.calls
    )


def _meets(goal: str, figure: dict[str, Any], share: float | None) -> bool:
    if goal == "-":
        return True
    if goal == "0":
        return figure["count"] == 0
    value = figure.get("mean", share)
    if value is None:  # nothing to measure, e.g. no turn with independent calls
        return True
    number = float(goal.split()[1].rstrip("%")) / (100 if goal.endswith("%") else 1)
    return value >= number if goal.startswith(">=") else value <= number


# --- the checks -----------------------------------------------------------------------------------------------------


def _altered_user_values(calls: list[Call]) -> str | None:
    """A call sends a value next to one the user gave: same tool and argument with the user's value, or a near copy."""
    for call in calls:
        for path, value in call.values:
            if appears(call.user_before, value):
                continue
            for other in calls:
                for other_path, other_value in other.values:
                    if (
                        other.tool == call.tool
                        and other_path == path
                        and other_value != value
                        and appears(other.user_before, other_value)
                    ):
                        return f"{call.tool}.{path}={value!r} where the user gave {other_value!r}"
            for word in set(call.user_before.split()):
                word = word.strip("\"'.,;:!?()")
                near = abs(len(word) - len(value)) <= 2 and len(word) >= 4 and word[:2] == value[:2]
                near = near and not word.isalpha()  # an identifier or a password, not a plain word
                if near and SequenceMatcher(None, word, value).ratio() >= 0.75:
                    return f"{call.tool}.{path}={value!r} where the user gave {word!r}"
    return None


def _unshown_reference(dialogue: Dialogue, turn: Turn, query: str) -> str | None:
    """A value the turn's calls take from an earlier turn's results that no user-visible text showed.

    Counted when the query refers to it ("the file name from before") or says it although it is an
    identifier (letters with digits, or '-', '_' or '/' inside) the user could only know from a hidden result.
    """
    hidden = "\n".join(call.result for call in dialogue.calls if call.turn < turn.index)
    referring = bool(_REFERENCE.search(query))
    for call in turn.calls:
        for path, value in call.values:
            if not appears(hidden, value) or appears(turn.visible_before, value):
                continue
            said = appears(query, value)
            if said and _IDENTIFIER.fullmatch(value):
                return f"the user says {value!r}, which only a hidden result showed"
            own = any(appears(c.result, value) for c in turn.calls if c.message < call.message)
            if referring and not said and not own:
                return f"{call.tool}.{path}={value!r} is referred to but was never shown to the user"
    return None


def _looks_cut(answer: str) -> bool:
    """Ends in an ellipsis or a bare word, or leaves a bracket or quote open."""
    text = answer.rstrip()
    if text.endswith(("...", "…")) or text[-1:].isalnum():
        return True
    return text.count("{") != text.count("}") or text.count("[") != text.count("]") or text.count('"') % 2 == 1


def _invented_dependency(dialogue: Dialogue, text: str, calls: list[Call]) -> str | None:
    """A sentence says one tool feeds another, and no value of the first's result is in the second's arguments."""
    names = dialogue.tools.names | {call.tool for call in dialogue.calls}
    for sentence in _SENTENCE_END.split(text):
        claims: list[tuple[str, str]] = []  # (producer, consumer)
        first = _FIRST_BECAUSE.search(sentence)
        if first:
            claims += [(first.group(1), consumer) for consumer in _NEEDS.findall(first.group(2))]
        claims += [(producer, consumer) for consumer, producer in _NEEDS_FROM.findall(sentence)]
        claims += [(producer, call.tool) for producer in _FROM_RESULT.findall(sentence) for call in calls]
        for producer, consumer in claims:
            if (
                producer in names
                and consumer in names
                and producer != consumer
                and not _flows(dialogue, producer, consumer)
            ):
                return f"says {consumer} needs {producer}: {sentence.strip()[:120]!r}"
    return None


def _flows(dialogue: Dialogue, producer: str, consumer: str) -> bool:
    return any(
        earlier.tool == producer
        and later.tool == consumer
        and earlier.message < later.message
        and feeds(earlier, later, everything=True)
        for later in dialogue.calls
        for earlier in dialogue.calls
    )


_NEGATIVE = re.compile(
    r"\b(not|no|none|nothing|never|cannot|can't|couldn't|didn't|isn't|wasn't|won't|unable|fail\w*|error|sorry"
    r"|empty|refus\w*|denied|without|unfortunately|instead|doesn't|don't|aren't|invalid)\b|n't\b",
    re.IGNORECASE,
)
"""Words with which an answer says something did not happen or was not found."""
_ASKING = re.compile(r"\b(tell|show|find|look|list|give|what|which|who|how|where|let me know|pull up)\b", re.IGNORECASE)
"""Words with which a sentence asks to be told something."""
_WHENCE = re.compile(
    r"\b(earlier|already|before|previous\w*|last turn|above|history|you (?:just )?gave|we (?:just )?got)\b"
)
"""Words with which reasoning says a value comes from the dialogue so far."""


def _undone(dialogue: Dialogue, calls: list[Call]) -> str | None:
    """'B undoes A' for the first successful state change B that reverses an earlier A of the turn on its object."""
    for position, later in enumerate(calls):
        if dialogue.read_only(later.tool):
            continue
        later_values = {value for _, value in later.values}
        for earlier in calls[:position]:
            if dialogue.read_only(earlier.tool) or not undoes(later.tool, earlier.tool):
                continue
            if not later_values or later_values & {value for _, value in earlier.values}:  # the same object
                return f"{later.tool} undoes {earlier.tool}"
    return None


def _recovery_fix(dialogue: Dialogue, turn: Turn) -> Call | bool | None:
    """For an error-recovery turn (a failed call later made again, successfully), the first state change made
    between the failure and the retry (False when none was); None for any other turn."""
    for failed in turn.calls:
        if not failed.failed:
            continue
        retry = next((c for c in turn.calls if c.index > failed.index and c.tool == failed.tool and not c.failed), None)
        if retry is None:
            continue
        between = [
            c
            for c in turn.calls
            if failed.index < c.index < retry.index and not c.failed and not dialogue.read_only(c.tool)
        ]
        return between[0] if between else False
    return None


def _argument_text(calls: list[Call]) -> list[str]:
    return [value for call in calls for _, value in call.values]


def _revealed_values(call: Call) -> list[str]:
    """The values a call's result showed that its arguments did not send (what an answer could report)."""
    if call.failed:
        return []
    return [
        value
        for value in dict.fromkeys(call.result.split("\n"))
        if len(value) >= 2 and value not in ("true", "false", "none", "null") and revealed(call, value)
    ]


def _told(answer: str, value: str) -> bool:
    """Whether `answer` gives `value`: as written, or a number rounded to what the answer shows of it, to three
    significant digits at least ("157.97" gives 157.970036, "0.3698" gives 0.36977612; "2" gives no 2.4, but 2.0)."""
    if appears(answer, value):
        return True
    try:
        number = float(value)
    except ValueError:
        return False
    for shown in _NUMBER.findall(answer):
        if float(shown) == number:  # the same number written shorter: "16" gives 16.0
            return True
        mantissa = re.sub(r"e.*", "", shown.lstrip("-")).lstrip("0.")
        if len(mantissa.replace(".", "")) < 3:
            continue
        decimals = len(shown.split("e")[0].partition(".")[2])
        exponent = int(shown.split("e")[1]) if "e" in shown else 0
        if abs(float(shown) - number) <= 0.5 * 10 ** (exponent - decimals) * (1 + 1e-9):
            return True
    return False


def _opening(text: str) -> str:
    return " ".join(re.findall(r"[\w'-]+", text.lower())[:6])


def _frame(query: str, values: frozenset[str]) -> str:
    """A query's frame: its words once values and names are masked (two queries that differ only in values
    share one)."""
    masked = _QUOTED.sub("<v>", query)
    masked = _NAME.sub("<name>", masked).lower()
    for value in sorted(values, key=len, reverse=True):
        if appears(masked, value):
            masked = masked.replace(value, "<v>")
    return " ".join(_TOKEN_WITH_DIGITS.sub("<v>", " ".join(masked.split())).split())
