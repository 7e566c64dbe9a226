"""Eval attempts kept in the same SQLite store as trajectories and samples: full transcript, evidence, grades."""

import json
from collections.abc import Iterator

from evaluation.runner import Attempt
from simulator import Store

__all__ = ["AttemptStore"]


class AttemptStore:
    """The `eval_attempts` table: one row per (model, task, attempt number), written as each attempt finishes."""

    def __init__(self, store: Store) -> None:
        self.db = store.db
        with self.db.conn:
            if "eval_attempts" not in self.db.table_names():
                self.db["eval_attempts"].create(
                    {
                        "id": str,
                        "model": str,
                        "task_id": str,
                        "number": int,
                        "env": str,
                        "passed": int,
                        "checker": str,
                        "data": str,
                    },
                    pk="id",
                )

    def done_ids(self, model: str) -> set[str]:
        rows = self.db.execute("SELECT id FROM eval_attempts WHERE model = ?", [model])
        return {attempt_id for (attempt_id,) in rows}

    def save(self, attempt: Attempt) -> None:
        checkers = sorted({grade.checker for grade in attempt.grades})
        row = {
            "id": attempt.id,
            "model": attempt.model,
            "task_id": attempt.task.id,
            "number": attempt.number,
            "env": attempt.task.env,
            "passed": int(attempt.passed),
            "checker": ",".join(checkers),
            "data": json.dumps(attempt.to_json(), ensure_ascii=False),
        }
        with self.db.conn:
            self.db["eval_attempts"].insert(row, replace=True)

    def iter_attempts(self, model: str | None = None) -> Iterator[Attempt]:
        """Stored attempts in (task, number) order; all models when `model` is None."""
        where, params = ("WHERE model = ?", [model]) if model is not None else ("", [])
        query = f"SELECT data FROM eval_attempts {where} ORDER BY model, task_id, number"
        for (data,) in self.db.execute(query, params):
            yield Attempt.from_json(json.loads(data))

    def models(self) -> list[str]:
        return [model for (model,) in self.db.execute("SELECT DISTINCT model FROM eval_attempts ORDER BY model")]
