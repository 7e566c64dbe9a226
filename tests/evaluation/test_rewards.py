"""Rewards and the RL interfaces, called with the signatures TRL, verl and Gymnasium use."""

import json

import anyio
import gymnasium
import pytest

from evaluation import (
    GroundTruthPolicy,
    RolloutError,
    SandboxEnv,
    compute_score,
    score_rollout,
    trl_reward,
)
from servers import create_sandbox


def truth_rollout(task):
    """Play the ground truth through the gym; returns the whole conversation and the final reward."""
    env = SandboxEnv([task])
    try:
        observation, info = env.reset(options={"task": task})
        messages, policy, done, reward = list(observation["messages"]), GroundTruthPolicy(task), False, 0.0
        while not done:
            action = as_message(anyio.run(policy.act, messages, observation["tools"]))
            messages.append(action)
            observation, reward, done, truncated, info = env.step(action)
            assert not truncated
            messages += observation["messages"]
        return messages, reward, info
    finally:
        env.close()


def first_turn_that_writes(tasks):
    """A task cut to its first turn, where that turn changes the state (so doing nothing cannot pass)."""
    for task in tasks:
        fresh = create_sandbox(task.env.split("+"), task.scenario, task.seed).state_hash()
        if task.turns[0].variant == "plain" and task.turns[0].state_hash != fresh:
            return type(task)(**{**task.__dict__, "turns": task.turns[:1]})
    raise AssertionError("no task starts with a write")


def as_message(reply):
    message = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"c{n}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
            }
            for n, c in enumerate(reply.tool_calls)
        ]
    return message


def test_the_gym_pays_full_reward_for_the_ground_truth_and_nothing_for_silence(tasks):
    for task in tasks[:4]:
        messages, reward, info = truth_rollout(task)
        assert reward == 1.0 and info["reward_parts"]["state_match"] == 1.0
        assert all(grade["passed"] for grade in info["grades"])
    task = next(task for task in tasks if task.turns[0].calls and task.turns[0].variant == "plain")
    env = SandboxEnv([task])
    try:
        observation, info = env.reset(seed=0)
        assert observation["messages"] == [{"role": "user", "content": task.turns[0].query}]
        assert isinstance(env, gymnasium.Env) and env.action_space.contains({"role": "assistant", "content": ""})
        total, done = 0.0, False
        while not done:
            observation, reward, done, truncated, info = env.step({"role": "assistant", "content": "No."})
            total += reward
        assert total < 0.5 and not info["grades"][0]["passed"]
        with pytest.raises(RolloutError, match="over"):
            env.step({"role": "assistant", "content": "Hello?"})
    finally:
        env.close()


def test_a_forked_gym_env_continues_from_the_same_point_independently(tasks):
    task = next(task for task in tasks if len(task.turns) >= 2 and task.turns[0].variant == "plain")
    env = SandboxEnv([task])
    policy = GroundTruthPolicy(task)
    try:
        observation, _ = env.reset(options={"task": task})
        messages = list(observation["messages"])
        action = as_message(anyio.run(policy.act, messages, observation["tools"]))
        env.step(action)
        twin = env.fork()
        try:
            assert twin.episode.messages == env.episode.messages
            assert twin.episode.connection.sandbox.state_hash() == env.episode.connection.sandbox.state_hash()
            finish = {"role": "assistant", "content": "Done."}
            left, right = env.step(finish), twin.step(finish)
            assert left[0] == right[0] and left[2] == right[2]
            env.step({"role": "assistant", "content": "", "tool_calls": action.get("tool_calls", [])})
            assert twin.episode.messages != env.episode.messages
        finally:
            twin.close()
    finally:
        env.close()


def test_score_rollout_takes_the_messages_and_the_sandbox_or_its_state(tasks):
    task = tasks[0]
    messages, _, _ = truth_rollout(task)
    sandbox = create_sandbox(task.env.split("+"), task.scenario, task.seed)
    for turn in task.turns:
        for call in turn.calls:
            sandbox.execute(call["tool"], call["arguments"])
    assert score_rollout(task, messages, sandbox).total == 1.0
    assert score_rollout(task, messages, sandbox.state()).total == 1.0
    single = first_turn_that_writes(tasks)
    untouched = create_sandbox(single.env.split("+"), single.scenario, single.seed)
    silent = [{"role": "user", "content": single.turns[0].query}, {"role": "assistant", "content": "Done."}]
    assert score_rollout(single, silent, untouched).state_match == 0.0


def test_trl_reward_has_grpo_trainer_s_signature_and_scores_by_re_execution(tasks):
    single = first_turn_that_writes(tasks)
    prompt = [{"role": "user", "content": single.turns[0].query}]
    calls = [{"name": call["tool"], "arguments": call["arguments"]} for call in single.turns[0].calls]
    good = [
        as_message(type("R", (), {"content": "", "tool_calls": calls})()),
        {"role": "assistant", "content": "Done."},
    ]
    silent = [{"role": "assistant", "content": "I cannot do that."}]
    task_json = json.dumps(single.to_json())
    rewards = trl_reward(prompts=[prompt, prompt], completions=[good, silent], task=[task_json, task_json])
    assert rewards[0] == 1.0 and rewards[1] < 0.5


def test_verl_compute_score_has_verl_s_signature(tasks):
    single = first_turn_that_writes(tasks)
    blocks = "".join(
        f"<tool_call>{json.dumps({'name': call['tool'], 'arguments': call['arguments']})}</tool_call>"
        for call in single.turns[0].calls
    )
    scored = compute_score("funreason", blocks, json.dumps(single.to_json()), extra_info={})
    assert scored["score"] >= 0.9 and scored["state_match"] == 1.0
    assert compute_score("funreason", "No idea.", single.to_json())["score"] == 0.0
