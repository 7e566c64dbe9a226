"""One task played in one sandbox, message by message: the state machine behind eval, the gym and the RL hooks.

The model speaks; every call it makes is executed for real (through MCP, so arguments are
validated and refusals come back as error results); a reply without calls ends its part of
the turn.  The episode then plays the user: the missing-parameter follow-up once the model
has asked, the announcement of a withheld tool once it said it cannot act, else the turn is
graded against the ground truth's state and the next user turn begins.
"""

import json
from typing import Any

from evaluation.checker import TurnEvidence, TurnGrade, grade_turn
from evaluation.errors import RolloutError
from evaluation.tasks import Task, TaskTurn, start_task
from servers import hash_state
from simulator import Connection
from synthesizer.llm import ChatReply
from synthesizer.toolcalls import read_reply

__all__ = ["Episode", "reply_from_message"]

_ANNOUNCE = "A new tool is available: "
_GO_AHEAD = "That tool is available now. Please go ahead."


class Episode:
    """A task in a sandbox reached through `connection`; `start()` first, then `step()` each assistant reply."""

    def __init__(self, task: Task, connection: Connection) -> None:
        self.task = task
        self.connection = connection
        self.messages: list[dict[str, Any]] = []
        self.tools: list[dict[str, Any]] = []
        """The tools offered now (a withheld one joins once announced)."""
        self.evidence: list[TurnEvidence] = []
        self.grades: list[TurnGrade] = []
        self._turn = 0
        self._replies = 0
        self._followed_up = False

    @property
    def done(self) -> bool:
        return len(self.grades) == len(self.task.turns)

    @property
    def turn(self) -> TaskTurn:
        return self.task.turns[self._turn]

    async def start(self) -> list[dict[str, Any]]:
        """Reset the sandbox to the task's scenario and seed; returns the first user message."""
        await start_task(self.task, self.connection)
        self.messages, self.tools, self.evidence, self.grades = [], list(self.task.tools), [], []
        self._turn = 0
        return self._begin_turn()

    async def step(self, reply: ChatReply) -> list[dict[str, Any]]:
        """Take one assistant reply; returns what comes back: tool results, or the user's next words ([] at the end)."""
        if self.done or not self.messages:
            raise RolloutError("the episode is over" if self.done else "call start() before step()")
        self._replies += 1
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning:
            message["reasoning"] = reply.reasoning
        evidence = self.evidence[-1]
        if reply.tool_calls:
            message["tool_calls"] = [
                self._call_entry(call, len(evidence.calls) + n) for n, call in enumerate(reply.tool_calls)
            ]
            self.messages.append(message)
            results = [
                await self._execute(call, entry)
                for call, entry in zip(reply.tool_calls, message["tool_calls"], strict=True)
            ]
            self.messages.extend(results)
            if self._replies >= self._reply_limit():
                return results + await self._end_turn(finished=False)
            return results
        self.messages.append(message)
        evidence.answer = reply.content
        turn = self.turn
        if turn.variant == "missing_parameter" and turn.follow_up and not self._followed_up and not evidence.calls:
            evidence.asked = True
            self._followed_up = True
            return self._say([{"role": "user", "content": turn.follow_up}])
        if turn.variant == "missing_tool" and turn.withheld and turn.withheld not in self._offered():
            evidence.asked = True
            tool = self.task.extra_tool(turn.withheld)
            self.tools.append(tool)
            announcement = turn.announcement or [
                {
                    "role": "system",
                    "content": "A new tool is available: " + json.dumps(tool["function"], ensure_ascii=False),
                },
                {"role": "user", "content": _GO_AHEAD},
            ]
            return self._say([dict(m) for m in announcement])
        return await self._end_turn(finished=True)

    async def finish(self) -> list[dict[str, Any]]:
        """End a turn the model left after calls without answering (a trainer's tool loop stopped): unfinished.

        A turn in which the model did nothing yet is left as it is: the rollout never reached it.
        """
        if self.done or not self.evidence or not self.evidence[-1].calls:
            return []
        return await self._end_turn(finished=False)

    def _begin_turn(self) -> list[dict[str, Any]]:
        self.evidence.append(TurnEvidence())
        self._replies = 0
        self._followed_up = False
        return self._say([{"role": "user", "content": self.turn.query}])

    async def _end_turn(self, *, finished: bool) -> list[dict[str, Any]]:
        evidence = self.evidence[-1]
        evidence.finished = finished
        state = await self.connection.state() if self.connection.fresh_state else None
        evidence.state_hash = hash_state(state) if state is not None else None
        self.grades.append(grade_turn(self.turn, evidence))
        if self.done:
            return []
        self._turn += 1
        return self._begin_turn()

    def _say(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.messages.extend(messages)
        return messages

    def _reply_limit(self) -> int:
        return 2 * len(self.turn.calls) + 6

    def _offered(self) -> set[str]:
        return {tool["function"]["name"] for tool in self.tools}

    def _call_entry(self, call: dict[str, Any], number: int) -> dict[str, Any]:
        arguments = json.dumps(call.get("arguments") or {}, ensure_ascii=False)
        function = {"name": call.get("name") or "", "arguments": arguments}
        return {"id": f"call_{self._turn}_{number}", "type": "function", "function": function}

    async def _execute(self, call: dict[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
        """Run one call for real; an unreadable call or a tool not offered is refused without running."""
        name, arguments = entry["function"]["name"], call.get("arguments") or {}
        if "error" in call:
            result, text, is_error = None, f"error: {call['error']}", True
        elif name not in self._offered():
            result, text, is_error = (
                None,
                f"error: there is no tool {name!r} (offered: {', '.join(sorted(self._offered()))})",
                True,
            )
        else:
            step = await self.connection.call(name, arguments)
            result, text, is_error = step.result, step.text, step.is_error
        self.evidence[-1].calls.append({"tool": name, "arguments": arguments, "result": result, "is_error": is_error})
        return {"role": "tool", "tool_call_id": entry["id"], "name": name, "content": text}


def reply_from_message(message: dict[str, Any]) -> ChatReply:
    """An OpenAI-format assistant message (native `tool_calls` or `<tool_call>` text) as a reply to step with."""
    content = message.get("content") or ""
    if not message.get("tool_calls"):
        parsed = read_reply(content)
        text, calls = parsed.content, parsed.tool_calls
        return ChatReply(content=text if calls else content, tool_calls=calls, reasoning=message.get("reasoning") or "")
    calls = []
    for call in message["tool_calls"]:
        function = call["function"]
        arguments = function.get("arguments") or {}
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
            if not isinstance(parsed, dict):
                raise ValueError("arguments are not an object")
            calls.append({"name": function["name"], "arguments": parsed})
        except ValueError as error:
            calls.append({"name": function["name"], "arguments": {}, "error": f"arguments are not valid JSON: {error}"})
    return ChatReply(content=content, tool_calls=calls, reasoning=message.get("reasoning") or "")
