"""Errors raised by environments, sandboxes and scenario loading.

```
SandboxError
├── ToolError                  a tool call was refused; becomes an MCP error result
│   ├── NotFound               the named thing does not exist
│   ├── InvalidArgument        an argument is well-typed but not acceptable
│   └── PreconditionFailed     the state does not allow the call (e.g. not logged in)
├── ScenarioError              a scenario or pool file is missing or malformed
├── UnknownEnvironment         no environment has that name
├── UnknownSandbox             no live sandbox has that id
├── SandboxLimitReached        the cap on live sandboxes is reached
├── CallTimedOut               a tool call ran past its time limit (and changed nothing)
└── ServeRefused               an HTTP server's options would leave it open (or are empty)
```

Tools raise `ToolError` subclasses only; `servers.mcp` is the one boundary that
turns them into error results.  Anything else escaping a tool is a bug.
"""

__all__ = [
    "CallTimedOut",
    "InvalidArgument",
    "NotFound",
    "PreconditionFailed",
    "SandboxError",
    "SandboxLimitReached",
    "ScenarioError",
    "ServeRefused",
    "ToolError",
    "UnknownEnvironment",
    "UnknownSandbox",
]


class SandboxError(Exception):
    """Base of every error this package raises on purpose."""


class ToolError(SandboxError):
    """A tool refused the call; the message is written for the model that made it."""


class NotFound(ToolError):
    """The file, user, order or other entity named in the call does not exist."""


class InvalidArgument(ToolError):
    """An argument has the right type but a value the tool cannot accept."""


class PreconditionFailed(ToolError):
    """The current state does not allow this call yet (log in first, unlock the doors, ...)."""


class ScenarioError(SandboxError):
    """A scenario or value-pool file cannot be read or does not match its state model."""


class UnknownEnvironment(SandboxError):
    """No registered environment has the requested name."""


class UnknownSandbox(SandboxError):
    """No live sandbox has the requested id (never created, deleted or expired)."""


class SandboxLimitReached(SandboxError):
    """Creating another sandbox would exceed the configured cap on live sandboxes."""


class CallTimedOut(SandboxError):
    """A tool call ran past the server's time limit; the sandbox is as it was before the call."""


class ServeRefused(SandboxError):
    """An HTTP server would start open to other machines or web pages, or with an empty token."""
