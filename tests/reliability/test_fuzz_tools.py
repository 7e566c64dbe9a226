"""Hostile tool input, generated: every call gets a result, no server dies, every error changes nothing.

The default run makes a few hundred calls; `-m heavy` (or FUNREASON_FUZZ_EXAMPLES) makes over 10,000.
"""

import os
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mcp import Client

from servers import canonical_json, create_sandbox, environment_names, get_environment, serve_sandbox

CALLS_PER_EXAMPLE = 40
HUGE = "x" * 1_000_000
"""One megabyte: drawn for about one string in twenty, enough to hit every tool with it."""
HOSTILE_STRINGS = st.integers(0, 19).flatmap(
    lambda roll: (
        st.just(HUGE)
        if roll == 0
        else st.one_of(
            st.text(max_size=40),
            st.sampled_from(["", " ", "../../etc/passwd", "/etc/shadow", "..", "/", "//", "\x00", "C:\\Windows", "~"]),
            st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), min_size=1, max_size=8),
        )
    )
)
HOSTILE_NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**63, -(2**63), 1e308, -0.0]),
)
ANYTHING = st.one_of(
    HOSTILE_STRINGS,
    HOSTILE_NUMBERS,
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _value_for(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly values of the declared type (hostile ones), sometimes anything at all."""
    kinds = {option.get("type") for option in schema.get("anyOf", [schema])}
    typed = []
    if "string" in kinds:
        typed.append(HOSTILE_STRINGS)
        if "enum" in schema:
            typed.append(st.sampled_from(schema["enum"]))
    if kinds & {"integer", "number"}:
        typed.append(HOSTILE_NUMBERS)
    if "boolean" in kinds:
        typed.append(st.booleans())
    if "array" in kinds:
        typed.append(st.lists(st.one_of(HOSTILE_STRINGS, HOSTILE_NUMBERS), max_size=5))
    return st.one_of(*typed, ANYTHING) if typed else ANYTHING


@st.composite
def calls(draw: st.DrawFn, env: str) -> list[tuple[str, dict[str, Any]]]:
    env_class = get_environment(env)
    tool_names = sorted(env_class.tool_specs())
    made = []
    for _ in range(CALLS_PER_EXAMPLE):
        name = draw(st.sampled_from([*tool_names, "no_such_tool"]))
        if name == "no_such_tool":
            made.append((name, {}))
            continue
        parameters = list(env_class.tool_signature(name).parameters)
        arguments = {}
        for parameter in parameters:
            if draw(st.integers(0, 9)) == 0:
                continue  # missing, required or not
            arguments[parameter] = draw(_value_for(_schema(env_class, name, parameter)))
        if draw(st.integers(0, 9)) == 0:
            arguments[draw(st.text(min_size=1, max_size=8))] = draw(ANYTHING)  # an extra argument
        made.append((name, arguments))
    return made


def _schema(env_class: Any, tool: str, parameter: str) -> dict[str, Any]:
    from pydantic import TypeAdapter

    annotation = env_class.tool_signature(tool).parameters[parameter].annotation
    try:
        return TypeAdapter(annotation).json_schema()
    except Exception:
        return {}


EXAMPLES = int(os.environ.get("FUNREASON_FUZZ_EXAMPLES", "4"))
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # megabyte-long reprs
FUZZED = {"calls": 0}


def _fuzz(env: str, sequence: list[tuple[str, dict[str, Any]]]) -> None:
    sandbox = create_sandbox(env)

    async def main() -> None:
        async with Client(serve_sandbox(sandbox)) as client:
            for tool, arguments in sequence:
                before = canonical_json(sandbox.state())
                result = await client.call_tool(tool, arguments)
                FUZZED["calls"] += 1
                assert result.content, f"{tool} gave an empty result"
                if result.is_error:
                    assert canonical_json(sandbox.state()) == before, (
                        f"{tool}({arguments!r:.200}) failed but changed state"
                    )
                else:
                    get_environment(env).state_model.model_validate(sandbox.state()[env])
            assert (await client.call_tool("no_such_tool", {})).is_error  # still answering, with an error result

    anyio.run(main)


@pytest.mark.parametrize("env", environment_names())
def test_hostile_calls_default(env):
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(calls(env))
    def check(sequence: list[tuple[str, dict[str, Any]]]) -> None:
        _fuzz(env, sequence)

    check()


@pytest.mark.heavy
@pytest.mark.parametrize("env", environment_names())
def test_hostile_calls_full(env):
    """8 environments x 32 examples x 40 calls = 10,240 calls."""

    @settings(
        max_examples=32,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: megabyte strings make it take many minutes
    )
    @given(calls(env))
    def check(sequence: list[tuple[str, dict[str, Any]]]) -> None:
        _fuzz(env, sequence)

    before = FUZZED["calls"]
    check()
    assert FUZZED["calls"] - before >= 32 * CALLS_PER_EXAMPLE
