"""Errors raised by the synthesizer.

```
SynthesizerError
├── LLMError              the model answered nothing usable: the trajectory is rejected with this reason
├── EndpointError         the endpoint is misconfigured (refused, 401/403, 404, unknown model): the command stops
├── EndpointUnavailable   the endpoint stayed busy or down through every retry: the trajectory stays pending
├── ExportError           an output file cannot be written
├── ConfigError           a run configuration (TOML file or flags) is unusable
└── DatasetError          a dataset file (or a sample to show) cannot be read or is not OpenAI chat JSONL
```
"""

__all__ = [
    "ConfigError",
    "DatasetError",
    "EndpointError",
    "EndpointUnavailable",
    "ExportError",
    "LLMError",
    "SynthesizerError",
]


class SynthesizerError(Exception):
    """Base of every error this package raises on purpose."""


class LLMError(SynthesizerError):
    """The model answered nothing usable; a sample reject, with this as its reason."""


class EndpointError(SynthesizerError):
    """The endpoint cannot serve this run as configured; no sample is to blame, so nothing is stored as rejected."""


class EndpointUnavailable(SynthesizerError):
    """429/5xx/timeouts outlasted every retry; the trajectory is left pending for the next run."""


class ExportError(SynthesizerError):
    """An output file cannot be written."""


class ConfigError(SynthesizerError):
    """A run configuration (TOML file or flags) is unusable; the message names the file and the key."""


class DatasetError(SynthesizerError):
    """A dataset file to measure cannot be read or is not OpenAI chat JSONL; the message names the line."""
