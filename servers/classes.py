"""Any stateful Python class as an environment: public methods become tools, public attributes the state."""

import copy
import functools
import importlib
import inspect
import random
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, TypeAdapter, WithJsonSchema, create_model

from servers.environment import Environment, EnvironmentSnapshot, ToolSpec
from servers.errors import ScenarioError, ToolError
from servers.state import StateModel

__all__ = ["PassThrough", "environment_from_class", "import_class", "with_hints"]


def environment_from_class(
    target: type,
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    loader: str | None = None,
    scenarios: Mapping[str, Mapping[str, Any]] = {},  # noqa: B006 (read only)
    trust_annotations: bool = False,
) -> type[Environment]:
    """Wrap `target` as an Environment class.

    Each public method becomes a tool: its parameter hints give the input schema, its
    docstring (Google `Args:` or reST `:param x:` style) the descriptions.  The instance's
    public attributes are the state.  `config` is the default initial state and `scenarios`
    more named ones, each loaded by the method named `loader` (e.g. BFCL's `_load_scenario`)
    or by attribute assignment.

    Classes written by others often annotate loosely or wrongly, so by default results pass
    through as the method returned them (a JSON object as structured content, anything else as
    text) with no output schema, since none could be promised true of every result; parameter
    annotations give the published input schema but convert and refuse nothing, so the method
    gets what the caller sent, as in a direct call.  `trust_annotations=True` validates inputs
    and publishes output schemas from the annotations instead.  A method that raises gives an
    error result and changes nothing; one that returns `{"error": ...}` (or a list of nothing but such
    dicts) gives an error result holding exactly that value, the state as the method left it (as a
    direct call would).
    """
    defaults = _public_attributes(target())
    if loader is not None and not callable(getattr(target, loader, None)):
        raise ScenarioError(f"{target.__name__} has no loading method {loader!r}")
    fields: dict[str, Any] = {
        attribute: (Any, Field(default=None, description=f"The instance attribute {attribute!r}."))
        for attribute in defaults
    }
    state_model = create_model(f"{target.__name__}State", __base__=StateModel, **fields)
    if loader is not None:  # the loader may accept keys that are not attributes yet
        state_model.model_config["extra"] = "allow"
        state_model.model_rebuild(force=True)
    namespace: dict[str, Any] = {
        "name": name or _snake_case(target.__name__),
        "description": _summary(inspect.getdoc(target)) or f"The {target.__name__} environment.",
        "state_model": state_model,
        "builtin_scenarios": {"default": dict(config or {})} | {key: dict(state) for key, state in scenarios.items()},
        "target": target,
        "loader": loader,
    }
    for method_name, method in inspect.getmembers(target, inspect.isfunction):
        if not method_name.startswith("_") and method_name != loader and _has_named_parameters(method):
            namespace[method_name] = _tool_method(method_name, method, trust_annotations)
    return type(f"{target.__name__}Environment", (ClassEnvironment,), namespace)


def with_hints(
    env_class: type[Environment],
    tools: Mapping[str, Mapping[str, Any]],
    pools: Mapping[str, list[Any]] = {},  # noqa: B006 (read only)
) -> type[Environment]:
    """`env_class` with the hints of a hints file: its tools declare them as `@tool` would, and publish them.

    `tools` maps a tool name to its table (the keys of `ToolSpec.hints()`, a `description` that
    replaces the docstring); `pools` become the class's `builtin_pools`.  Calls run unchanged.
    Tables are checked by `simulator.hints.load_hints`; a name that is no tool is refused here.
    """
    specs = env_class.tool_specs()
    namespace: dict[str, Any] = {"builtin_pools": {key: list(values) for key, values in pools.items()}}
    for tool_name, table in tools.items():
        if tool_name not in specs:
            raise ScenarioError(f"{env_class.name} has no tool {tool_name!r}")
        namespace[tool_name] = _hinted(getattr(env_class, tool_name), specs[tool_name], table)
    return type(env_class.__name__, (env_class,), namespace)


def _hinted(method: Callable[..., Any], spec: ToolSpec, table: Mapping[str, Any]) -> Callable[..., Any]:
    @functools.wraps(method)  # the same signature, so the same schemas
    def call(self: Environment, **arguments: Any) -> Any:
        return method(self, **arguments)

    call.__tool_spec__ = ToolSpec.from_hints({**spec.hints(), **table})  # type: ignore[attr-defined]
    call.__doc__ = table.get("description") or method.__doc__
    return call


def import_class(spec: str) -> type:
    """`package.module:ClassName` -> the class, with a one-line error when it cannot be found.

    The current directory is importable, as with `python -m`, so a user's own module works.
    """
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ScenarioError(f"--class must look like package.module:ClassName, got {spec!r}")
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        target = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ScenarioError(f"cannot import {spec!r}: {error}") from error
    if not isinstance(target, type):
        raise ScenarioError(f"{spec!r} is not a class")
    return target


def _is_error_dict(value: Any) -> bool:
    return isinstance(value, dict) and "error" in value


class PassThrough(BaseModel):
    """A method's return value, to be sent as it is (no output schema); `is_error` for a returned error dict.

    A model, so that the sandbox's check for values JSON cannot carry (NaN, infinity) looks inside it.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    value: Any
    is_error: bool = False


@dataclass(frozen=True)
class ClassSnapshot(EnvironmentSnapshot):
    """A snapshot that also keeps a deep copy of every attribute, for exact restores."""

    attributes: dict[str, Any]


class ClassEnvironment(Environment):
    """An environment whose state lives in an instance of a user's class."""

    target: ClassVar[type]
    loader: ClassVar[str | None]

    def __init__(self, state: Mapping[str, Any], seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(f"{seed}:{self.name}")
        self.instance = self.target()
        config = copy.deepcopy(dict(state))
        if self.loader is not None:
            getattr(self.instance, self.loader)(config)
        else:
            for attribute, value in config.items():
                setattr(self.instance, attribute, value)

    def state_data(self) -> dict[str, Any]:
        return _plain(_public_attributes(self.instance), ())

    def snapshot(self) -> ClassSnapshot:
        return ClassSnapshot(self.state_data(), self.rng.getstate(), copy.deepcopy(vars(self.instance)))

    def restore(self, snapshot: EnvironmentSnapshot) -> None:
        assert isinstance(snapshot, ClassSnapshot)
        self.instance.__dict__.clear()
        self.instance.__dict__.update(copy.deepcopy(snapshot.attributes))
        self.rng.setstate(snapshot.rng_state)

    def fork(self) -> Self:
        """A fresh instance of the user's class, then every attribute and the random stream restored."""
        twin = type(self)(self.state_data(), self.seed)
        twin.restore(self.snapshot())
        return twin


def _tool_method(method_name: str, method: Callable[..., Any], trust_annotations: bool) -> Callable[..., Any]:
    doc = inspect.getdoc(method) or ""
    descriptions = _parameter_descriptions(doc)
    signature = inspect.signature(method, eval_str=True)
    parameters = [
        parameter.replace(
            annotation=Annotated[
                _parameter_annotation(parameter.annotation, trust_annotations),
                Field(description=descriptions.get(parameter.name, f"The {parameter.name.replace('_', ' ')}.")),
            ]
        )
        for parameter in list(signature.parameters.values())[1:]
    ]
    if not trust_annotations:
        returns: Any = PassThrough
    elif signature.return_annotation is inspect.Signature.empty:
        returns = Any
    else:
        returns = signature.return_annotation

    shared_defaults = {  # `tags: list = []`: one list for every call, which a later call may have changed
        parameter.name: parameter.default
        for parameter in list(signature.parameters.values())[1:]
        if isinstance(parameter.default, list | dict | set)
    }

    def call_method(self: ClassEnvironment, **arguments: Any) -> Any:
        for name, default in shared_defaults.items():  # each call its own copy, as a fresh process would see it
            if name not in arguments or arguments[name] is default:
                arguments[name] = copy.deepcopy(default)
        try:
            result = getattr(self.instance, method_name)(**arguments)
        except ToolError:
            raise
        except Exception as error:
            raise ToolError(f"{type(error).__name__}: {error}") from error
        _check_comparable(self.instance, method_name)
        returned_error = _is_error_dict(result) or (  # BFCL's get_user_tickets: [{"error": ...}]
            isinstance(result, list) and bool(result) and all(_is_error_dict(item) for item in result)
        )
        if trust_annotations and not returned_error:
            return result
        return PassThrough(value=result, is_error=returned_error)

    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    call_method.__signature__ = inspect.Signature([self_parameter, *parameters], return_annotation=returns)  # type: ignore[attr-defined]
    call_method.__doc__ = _description(doc) or f"Call {method_name}."
    call_method.__name__ = method_name
    call_method.__tool_spec__ = ToolSpec()  # type: ignore[attr-defined]
    return call_method


def _parameter_annotation(annotation: Any, trust_annotations: bool) -> Any:
    if annotation is inspect.Parameter.empty:
        return Any
    return annotation if trust_annotations else _published(annotation)


def _published(annotation: Any) -> Any:
    """Publish `annotation` as the parameter's schema but pass any value through, as a direct call would.

    Classes written by others annotate loosely (`ticket_id: int` called with "ticket_001" works) and a
    validator would also change values (`19` becomes `19.0` for a `float`), so nothing is converted.
    """
    try:
        schema = TypeAdapter(annotation).json_schema()
    except (PydanticUserError, TypeError, ValueError):
        return Any
    return Annotated[Any, WithJsonSchema(schema)] if "$defs" not in schema else Any


def _plain(value: Any, path: tuple[int, ...]) -> Any:
    """JSON data of an attribute: objects by their public attributes, a reference back up the tree left out."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if id(value) in path:
        return None
    inner = (*path, id(value))
    if isinstance(value, dict):
        return {str(key): _plain(item, inner) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item, inner) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item, inner) for item in value), key=repr)
    if hasattr(value, "__dict__") and not callable(value):
        return {key: _plain(item, inner) for key, item in _public_attributes(value).items() if id(item) not in inner}
    return repr(value)


def _check_comparable(instance: object, method_name: str) -> None:
    """Refuse a call that left an attribute containing itself: no state check could compare it (BFCL's
    checker compares instances with `==`, which recurses forever, e.g. after copying a folder into itself)."""
    for attribute, value in _public_attributes(instance).items():
        try:
            value == copy.deepcopy(value)  # noqa: B015 (only whether it can be compared matters)
        except RecursionError:
            raise ToolError(f"{method_name} would leave {attribute!r} containing itself; the call is undone") from None


def _public_attributes(instance: object) -> dict[str, Any]:
    return {key: value for key, value in vars(instance).items() if not key.startswith("_")}


def _has_named_parameters(method: Callable[..., Any]) -> bool:
    kinds = {parameter.kind for parameter in inspect.signature(method).parameters.values()}
    return not kinds & {
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
        inspect.Parameter.POSITIONAL_ONLY,
    }


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Examples?|Notes?):\s*$")
_GOOGLE_PARAM = re.compile(r"^\s+(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")
_REST_FIELD = re.compile(r"^:(param|type|returns?|rtype|raises)\b")
_REST_PARAM = re.compile(r"^:param\s+(?:[\w\[\], ]+\s+)?(\w+)\s*:\s*(.+)$")


def _description(doc: str) -> str:
    """The docstring without its Args/Returns sections or reST fields: what a model reads."""
    kept = []
    for line in doc.splitlines():
        if _SECTION.match(line.strip()) or _REST_FIELD.match(line.strip()):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _summary(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ")


def _parameter_descriptions(doc: str) -> dict[str, str]:
    """Parameter descriptions from a Google-style `Args:` section or reST `:param name:` fields."""
    found: dict[str, str] = {}
    in_args = False
    last = None
    for line in doc.splitlines():
        stripped = line.strip()
        if rest := _REST_PARAM.match(stripped):
            found[rest.group(1)] = rest.group(2).strip()
            continue
        if _SECTION.match(stripped):
            in_args = stripped.rstrip(":") in ("Args", "Arguments", "Parameters")
            continue
        if in_args and (google := _GOOGLE_PARAM.match(line)):
            last = google.group(1)
            found[last] = google.group(2).strip()
        elif in_args and last and stripped and line.startswith(" " * 8):
            found[last] += " " + stripped
    return found


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
