"""`--focus EVAL.json`: more data where a model failed, a share of uniform coverage kept, its tasks held out."""

import json
import random
import shutil
from collections import Counter
from dataclasses import replace
from types import SimpleNamespace

import networkx as nx
import pytest

from servers import get_environment
from simulator import ExploreConfig, Focus, FocusError, ServerTarget, Store, explore, read_focus
from simulator.sampler import plan_targets
from synthesizer import (
    Call,
    OfflineBackend,
    SampleStore,
    SynthesisConfig,
    Variants,
    focused_target,
    focused_variants,
    is_held_out,
    synthesize,
    write_report,
)
from synthesizer.export import export_samples
from synthesizer.focus import coverage_shortfall
from synthesizer.pipeline import COVERAGE_ROUNDS, RunConfig, run_pipeline
from tests.conftest import funreason


def _group(failures: int, attempts: int = 4) -> dict:
    return {"attempts": attempts, "failures": failures, "rate": failures / attempts}


def write_eval(path, tools=None, variants=None, patterns=None, held_out=None):
    """An eval file as `funreason eval --json` writes it, reduced to what `--focus` reads (its `profile`)."""
    profile = {
        "per_tool": {tool: _group(failures) for tool, failures in (tools or {}).items()},
        "per_variant": {name: _group(failures) for name, failures in (variants or {}).items()},
        "per_pattern": {name: _group(failures) for name, failures in (patterns or {}).items()},
        "held_out": held_out or {},
    }
    path.write_text(json.dumps({"turn_accuracy": 0.5, "profile": profile}))
    return path


def test_the_weights_are_failure_rates_and_the_share_is_what_they_decide(tmp_path):
    focus = read_focus(write_eval(tmp_path / "eval.json", {"a": 4, "b": 1, "c": 0}, {"missing_tool": 2}), 0.7)
    assert focus.tools == {"a": 1.0, "b": 0.25} and focus.variants == {"missing_tool": 0.5}, "passed tools weigh 0"
    mixed = focus.mixed({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0})
    assert mixed == pytest.approx({"a": 0.3 / 4 + 0.7 * 0.8, "b": 0.3 / 4 + 0.7 * 0.2, "c": 0.075, "d": 0.075})
    rng = random.Random(0)
    picks = Counter(focus.pick(["a", "b", "c"], rng) for _ in range(10_000))
    assert abs(picks[None] / 10_000 - 0.3) < 0.02 and picks["c"] == 0 and picks["a"] > 3 * picks["b"]
    assert focus.pick(["c", "d"], rng) is None, "nothing weighs: no decision is taken from the rule"
    assert read_focus(tmp_path / "eval.json", 0).pick(["a"], rng) is None, "share 0 is today's data"
    tools_by_env = {"one": ["a", "x"], "two": ["b"], "three": ["y", "z"]}
    counts = focus.trajectories_per_env(10, tools_by_env)
    assert sum(counts.values()) == 30 and counts == {"one": 20, "two": 6, "three": 4}, "the rest by tool count"
    inside = focus.for_env(tools_by_env, "one")
    assert inside.tool_share == pytest.approx(0.56 / (0.56 + 0.3 * 2 / 5), abs=1e-6) and inside.share == 0.7
    assert focus.for_env(tools_by_env, "three").tool_share == 0.0
    plain = focused_variants(Variants(), focus)
    assert plain.missing_tool == pytest.approx(0.3 * 0.1 + 0.7) and plain.missing_parameter == pytest.approx(0.045)


def test_a_file_that_is_no_eval_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "eval.json").write_text(json.dumps({"turn_accuracy": 1.0}))
    with pytest.raises(FocusError, match="eval.json: not an eval file with a failure profile"):
        read_focus(tmp_path / "eval.json")
    outcome = funreason("run", "--out", str(tmp_path / "out"), "--focus", str(tmp_path / "eval.json"))
    assert outcome.returncode == 1 and outcome.stderr.count("\n") == 1 and "failure profile" in outcome.stderr
    missing = funreason("explore", "--env", "math", "--db", str(tmp_path / "s.db"), "--focus", str(tmp_path / "no"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    alone = funreason("run", "--out", str(tmp_path / "out"), "--focus-share", "0.5")
    assert alone.returncode == 2 and "--focus-share goes with --focus" in alone.stderr


def test_focused_targets_follow_the_rule_and_every_other_tool_keeps_its_turns(tmp_path):
    graph = nx.DiGraph()
    graph.add_nodes_from(f"tool{n:02d}" for n in range(40))
    graph.add_edges_from([("tool00", "tool01"), ("tool01", "tool02"), ("tool03", "tool02")])
    focus = read_focus(write_eval(tmp_path / "eval.json", {"tool05": 4, "tool30": 2}))
    plan = Counter(plan_targets(graph, 2000, 3, focus))
    expected = 2000 * (0.7 + 0.3 * 2 / 43)  # base weight: 1 + in-degree, 43 over the 40 tools
    assert abs(plan["tool05"] + plan["tool30"] - expected) < 10 and plan["tool05"] > 1.9 * plan["tool30"]
    assert min(plan.values()) >= 2 and len(plan) == 40, "each other tool keeps about 0.3/43 of the targets"
    few = Counter(plan_targets(graph, 134, 3, focus))
    assert len(few) == 40, "the coverage floor: every tool a target once, in the uniform 30% (41 of 134 picks)"
    assert few["tool05"] + few["tool30"] > 0.6 * 134, "the weights take every pick after the floor"
    only = read_focus(tmp_path / "eval.json", 1.0)
    assert set(plan_targets(graph, 50, 3, only)) == {"tool05", "tool30"}, "share 1: failures only, no floor"
    envs = {"failed": ["tool05"], "rest": [f"r{n}" for n in range(15)]}
    assert focus.trajectories_per_env(20, envs) == {"failed": 29, "rest": 11}, "by the rule: 0.3 x 15/16 of 40"
    steep = read_focus(tmp_path / "eval.json", 0.99).trajectories_per_env(500, envs)
    assert steep == {"failed": 985, "rest": 15}, "the floor: a walk per tool per 1,000 walks (9.4 by the rule)"
    no_weights = read_focus(write_eval(tmp_path / "none.json", {"tool05": 0}))
    assert plan_targets(graph, 500, 3, no_weights) == plan_targets(graph, 500, 3), "nothing failed: today's plan"


def _focused_store(path, focus: Focus | None, trajectories: int = 10, walks_to=None):
    config = ExploreConfig(trajectories, seed=5, after_target_steps=6, focus=focus)
    explore(ServerTarget(envs=("messaging",)), path, config)
    if walks_to is not None:  # the same walks, not synthesized yet, in a store of their own
        shutil.copyfile(path, walks_to)
    synthesize(path, SynthesisConfig(seed=2, focus=focus), OfflineBackend())
    with Store(path) as store:
        return list(SampleStore(store).iter_samples())


def _target_share(samples, tools) -> float:
    turns = [turn.target for sample in samples for turn in sample.dialogue.turns]
    return sum(1 for target in turns if target in tools) / len(turns)


def test_a_focused_run_makes_more_turns_of_the_failed_tools_the_same_bytes_each_time(tmp_path):
    failed = {"view_sent_messages": 3, "get_message_stats": 2}
    focus = read_focus(write_eval(tmp_path / "eval.json", failed, patterns={"carried_value": 1}))
    uniform = _focused_store(tmp_path / "uniform.db", None)
    focused = _focused_store(tmp_path / "focused.db", focus)
    again = _focused_store(tmp_path / "again.db", focus)
    assert _target_share(focused, failed) >= 0.5 > _target_share(uniform, failed)
    for name, samples in (("focused", focused), ("again", again)):
        export_samples(iter(samples), "openai", tmp_path / f"{name}.jsonl")
    assert (tmp_path / "focused.jsonl").read_bytes() == (tmp_path / "again.jsonl").read_bytes()
    record = json.loads((tmp_path / "focused.jsonl").read_text().splitlines()[0])
    assert record["metadata"]["focus"] == focus.identity() and len(focus.source) == 64
    assert all(sample.focus is None for sample in uniform)
    figures = write_report(tmp_path / "focused.db", tmp_path / "report", focus)["focus"]
    assert figures["focused_tools_share"] == pytest.approx(_target_share(focused, failed), abs=1e-4)
    assert figures["focused_tools"] == sorted(failed)
    assert figures["per_tool"]["view_sent_messages"]["failure_rate"] == 0.75, "the profile before, beside it"
    assert (tmp_path / "report" / "figures" / "focus.png").exists()
    assert "Focus: targets' shares, uniform vs focused" in (tmp_path / "report" / "report.md").read_text()


def test_the_eval_tasks_never_reach_the_training_data_matched_by_id_or_request(tmp_path):
    uniform = _focused_store(tmp_path / "store.db", None, trajectories=6, walks_to=tmp_path / "walks.db")
    by_id, by_text = uniform[0], uniform[1]
    held_out = {
        by_id.id: {"env": "messaging", "queries": ["a request nobody makes"]},
        "another-run-000001:abcd": {
            "env": "messaging",
            "queries": [f"  {by_text.dialogue.turns[-1].request.upper()} "],
        },
    }
    focus = read_focus(write_eval(tmp_path / "eval.json", {}, held_out=held_out))
    assert focus.is_held_out(by_id.id, [], []) and focus.is_held_out("x", by_id.trajectory_ids, [])
    assert focus.is_held_out("x", [], [by_text.dialogue.turns[-1].request]) and not focus.is_held_out("x", ["y"], ["z"])
    # The same walks again, in a store without the uniform samples: in one store the near-duplicate cut would
    # keep, of each uniform/focused twin, the one whose synthesis key sorts first (a hash), not this rule.
    synthesize(tmp_path / "walks.db", SynthesisConfig(seed=2, focus=focus), OfflineBackend())
    with Store(tmp_path / "walks.db") as store:
        samples = SampleStore(store)
        focused = [sample for sample in samples.iter_samples() if sample.focus is not None]
        held = {
            r.trajectory_id for r in samples.iter_rejects() if r.reason == "one of the focus eval's tasks (held out)"
        }
    assert held == {by_id.trajectory_ids[0], by_text.trajectory_ids[0]}, "by its trajectory, and by its request"
    # every other sample is kept (a walk whose near-duplicate twin was held out may now be kept too)
    kept = {sample.trajectory_ids[0] for sample in focused}
    assert {sample.trajectory_ids[0] for sample in uniform} - held <= kept and not kept & held
    assert not any(is_held_out(focus, sample) for sample in focused)


def test_patterns_choose_among_the_failed_tools_turns_and_an_early_turn_that_leaves_others_theirs_weighs_more(tmp_path):
    focus = read_focus(
        write_eval(tmp_path / "eval.json", {"send_message": 2, "log_in": 2}, patterns={"carried_value": 4})
    )
    looked_up = {"user_id": {"source": "result", "step": 0, "tool": "get_user_id", "field": "user_id"}}
    calls = {
        0: Call(0, "get_user_id", {"user_name": "Bob"}, {"user_id": "USR002"}, {}, changes_state=False),
        1: Call(1, "send_message", {"receiver_id": "USR002"}, {}, looked_up, needs=(0,)),
        2: Call(2, "send_message", {"receiver_id": "USR003"}, {}, {}),
        3: Call(3, "log_in", {"user_id": "USR001"}, {}, {}),
        4: Call(4, "send_message", {"receiver_id": "USR004"}, {}, {}, needs=(3,)),
    }
    closures = {0: frozenset({0}), 1: frozenset({0, 1}), 2: frozenset({2}), 3: frozenset({3}), 4: frozenset({3, 4})}
    rng = random.Random(1)
    picks = Counter(focused_target(focus, rng, calls, closures, [1, 2], {0}) for _ in range(4000))
    assert picks[1] > 1.8 * picks[2] > 0, "step 1 carries Bob's id from an earlier turn: 0.5 * 2 * 1.5 against 0.5"
    chained = Counter(focused_target(focus, rng, calls, closures, [3, 4], set()) for _ in range(4000))
    assert 2.6 < chained[3] / chained[4] < 3.4, "log_in's own turn leaves send_message one: 0.5 * 1.5 against 0.5 / 2"
    early = Counter(focused_target(focus, rng, calls, closures, [2, 4], {0, 1}) for _ in range(4000))
    assert 1.3 < early[2] / early[4] < 1.7, "a turn taken early leaves the later failed call a turn: 0.5 * 1.5 : 0.5"
    assert Counter(focused_target(focus, rng, calls, closures, [0], set()) for _ in range(100)) == {None: 100}


def test_a_focused_walk_calls_a_failed_tool_again_with_new_values_and_a_walk_without_focus_never(tmp_path):
    focus = read_focus(write_eval(tmp_path / "eval.json", {"send_message": 2, "view_sent_messages": 2}))
    calls = {}
    for name, with_focus in (("uniform", None), ("focused", focus)):
        config = ExploreConfig(6, seed=5, max_steps=16, after_target_steps=12, focus=with_focus)
        run_id = explore(ServerTarget(envs=("messaging",)), tmp_path / f"{name}.db", config)
        with Store(tmp_path / f"{name}.db") as store:
            walks = [[step for step in walk.steps if not step.is_error] for walk in store.iter_trajectories(run_id)]
        calls[name] = [Counter(step.tool for step in steps) for steps in walks]
        made = [{(step.tool, json.dumps(step.arguments, sort_keys=True)) for step in steps} for steps in walks]
        assert [len(pairs) for pairs in made] == [len(steps) for steps in walks], "each call with new values"
    assert max(max(counts.values()) for counts in calls["uniform"]) == 1, "without a focus, each tool once a walk"
    assert sum(counts["send_message"] for counts in calls["focused"]) >= 3 * len(calls["focused"]), "several each"
    assert max(counts["view_sent_messages"] for counts in calls["focused"]) == 1, "no values to change: asked once"


def test_a_focused_walk_asks_a_change_again_once_another_call_undid_it(tmp_path):
    """`lock_all_doors` takes no values, so a repeat is the same request: it is made again only after a later call
    changed what it changed ("lock them again" once they were unlocked), never twice on the same state."""
    focus = read_focus(write_eval(tmp_path / "eval.json", {"lock_all_doors": 2, "unlock_all_doors": 2}))
    config = ExploreConfig(6, seed=5, max_steps=24, after_target_steps=20, focus=focus)
    run_id = explore(ServerTarget(envs=("vehicle",)), tmp_path / "walks.db", config)
    with Store(tmp_path / "walks.db") as store:
        walks = [[step for step in walk.steps if not step.is_error] for walk in store.iter_trajectories(run_id)]
    repeats = 0
    for steps in walks:
        for position, step in enumerate(steps):
            before = [earlier for earlier in steps[:position] if earlier.tool == step.tool]
            if step.tool != "lock_all_doors" or not before:
                continue
            repeats += 1
            changed = {tuple(change["path"]) for change in before[-1].diff}
            between = steps[steps.index(before[-1]) + 1 : position]
            assert any(tuple(change["path"]) in changed for later in between for change in later.diff or ()), steps
    assert repeats >= 3, "the doors are locked again, several times"


def _thin_tools(samples, focus, tools) -> set[str]:
    """The tools the model passed that fewer than 1 turn per 1,000 of `samples` call."""
    turns = sum(len(sample.dialogue.turns) for sample in samples)
    calling = Counter(tool for sample in samples for turn in sample.dialogue.turns for tool in _called(turn))
    return {tool for tool in tools if focus.tools.get(tool, 0) <= 0 and 1000 * calling[tool] < turns}


def test_coverage_rounds_aim_walks_at_the_tools_a_focused_run_left_thin_and_a_rerun_finds_them(tmp_path):
    """A focused run's uniform part spreads turns unevenly: its coverage rounds walk to the tools it left under 1
    turn per 1,000, and the rest of each walk is weighted as the run's; the rounds' targets are recorded, so a
    re-run redoes nothing, and the same command gives the same bytes."""
    focus = read_focus(write_eval(tmp_path / "eval.json", {"send_message": 3, "view_sent_messages": 2}))
    envs = ("messaging", "tickets")
    tools = {env: set(get_environment(env).tool_specs()) for env in envs}
    config = RunConfig(out=tmp_path / "one", envs=envs, trajectories=10, focus=focus)
    run_pipeline(config, OfflineBackend(), _no_stage)
    with Store(config.store_path) as store:
        runs = store.runs("explore")
        samples = list(SampleStore(store).iter_samples())
    rounds = {run_id: settings for run_id, (_, settings) in runs.items() if settings.get("coverage_round")}
    assert rounds and {settings["coverage_round"] for settings in rounds.values()} <= set(range(1, COVERAGE_ROUNDS + 1))
    main = [sample for sample in samples if not any(sample.trajectory_ids[0].startswith(run) for run in rounds)]
    before = _thin_tools(main, focus, tools["messaging"] | tools["tickets"])
    first = [settings for settings in rounds.values() if settings["coverage_round"] == 1]
    aimed = {tool for settings in first for tool in settings["targets"]}
    assert aimed == before, "round 1 aims at exactly the tools the run left thin"
    main_focus = {target: settings["focus"] for target, settings in runs.values() if not settings.get("coverage_round")}
    for target, settings in runs.values():
        assert settings["focus"] == main_focus[target], "weighted as the environment's other walks"
    after = _thin_tools(samples, focus, tools["messaging"] | tools["tickets"])
    assert len(after) < len(before), (sorted(before), sorted(after))
    covering = [sample for sample in samples if sample not in main]
    lengths = {env: {len(sample.dialogue.turns) for sample in covering if sample.env == env} for env in envs}
    assert max(lengths["tickets"]) == config.turns[0], (
        "nothing failed there: as short a dialogue as any, for its target"
    )
    exports = {fmt: (config.out / f"{fmt}.jsonl").read_bytes() for fmt in ("openai", "funreason")}
    run_pipeline(config, OfflineBackend(), _no_stage)  # a re-run: every round found done
    with Store(config.store_path) as store:
        assert store.runs("explore").keys() == runs.keys()
    assert {fmt: (config.out / f"{fmt}.jsonl").read_bytes() for fmt in exports} == exports
    again = replace(config, out=tmp_path / "two")
    run_pipeline(again, OfflineBackend(), _no_stage)
    assert all((again.out / f"{fmt}.jsonl").read_bytes() == exports[fmt] for fmt in exports), "the same bytes"


def _called(turn) -> set[str]:
    return {call["tool"] for call in turn.calls}


def _no_stage(name):
    return lambda done, total, note="": None


def _sample_calling(*tools):
    """A stand-in of a stored sample whose turns call `tools`, one each (what the coverage counts read)."""
    turns = [SimpleNamespace(target=tool, calls=[{"tool": tool}], request=f"ask {tool}") for tool in tools]
    return SimpleNamespace(id=f"s-{'-'.join(tools)}", trajectory_ids=["t"], dialogue=SimpleNamespace(turns=turns))


def test_a_later_coverage_round_leaves_out_only_the_tools_its_walks_never_reached():
    """1,500 turns want 2 turns a tool (1.25 per 1,000, rounded up): each thin tool gets walks for the turns it
    lacks.  A later round leaves out a tool without a turn that no walk of an earlier round got to call
    (`unreached`); one with a turn, or one its walks called but gave no turn (a cancel picked out of a listing no
    request could name), gets walks again."""
    focus = Focus(source="x", share=0.7, tools={"send_message": 1.0})
    samples = [_sample_calling(*["send_message"] * 3) for _ in range(499)] + [
        _sample_calling("view_inbox", "log_in", "add_contact")
    ]
    tools = {"messaging": ["send_message", "view_inbox", "add_contact", "get_user_id", "log_in"]}
    assert coverage_shortfall(samples, focus, tools) == {
        "messaging": ["add_contact", "get_user_id", "log_in", "view_inbox", "get_user_id"]
    }
    assert coverage_shortfall(samples, focus, tools, unreached={"get_user_id", "view_inbox"}) == {
        "messaging": ["add_contact", "log_in", "view_inbox"]
    }
    assert coverage_shortfall(samples, focus, tools, round_number=3) == {
        "messaging": ["add_contact", "get_user_id", "log_in", "view_inbox"] * 3 + ["get_user_id"] * 3
    }, "round 3: three walks a turn lacking, the hard-to-reach tools"
