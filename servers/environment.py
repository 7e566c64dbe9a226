"""The Environment base: a typed state plus tools declared once, with dependency hints."""

import inspect
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from servers.phrasing import TemplateError, expand, parse_template, voices
from servers.state import StateModel, same_data

__all__ = ["Environment", "EnvironmentSnapshot", "ToolSpec", "tool"]


@dataclass(frozen=True)
class ToolSpec:
    """What a tool declares about itself besides its signature.

    `consumes` maps a parameter to the entity type it needs (`order_id`), `produces`
    maps an output field to the entity type it yields (a list field yields one per
    item).  `requires` and `provides` name state conditions (`logged_in`) that one
    tool establishes and another needs.  The simulator draws graph edges from these.
    """

    read_only: bool = False
    consumes: Mapping[str, str] = field(default_factory=dict)
    produces: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    asks: tuple[str, ...] = ()
    """How a user asks for this tool's work, several ways (`servers.phrasing` templates over the arguments)."""
    answers: tuple[str, ...] = ()
    """How an assistant reports the result (templates over the result's fields and `@arguments`)."""
    names: Mapping[str, str] = field(default_factory=dict)
    """How a person names a computed result field, as a noun phrase over the arguments
    (`{"result": "the sum of {a} and {b}"}`).  Nobody knows such a value before the call, so a
    later call that takes it keeps this call in its chain and the request says the phrase."""

    def unsaid(self) -> set[str]:
        """Parameters no user ever states: session credentials (consumed entities named `*token`)."""
        return {parameter for parameter, entity in self.consumes.items() if entity.endswith("token")}

    def hints(self) -> dict[str, Any]:
        """The JSON form published in the MCP tool metadata."""
        return {
            "read_only": self.read_only,
            "consumes": dict(self.consumes),
            "produces": dict(self.produces),
            "requires": list(self.requires),
            "provides": list(self.provides),
            "asks": list(self.asks),
            "answers": list(self.answers),
            "names": dict(self.names),
        }

    @classmethod
    def from_hints(cls, hints: Mapping[str, Any]) -> "ToolSpec":
        """The spec whose `hints()` these are (missing keys take the defaults): a hints file's tool table."""
        return cls(
            bool(hints.get("read_only", False)),
            dict(hints.get("consumes") or {}),
            dict(hints.get("produces") or {}),
            tuple(hints.get("requires") or ()),
            tuple(hints.get("provides") or ()),
            tuple(hints.get("asks") or ()),
            tuple(hints.get("answers") or ()),
            dict(hints.get("names") or {}),
        )


def tool(
    *,
    read_only: bool = False,
    consumes: Mapping[str, str] | None = None,
    produces: Mapping[str, str] | None = None,
    requires: tuple[str, ...] | list[str] = (),
    provides: tuple[str, ...] | list[str] = (),
    asks: tuple[str, ...] | list[str] = (),
    answers: tuple[str, ...] | list[str] = (),
    names: Mapping[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark an Environment method as a tool.

    The method's typed parameters (`Annotated[..., Field(description=...)]`) become the
    input schema, its return annotation the output schema and its docstring the
    description a model reads.  `asks` are expanded (`servers.phrasing.expand`, `voices`); they,
    `answers` and `names` are checked here, at import time: every slot of a request or a name is a
    parameter and every required parameter has a slot in each request.
    """
    spec = ToolSpec(
        read_only,
        dict(consumes or {}),
        dict(produces or {}),
        tuple(requires),
        tuple(provides),
        tuple(dict.fromkeys(voice for text in asks for variant in expand(text) for voice in voices(variant))),
        tuple(answers),
        dict(names or {}),
    )

    def mark(method: Callable[..., Any]) -> Callable[..., Any]:
        _check_phrasing(method, spec)
        method.__tool_spec__ = spec  # type: ignore[attr-defined]
        return method

    return mark


def _check_phrasing(method: Callable[..., Any], spec: ToolSpec) -> None:
    parameters = list(inspect.signature(method).parameters.values())[1:]
    known = {parameter.name for parameter in parameters}
    required = {parameter.name for parameter in parameters if parameter.default is inspect.Parameter.empty}
    required -= spec.unsaid()
    for text in spec.asks:
        template = parse_template(text)
        if unknown := template.slots - known:
            raise TemplateError(f"{method.__name__}: request {text!r} names unknown parameters {sorted(unknown)}")
        if unsaid := required - template.required_slots:
            raise TemplateError(f"{method.__name__}: request {text!r} leaves out required {sorted(unsaid)}")
    for text in spec.answers:
        template = parse_template(text)
        if unknown := {slot[1:] for slot in template.slots if slot.startswith("@")} - known:
            raise TemplateError(f"{method.__name__}: answer {text!r} names unknown parameters {sorted(unknown)}")
    for text in spec.names.values():
        if unknown := parse_template(text).slots - known:
            raise TemplateError(f"{method.__name__}: name {text!r} names unknown parameters {sorted(unknown)}")


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """Everything needed to put an environment back exactly: state and random stream."""

    state: dict[str, Any]
    rng_state: tuple[Any, ...]


class Environment:
    """A stateful tool environment.

    Subclasses set `name`, `description`, `state_model` and define tools with `@tool`.
    Tools read and change `self.state`, draw randomness only from `self.rng`, and
    raise `servers.errors.ToolError` subclasses to refuse a call.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    state_model: ClassVar[type[StateModel]]
    version: ClassVar[str] = "1"
    builtin_scenarios: ClassVar[dict[str, dict[str, Any]]] = {}
    """Initial states that ship with the class rather than as fixture files (name -> state)."""
    builtin_pools: ClassVar[dict[str, list[Any]]] = {}
    """Value pools that ship with the class (a hints file's), added to `fixtures/<name>/pools.json`."""

    def __init__(self, state: StateModel | dict[str, Any], seed: int = 0) -> None:
        self.state = state if isinstance(state, StateModel) else self.state_model.model_validate(state)
        self.seed = seed
        self.rng = random.Random(f"{seed}:{self.name}")

    @classmethod
    def tool_specs(cls) -> dict[str, ToolSpec]:
        """Tool name -> spec, in definition order (base-class tools first)."""
        specs: dict[str, ToolSpec] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                if callable(member) and hasattr(member, "__tool_spec__"):
                    specs[name] = member.__tool_spec__
        return specs

    @classmethod
    def tool_signature(cls, name: str) -> inspect.Signature:
        """The tool's signature without `self`, annotations evaluated."""
        signature = inspect.signature(getattr(cls, name), eval_str=True)
        return signature.replace(parameters=list(signature.parameters.values())[1:])

    def state_data(self) -> dict[str, Any]:
        """The current state as JSON data: what is hashed, diffed and shown."""
        return self.state.snapshot()

    def snapshot(self) -> EnvironmentSnapshot:
        """Take a snapshot by dump, never by deep copy (it is taken before every write)."""
        return EnvironmentSnapshot(self.state.snapshot(), self.rng.getstate())

    def restore(self, snapshot: EnvironmentSnapshot) -> None:
        """Put state and random stream back as they were at `snapshot`."""
        self.state = self.state_model.model_validate(snapshot.state)
        self.rng.setstate(snapshot.rng_state)

    def undo(self, snapshot: EnvironmentSnapshot) -> None:
        """`restore` after a refused call, which mostly refuses before it changes anything: a state
        whose dump is still the snapshot's, byte for byte, keeps its objects (dumping and comparing
        cost half of validating the snapshot into new ones), and only the random stream goes back.
        A subclass with its own `restore` (state kept besides `state`) always gets it."""
        try:
            unchanged = type(self).restore is Environment.restore and same_data(self.state_data(), snapshot.state)
        except Exception:  # a call that broke the state half-way may not even dump
            unchanged = False
        if unchanged:
            self.rng.setstate(snapshot.rng_state)
        else:
            self.restore(snapshot)

    def fork(self) -> Self:
        """A twin with an equal state of its own and the same random stream; both futures start equal.

        The constructor does not run again (no scenario to parse, no seeding): attributes it derived
        from the seed carry over as they are, so an environment that keeps mutable attributes besides
        `state` and `rng` overrides this.  The state is copied by dump and validation, never deep copy.
        """
        twin = object.__new__(type(self))  # a shallow copy, as copy.copy makes it at a fifth of the cost
        twin.__dict__.update(self.__dict__)
        twin.state = self.state_model.model_validate(self.state.model_dump())
        twin.rng = random.Random.__new__(random.Random)
        twin.rng.setstate(self.rng.getstate())
        return twin
