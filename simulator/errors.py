"""Errors raised by the simulator.

```
SimulatorError
├── ConnectionFailed     a server could not be started or reached
│   └── ServerDied       the server went away in the middle of a trajectory
├── StoreError           the trajectory store cannot be opened or is not ours
└── FocusError           a --focus file is not an eval file with a failure profile
```
"""

__all__ = ["ConnectionFailed", "FocusError", "ServerDied", "SimulatorError", "StoreError"]


class SimulatorError(Exception):
    """Base of every error this package raises on purpose."""


class ConnectionFailed(SimulatorError):
    """A server could not be started or reached."""


class ServerDied(ConnectionFailed):
    """The server stopped answering during a trajectory; the trajectory is marked failed."""


class StoreError(SimulatorError):
    """The trajectory store cannot be opened, is corrupt, or belongs to another program."""


class FocusError(SimulatorError):
    """A `--focus` file cannot be read or holds no failure profile."""
