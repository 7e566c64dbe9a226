"""Evaluate and train in the same sandboxes: tasks from verified samples, an outcome-based checker, pass^k,
rewards with TRL and verl adapters, and a Gymnasium environment."""

from evaluation.checker import CHECKER_VERSION, FAILURE_KINDS, TurnEvidence, TurnGrade, grade_turn, result_given
from evaluation.episode import Episode, reply_from_message
from evaluation.errors import EvaluationError, RolloutError, TaskError
from evaluation.figures import eval_figures, pass_hat_k
from evaluation.gym import MessageSpace, SandboxEnv
from evaluation.interaction import VerlInteraction
from evaluation.pool import ConnectionPool, SharedConnections
from evaluation.report import attempt_views, write_eval_report
from evaluation.rewards import REWARD_WEIGHTS, Reward, episode_reward, score_rollout, trl_reward, verl_compute_score
from evaluation.runner import SYSTEM_PROMPT, Attempt, ChatPolicy, GroundTruthPolicy, Policy, regrade, run_attempts
from evaluation.store import AttemptStore
from evaluation.tasks import Task, TaskTurn, load_tasks, split_tasks, task_from_sample, write_tasks

__all__ = [
    "Attempt",
    "AttemptStore",
    "CHECKER_VERSION",
    "ChatPolicy",
    "ConnectionPool",
    "Episode",
    "EvaluationError",
    "FAILURE_KINDS",
    "GroundTruthPolicy",
    "MessageSpace",
    "Policy",
    "REWARD_WEIGHTS",
    "Reward",
    "RolloutError",
    "SYSTEM_PROMPT",
    "SandboxEnv",
    "SharedConnections",
    "Task",
    "TaskError",
    "TaskTurn",
    "TurnEvidence",
    "TurnGrade",
    "VerlInteraction",
    "attempt_views",
    "episode_reward",
    "eval_figures",
    "grade_turn",
    "load_tasks",
    "pass_hat_k",
    "regrade",
    "reply_from_message",
    "result_given",
    "run_attempts",
    "score_rollout",
    "split_tasks",
    "task_from_sample",
    "trl_reward",
    "verl_compute_score",
    "write_eval_report",
    "write_tasks",
]
