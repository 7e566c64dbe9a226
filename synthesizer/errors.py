"""Errors raised by the synthesizer.

```
SynthesizerError
├── LLMError            the model endpoint failed after every retry, or answered nothing usable
└── ExportError         an output file cannot be written
```
"""

__all__ = ["ExportError", "LLMError", "SynthesizerError"]


class SynthesizerError(Exception):
    """Base of every error this package raises on purpose."""


class LLMError(SynthesizerError):
    """The model endpoint failed after every retry, or answered nothing usable."""


class ExportError(SynthesizerError):
    """An output file cannot be written."""
