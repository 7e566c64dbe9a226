"""Errors raised while loading tasks, evaluating models and scoring rollouts.

```
EvaluationError
├── TaskError          a task file or sample cannot be read as an evaluation task
└── RolloutError       a rollout or episode was driven wrongly (stepped after its end, unknown task)
```
"""

__all__ = ["EvaluationError", "RolloutError", "TaskError"]


class EvaluationError(Exception):
    """Base of every error this package raises on purpose."""


class TaskError(EvaluationError):
    """A task source is missing, malformed or not replayable."""


class RolloutError(EvaluationError):
    """An episode was used out of order."""
