"""RL adapters called as TRL 1.16 and verl 0.9.1 call them: one reward everywhere, each rollout its own sandbox."""

import asyncio
import inspect
import json
import types

import anyio
import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env
from transformers.utils import get_json_schema

from evaluation import (
    GroundTruthPolicy,
    SandboxEnv,
    SandboxTool,
    SandboxToolEnv,
    compute_score,
    score_rollout,
    trl_reward,
    trl_reward_async,
    write_trl,
    write_verl,
)
from evaluation.verl import response_messages


def ground_truth_rollout(task, *, answer_later_turns=True):
    """The ground truth played through the gym (later turns answered "No." when told so): messages, reward, info."""
    env = SandboxEnv([task])
    try:
        observation, info = env.reset(options={"task": task})
        messages, policy, done = list(observation["messages"]), GroundTruthPolicy(task), False
        while not done:
            turn = len(env.episode.grades)
            if turn > 0 and not answer_later_turns:
                action = {"role": "assistant", "content": "No."}
            else:
                action = native(anyio.run(policy.act, messages, observation["tools"]))
            messages.append(action)
            observation, reward, done, truncated, info = env.step(action)
            messages += observation["messages"]
        return messages, reward, info
    finally:
        env.close()


def native(reply):
    message = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"c{n}", "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for n, c in enumerate(reply.tool_calls)
        ]
    return message


def as_text(message):
    """The same assistant message with its calls as `<tool_call>` text (what TRL gives without a response schema)."""
    blocks = "".join(
        f"<tool_call>{json.dumps({'name': c['function']['name'], 'arguments': c['function']['arguments']})}</tool_call>"
        for c in message.get("tool_calls") or []
    )
    return {"role": "assistant", "content": message["content"] + blocks}


def hermes(messages):
    """A response as verl decodes it (Qwen template, special tokens skipped): calls, tool responses, answers."""
    parts = []
    for message in messages:
        if message["role"] == "assistant":
            parts.append("assistant\n" + as_text(message)["content"])
        elif message["role"] == "tool":
            parts.append(f"user\n<tool_response>\n{message['content']}\n</tool_response>")
        else:
            parts.append(f"{message['role']}\n{message['content']}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def rows(tasks, tmp_path_factory):
    out = tmp_path_factory.mktemp("rl") / "train.jsonl"
    assert write_trl(tasks, out) == sum(len(task.turns) for task in tasks)
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_one_rollout_scores_the_same_through_the_gym_score_rollout_trl_and_verl(tasks):
    task = next(t for t in tasks if len(t.turns) >= 2 and t.turns[1].calls)
    messages, gym_reward, info = ground_truth_rollout(task, answer_later_turns=False)
    parts = info["reward_parts"]
    first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
    prompt, completion = messages[: first_user + 1], messages[first_user + 1 :]
    replayed = score_rollout(task, messages)
    (trl,) = trl_reward(prompts=[prompt], completions=[completion], task=[json.dumps(task.to_json())])
    verl = compute_score("funreason", hermes(completion), json.dumps(task.to_json()), extra_info={})
    assert 0 < gym_reward < 1
    for name, value in parts.items():
        if name != "total":
            assert replayed.to_json()[name] == pytest.approx(value, abs=1e-9)
            assert verl[name] == pytest.approx(value, abs=1e-9)
    assert replayed.total == pytest.approx(gym_reward, abs=1e-9)
    assert trl == pytest.approx(gym_reward, abs=1e-9) and verl["score"] == pytest.approx(gym_reward, abs=1e-9)


def test_trl_reward_takes_strings_text_calls_and_runs_async_inside_a_loop(tasks, rows):
    row = next(r for r in rows if r["turn"] == 0 and json.loads(r["task"])["turns"][0]["calls"])
    task = json.loads(row["task"])
    calls = [{"name": c["tool"], "arguments": c["arguments"]} for c in task["turns"][0]["calls"]]
    call_message = native(types.SimpleNamespace(content="", tool_calls=calls))
    good = [call_message, {"role": "assistant", "content": "Done."}]
    text = [as_text(call_message), {"role": "assistant", "content": "Done."}]
    query = task["turns"][0]["query"]
    string_completion = as_text(call_message)["content"]
    columns = {"task": [row["task"]] * 4, "turn": [0] * 4}
    prompts = [row["prompt"], row["prompt"], query, row["prompt"]]
    completions = [good, text, string_completion, [{"role": "assistant", "content": "I cannot."}]]

    async def in_a_loop():
        return trl_reward(prompts=prompts, completions=completions, **columns), await trl_reward_async(
            prompts, completions, **columns
        )

    synced, awaited = asyncio.run(in_a_loop())
    assert synced == awaited
    assert synced[0] == synced[1] == 1.0 and synced[2] >= 0.9 and synced[3] == 0.0


def test_the_trl_environment_class_is_what_grpo_trainer_expects(tasks, rows):
    factories = SandboxToolEnv.factories(tasks)
    assert set(factories) == {task.env for task in tasks}
    for env_name, factory in factories.items():
        instance = factory()
        members = [name for name, _ in inspect.getmembers(type(instance), inspect.isfunction)]
        public = sorted(name for name in members if not name.startswith("_"))
        shown = {tool["function"]["name"]: tool for task in tasks if task.env == env_name for tool in task.tools}
        assert set(public) == {"get_reward", "reset", *shown}
        for name, tool in shown.items():
            assert get_json_schema(getattr(instance, name)) == expected_schema(tool)


def expected_schema(tool):
    """Our MCP schema as transformers' get_json_schema can carry it: types, enums, items, descriptions, required."""
    function = tool["function"]
    parameters = function.get("parameters") or {}
    properties = {}
    for name, spec in (parameters.get("properties") or {}).items():
        options = spec.get("anyOf")
        plain = next(o for o in options if o.get("type") != "null") if options else spec
        kept = {key: plain[key] for key in ("type", "enum") if key in plain}
        if "items" in plain:
            kept["items"] = {"type": plain["items"]["type"]}
        if options and any(o.get("type") == "null" for o in options):
            kept["nullable"] = True
        properties[name] = {**kept, "description": " ".join(spec["description"].split())}
    schema = {"type": "object", "properties": properties}
    if parameters.get("required"):
        schema["required"] = parameters["required"]
    return {
        "type": "function",
        "function": {"name": function["name"], "description": function["description"], "parameters": schema},
    }


def test_ground_truth_through_the_trl_class_earns_1_on_every_row_and_no_calls_0(tasks, rows):
    factories = SandboxToolEnv.factories(tasks)
    for row in rows:
        env = factories[row["environment"]]()
        task = json.loads(row["task"])
        turn = task["turns"][row["turn"]]
        assert env.reset(**row) == ""
        for call in turn["calls"]:
            result = getattr(env, call["tool"])(**call["arguments"])
            assert json.loads(result) == call["result"]
        assert env.get_reward() == 1.0, (task["id"], row["turn"])
        if turn["calls"]:
            env.reset(**row)
            assert env.get_reward() == 0.0


def test_verl_export_rows_tool_config_and_the_tool_as_verl_calls_it(tasks, tmp_path):
    import pyarrow.parquet

    out = tmp_path / "train.parquet"
    count = write_verl(tasks, out)
    table = pyarrow.parquet.read_table(out).to_pylist()
    assert len(table) == count == sum(len(task.turns) for task in tasks)
    config = json.loads(
        "\n".join(line for line in (tmp_path / "train.tools.yaml").read_text().splitlines() if not line.startswith("#"))
    )
    entries = {entry["tool_schema"]["function"]["name"]: entry for entry in config["tools"]}
    tools = {
        name: SandboxTool(config=entry["config"], tool_schema=entry["tool_schema"]) for name, entry in entries.items()
    }
    for number, row in enumerate(table):
        assert set(row) >= {"data_source", "prompt", "ability", "reward_model", "extra_info"}
        task, info = json.loads(row["reward_model"]["ground_truth"]), row["extra_info"]
        turn = task["turns"][info["turn"]]
        calls = asyncio.run(play_through_tools(tools, turn["calls"], info, f"rollout-{number}"))
        response = []
        for call, text in calls:
            function = {"name": call["tool"], "arguments": call["arguments"]}
            response += [
                {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": function}]}
            ]
            response += [{"role": "tool", "content": text}]
        response.append({"role": "assistant", "content": "Done."})
        scored = compute_score(row["data_source"], hermes(response), row["reward_model"]["ground_truth"], info)
        assert scored["score"] == 1.0, (task["id"], info["turn"])
        as_dict = compute_score(row["data_source"], "I cannot.", task, info)
        assert as_dict["score"] == (0.0 if turn["calls"] else 1.0)
    assert SandboxTool._rollouts == {}


async def play_through_tools(tools, calls, info, request_id):
    """The calls as verl 0.9.1's ToolAgentLoop makes them: create, execute (with agent_data), release, per call."""
    agent, made = types.SimpleNamespace(request_id=request_id), []
    for call in calls:
        tool = tools[call["tool"]]
        instance, _ = await tool.create(create_kwargs=info["tools_kwargs"][call["tool"]]["create_kwargs"])
        response, step_reward, metrics = await tool.execute(instance, call["arguments"], agent_data=agent)
        await tool.release(instance)
        made.append((call, response.text))
    some_tool = next(iter(tools.values()))
    assert await some_tool.calc_reward(request_id) in ((1.0,) if calls else (0.0, 1.0))
    await some_tool.finish(request_id)
    return made


def test_multi_turn_verl_scoring_credits_each_turn(tasks):
    for task in [t for t in tasks if len(t.turns) >= 2 and t.turns[-1].calls]:
        messages, _, _ = ground_truth_rollout(task)
        first_user = next(i for i, m in enumerate(messages) if m["role"] == "user")
        perfect = compute_score("funreason", hermes(messages[first_user + 1 :]), task.to_json(), {})
        short, _, _ = ground_truth_rollout(task, answer_later_turns=False)
        first_only = compute_score("funreason", hermes(short[first_user + 1 :]), json.dumps(task.to_json()), {})
        assert perfect["score"] == 1.0 and first_only["score"] < perfect["score"]
        given = compute_score("funreason", hermes(short[first_user + 1 :]), task.to_json(), {"turn_scores": [1.0, 0.5]})
        assert given["score"] == 1.5 / len(task.turns)  # the mean over every turn: one not scored counts 0
        scores = [1.0] * (len(task.turns) - 1) + [0.5]
        every = compute_score("funreason", hermes(short[first_user + 1 :]), task.to_json(), {"turn_scores": scores})
        assert every["score"] == sum(scores) / len(task.turns)


def test_response_messages_split_a_decoded_response_at_tool_responses():
    call = '<tool_call>{"name": "a", "arguments": {}}</tool_call>'
    text = f"assistant\n{call}\nuser\n<tool_response>\n{{}}\n</tool_response>\nassistant\nDone."
    assert response_messages(text) == [
        {"role": "assistant", "content": call},
        {"role": "assistant", "content": "Done."},
    ]


def test_the_gym_passes_gymnasium_s_checker_vectorizes_and_truncates(tasks):
    env = SandboxEnv(tasks)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()
    env = SandboxEnv(tasks, max_steps=1)
    try:
        observation, _ = env.reset(seed=0)
        _, reward, terminated, truncated, info = env.step({"role": "assistant", "content": "No."})
        assert truncated != terminated and "reward_parts" in info
    finally:
        env.close()
    vector = gymnasium.vector.SyncVectorEnv([lambda: SandboxEnv(tasks, max_steps=8) for _ in range(4)])
    try:
        observations, _ = vector.reset(seed=1)
        assert len(observations) == 4
        for _ in range(3):
            observations, rewards, terminated, truncated, _ = vector.step(
                tuple({"role": "assistant", "content": "No."} for _ in range(4))
            )
        assert len(rewards) == 4
    finally:
        vector.close()


def test_the_plain_class_offers_every_built_in_tool_and_nothing_else():
    instance = SandboxToolEnv()
    public = {name for name, _ in inspect.getmembers(type(instance), inspect.isfunction) if not name.startswith("_")}
    tools = {tool["function"]["name"] for tool in SandboxToolEnv.tools}
    assert public == tools | {"reset", "get_reward"} and len(tools) > 100


def test_parallel_calls_of_one_verl_message_share_one_sandbox(tasks, tmp_path):
    write_verl(tasks, tmp_path / "t.parquet")
    text = (tmp_path / "t.tools.yaml").read_text()
    config = json.loads("".join(line for line in text.splitlines(True) if not line.startswith("#")))
    tools = {e["tool_schema"]["function"]["name"]: SandboxTool(e["config"], e["tool_schema"]) for e in config["tools"]}
    task = next(t for t in tasks if len(t.turns[0].calls) >= 2 and t.turns[0].variant == "plain")
    spec = {"task_id": task.id, "turn": 0}
    agent = types.SimpleNamespace(request_id="parallel")

    async def one_message():
        async def call(step):
            tool = tools[step["tool"]]
            instance, _ = await tool.create(create_kwargs=spec)
            try:
                return await tool.execute(instance, step["arguments"], agent_data=agent)
            finally:
                await tool.release(instance)

        await asyncio.gather(*(call(step) for step in task.turns[0].calls[:2]))
        opened = len(SandboxTool._rollouts)
        await next(iter(tools.values())).finish("parallel")
        return opened

    assert asyncio.run(one_message()) == 1 and SandboxTool._rollouts == {}
