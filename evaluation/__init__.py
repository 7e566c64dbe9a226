"""Evaluate and train in the same sandboxes: tasks from verified samples, an outcome-based checker, pass^k,
rewards with TRL and verl adapters (rollouts in sandboxes of their own), and a Gymnasium environment."""

from evaluation.checker import CHECKER_VERSION, FAILURE_KINDS, TurnEvidence, TurnGrade, grade_turn, result_given
from evaluation.episode import Episode, reply_from_message
from evaluation.errors import EvaluationError, RolloutError, TaskError
from evaluation.evaluate import EvalRun, evaluate_tasks, regrade_attempts
from evaluation.figures import eval_figures, pass_hat_k
from evaluation.gym import MessageSpace, SandboxEnv
from evaluation.pool import ConnectionPool, SharedConnections
from evaluation.profile import PATTERNS, PROFILE_VERSION, failure_profile, tool_specs_of, turn_patterns
from evaluation.report import attempt_views, write_eval_report
from evaluation.rewards import (
    REWARD_WEIGHTS,
    Reward,
    episode_reward,
    rollout_reward,
    score_rollout,
    score_rollout_async,
    turn_reward,
)
from evaluation.rl_data import write_trl, write_verl
from evaluation.rollout import RolloutSandbox
from evaluation.runner import SYSTEM_PROMPT, Attempt, ChatPolicy, GroundTruthPolicy, Policy, regrade, run_attempts
from evaluation.store import AttemptStore
from evaluation.tasks import Task, TaskTurn, load_tasks, split_tasks, task_from_sample, write_tasks
from evaluation.trl import SandboxToolEnv, trl_reward, trl_reward_async
from evaluation.verl import SandboxTool, compute_score

__all__ = [
    "Attempt",
    "AttemptStore",
    "CHECKER_VERSION",
    "ChatPolicy",
    "ConnectionPool",
    "Episode",
    "EvalRun",
    "EvaluationError",
    "FAILURE_KINDS",
    "GroundTruthPolicy",
    "MessageSpace",
    "PATTERNS",
    "PROFILE_VERSION",
    "Policy",
    "REWARD_WEIGHTS",
    "Reward",
    "RolloutError",
    "RolloutSandbox",
    "SYSTEM_PROMPT",
    "SandboxEnv",
    "SandboxTool",
    "SandboxToolEnv",
    "SharedConnections",
    "Task",
    "TaskError",
    "TaskTurn",
    "TurnEvidence",
    "TurnGrade",
    "attempt_views",
    "compute_score",
    "episode_reward",
    "eval_figures",
    "evaluate_tasks",
    "failure_profile",
    "grade_turn",
    "load_tasks",
    "pass_hat_k",
    "regrade",
    "regrade_attempts",
    "reply_from_message",
    "result_given",
    "rollout_reward",
    "run_attempts",
    "score_rollout",
    "score_rollout_async",
    "split_tasks",
    "task_from_sample",
    "tool_specs_of",
    "trl_reward",
    "trl_reward_async",
    "turn_patterns",
    "turn_reward",
    "write_eval_report",
    "write_tasks",
    "write_trl",
    "write_verl",
]
