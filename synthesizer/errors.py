"""Errors raised by the synthesizer.

```
SynthesizerError
├── LLMError            the model endpoint failed after every retry, or answered nothing usable
├── ExportError         an output file cannot be written
├── ConfigError         a run configuration (TOML file or flags) is unusable
└── DatasetError        a dataset file to measure cannot be read or is not OpenAI chat JSONL
```
"""

__all__ = ["ConfigError", "DatasetError", "ExportError", "LLMError", "SynthesizerError"]


class SynthesizerError(Exception):
    """Base of every error this package raises on purpose."""


class LLMError(SynthesizerError):
    """The model endpoint failed after every retry, or answered nothing usable."""


class ExportError(SynthesizerError):
    """An output file cannot be written."""


class ConfigError(SynthesizerError):
    """A run configuration (TOML file or flags) is unusable; the message names the file and the key."""


class DatasetError(SynthesizerError):
    """A dataset file to measure cannot be read or is not OpenAI chat JSONL; the message names the line."""
