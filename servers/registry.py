"""The registry of built-in environments, by name."""

from servers.environment import Environment
from servers.envs.filesystem import FileSystem
from servers.envs.messaging import Messaging
from servers.errors import UnknownEnvironment

__all__ = ["environment_names", "get_environment"]

_ENVIRONMENTS: dict[str, type[Environment]] = {env.name: env for env in (FileSystem, Messaging)}


def environment_names() -> list[str]:
    """Names of every built-in environment, sorted."""
    return sorted(_ENVIRONMENTS)


def get_environment(name: str) -> type[Environment]:
    """The environment class registered as `name`."""
    try:
        return _ENVIRONMENTS[name]
    except KeyError:
        known = ", ".join(environment_names())
        raise UnknownEnvironment(f"unknown environment {name!r} (known: {known})") from None
