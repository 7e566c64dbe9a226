"""The registry of built-in environments: every public module in `servers.envs` defines one."""

import importlib
import pkgutil
from functools import cache

from servers import envs
from servers.environment import Environment
from servers.errors import SandboxError, UnknownEnvironment

__all__ = ["environment_names", "get_environment", "register_environment"]


def environment_names() -> list[str]:
    """Names of every built-in environment, sorted."""
    return sorted(_environments())


def get_environment(name: str) -> type[Environment]:
    """The environment class registered as `name`; `bfcl:<Class>` registers BFCL's class on first use."""
    if name.startswith("bfcl:") and name not in _environments():
        from servers.bfcl import bfcl_environment  # optional: needs the bfcl-eval package

        _environments()[name] = bfcl_environment(name)
    try:
        return _environments()[name]
    except KeyError:
        known = ", ".join(environment_names())
        raise UnknownEnvironment(f"unknown environment {name!r} (known: {known})") from None


def register_environment(env: type[Environment], *, replace: bool = False) -> type[Environment]:
    """Add an environment built at run time (e.g. from a user's class) under `env.name`.

    `replace=True` puts it in place of the one of that name (the same tools with a hints file's hints)."""
    if env.name in _environments() and not replace:
        raise SandboxError(f"an environment named {env.name!r} exists already; choose another name")
    _environments()[env.name] = env
    return env


@cache
def _environments() -> dict[str, type[Environment]]:
    """Import each `servers/envs/<name>.py` (modules starting with '_' are skipped) once."""
    found: dict[str, type[Environment]] = {}
    for module_info in pkgutil.iter_modules(envs.__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{envs.__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Environment)
                and value.__module__.startswith(module.__name__)
            ):
                found[value.name] = value
    return found
