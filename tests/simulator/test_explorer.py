"""Exploration of real servers: targets reached, tools covered, steps replayable, runs reproducible."""

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from servers import environment_names, fixtures_root
from simulator.connection import ServerTarget
from simulator.detours import blamed, refused_for_the_state
from simulator.explorer import ExploreConfig, explore
from simulator.records import Step, ToolInfo
from simulator.replay import replay
from simulator.store import Store

KV_SERVER = f"{sys.executable} {Path(__file__).with_name('kv_server.py')}"


def trajectories(db, run_id=None):
    with Store(db) as store:
        return list(store.iter_trajectories(run_id))


@pytest.mark.parametrize("env", environment_names())
def test_exploration_reaches_targets_covers_tools_and_replays(env, tmp_path):
    db = tmp_path / "t.db"
    run_id = explore(ServerTarget(envs=(env,)), db, ExploreConfig(trajectories=150, seed=3))
    found = trajectories(db, run_id)
    assert len(found) == 150 and [t.index for t in found] == list(range(150))
    assert sum(t.reached for t in found) / len(found) >= 0.55
    with Store(db) as store:
        tool_count = len(store.load_graph(run_id, "frozen")["nodes"])
        assert store.stats()["tools_covered"] >= 0.85 * tool_count
    assert sum(len(t.steps) >= 2 for t in found) >= 0.3 * len(found), "trajectories should chain calls"

    async def check_replay() -> None:
        async with ServerTarget(envs=(env,)).connect() as connection:
            for trajectory in found[::5]:
                calls = [(step.tool, step.arguments) for step in trajectory.steps]
                steps, final_hash = await replay(connection, calls, trajectory.seed)
                assert [(s.result, s.is_error) for s in steps] == [(s.result, s.is_error) for s in trajectory.steps]
                assert final_hash == trajectory.final_state_hash

    anyio.run(check_replay)


def _signature(db, run_id):
    return [
        (t.target, [(s.tool, s.arguments, s.result, s.is_error) for s in t.steps]) for t in trajectories(db, run_id)
    ]


def test_same_seed_same_trajectories_other_seed_others(tmp_path):
    target = ServerTarget(envs=("travel",))
    first = explore(target, tmp_path / "a.db", ExploreConfig(trajectories=30, seed=5))
    second = explore(target, tmp_path / "b.db", ExploreConfig(trajectories=30, seed=5))
    other = explore(target, tmp_path / "c.db", ExploreConfig(trajectories=30, seed=6))
    assert first == second and first != other
    assert _signature(tmp_path / "a.db", first) == _signature(tmp_path / "b.db", second)
    assert _signature(tmp_path / "a.db", first) != _signature(tmp_path / "c.db", other)


def test_two_worker_processes_give_the_same_trajectories(tmp_path):
    target = ServerTarget(envs=("tickets",))
    one = explore(target, tmp_path / "one.db", ExploreConfig(trajectories=40, seed=2, discovery=8))
    two = explore(target, tmp_path / "two.db", ExploreConfig(trajectories=40, seed=2, discovery=8, workers=2))
    assert _signature(tmp_path / "one.db", one) == _signature(tmp_path / "two.db", two)


def test_rerun_resumes_to_the_requested_count(tmp_path):
    target, db = ServerTarget(envs=("social",)), tmp_path / "t.db"
    explore(target, db, ExploreConfig(trajectories=10, seed=1))
    run_id = explore(target, db, ExploreConfig(trajectories=25, seed=1))
    found = trajectories(db, run_id)
    assert [t.index for t in found] == list(range(25))
    fresh = tmp_path / "fresh.db"
    assert _signature(db, run_id) == _signature(fresh, explore(target, fresh, ExploreConfig(trajectories=25, seed=1)))


@pytest.mark.heavy
def test_a_third_party_server_without_metadata_teaches_its_dependency(tmp_path):
    db = tmp_path / "kv.db"
    run_id = explore(ServerTarget(command=KV_SERVER), db, ExploreConfig(trajectories=12, seed=0, discovery=6))
    with Store(db) as store:
        assert not store.load_graph(run_id, "initial")["edges"]
        frozen = store.load_graph(run_id, "frozen")
    learned = [edge for edge in frozen["edges"] if (edge["source"], edge["target"]) == ("put", "get")]
    reason = learned[0]["reasons"][0] if learned else {}
    evidence = reason.pop("evidence", [])
    assert reason == {"kind": "value", "source": "observed", "param": "key", "field": "handle", "entity": "key"}
    found = {t.id: t for t in trajectories(db, run_id)}
    for piece in evidence:  # every piece names a real step whose key came from put's handle
        step = found[piece["trajectory"]].steps[piece["step"]]
        producer = found[piece["trajectory"]].steps[piece["from_step"]]
        assert step.tool == "get" and not step.is_error and producer.tool == "put"
        assert step.arguments["key"] == producer.result["handle"]
    assert evidence
    used = [
        (trajectory.index, step)
        for trajectory in trajectories(db, run_id)
        for step in trajectory.steps
        if step.tool == "get" and not step.is_error
    ]
    assert any(index >= 6 and step.provenance["key"]["source"] == "result" for index, step in used)


def test_a_server_that_dies_fails_its_trajectory_and_the_run_goes_on(tmp_path):
    server = f"{sys.executable} {Path(__file__).with_name('crashy_server.py')}"
    db = tmp_path / "crash.db"
    run_id = explore(ServerTarget(command=server), db, ExploreConfig(trajectories=6, seed=0, discovery=2))
    found = trajectories(db, run_id)
    assert len(found) == 6
    failed = [t for t in found if t.status == "failed"]
    assert failed and all("went away" in t.error and t.steps[-1].tool == "crash" for t in failed)
    assert all(t.steps[-1].is_error and t.steps[-1].text == t.error for t in failed)
    assert any(t.status == "complete" and t.reached and t.target == "ping" for t in found)


def test_a_coverage_walk_clears_the_way_to_a_target_that_is_refused_or_changes_nothing(tmp_path):
    """The car starts with its parking brake on, its engine running and its doors unlocked.  `engage_parking_brake`
    is refused until the walk releases it, which wants the brake pedal pressed, as that refusal says;
    `stop_engine` needs no `start_engine`, which is refused; `unlock_door` on an unlocked door changes nothing.
    A coverage walk calls its target, and when it is refused or idle, takes the detour that clears the way, then
    calls the target again: each walk changes the car with its target."""
    targets = ("engage_parking_brake", "stop_engine", "unlock_door")
    config = ExploreConfig(6, seed=3, max_steps=16, targets=targets, coverage_round=1)
    run_id = explore(ServerTarget(envs=("vehicle",)), tmp_path / "walks.db", config)
    with Store(tmp_path / "walks.db") as store:
        walks = list(store.iter_trajectories(run_id))
    assert [walk.target for walk in walks] == [*targets, *targets]
    for walk in walks:
        done = [step for step in walk.steps if step.tool == walk.target and not step.is_error and step.diff]
        assert walk.reached and done, [(step.tool, step.is_error, step.text[:60]) for step in walk.steps]
        if walk.target == "engage_parking_brake":
            cleared = [step.tool for step in walk.steps[: done[0].index] if not step.is_error]
            assert "release_parking_brake" in cleared, cleared


def _sources(origin: dict) -> set[str]:
    """Where a value came from, and each part of a list composed of several."""
    parts = origin.get("parts", {})
    return {origin["source"]} | {source for part in parts.values() for source in _sources(part)}


def test_a_coverage_walk_asks_a_computation_on_numbers_the_user_states(tmp_path):
    """A median of an earlier result and a pool number is a request no one could make ("the median of 59.37 and
    the absolute value you found"): a coverage walk's target that takes numbers takes the user's own."""
    targets = ("calculate_median", "find_min_max", "sum_numbers")
    config = ExploreConfig(6, seed=0, max_steps=12, targets=targets, coverage_round=1)
    run_id = explore(ServerTarget(envs=("math",)), tmp_path / "walks.db", config)
    with Store(tmp_path / "walks.db") as store:
        walks = list(store.iter_trajectories(run_id))
    for walk in walks:
        calls = [step for step in walk.steps if step.tool == walk.target and not step.is_error]
        assert calls, walk.steps
        sources = {source for origin in calls[0].provenance.values() for source in _sources(origin)}
        assert sources <= {"pool", "composed", "schema", "random"}, (walk.target, calls[0].provenance)


def test_a_coverage_walk_asks_again_what_was_refused_for_the_state_once_a_detour_changed_it(tmp_path):
    """`fill_fuel_tank` is refused while the engine runs ("switch the engine off (stop_engine) before refuelling",
    which names no value it was sent): after the detour it is asked again with the same litres, so that the walk
    shows the refusal, the change and the success of one request, which synthesis reads as what the change was
    for.  A refusal that names a value it was sent blames the value: that call is not repeated as it was."""
    scenario = json.loads((fixtures_root() / "vehicle" / "scenarios" / "default.json").read_text())
    scenario["state"]["engine_running"], scenario["state"]["fuel_litres"] = True, 5.0  # parked, engine on, low
    (tmp_path / "idling.json").write_text(json.dumps(scenario))
    config = ExploreConfig(3, seed=1, max_steps=12, targets=("fill_fuel_tank",), coverage_round=1)
    target = ServerTarget(envs=("vehicle",), scenario=str(tmp_path / "idling.json"))
    run_id = explore(target, tmp_path / "walks.db", config)
    with Store(tmp_path / "walks.db") as store:
        walks = [walk for walk in store.iter_trajectories(run_id) if walk.target == "fill_fuel_tank"]
    for walk in walks:
        refused = next(step for step in walk.steps if step.tool == "fill_fuel_tank" and step.is_error)
        done = next(step for step in walk.steps if step.tool == "fill_fuel_tank" and not step.is_error)
        assert "stop_engine" in refused.text and done.arguments == refused.arguments, walk.steps
        assert "stop_engine" in [step.tool for step in walk.steps[refused.index : done.index] if not step.is_error]

    blamed = Step(0, "cancel_order", {"order_id": "ORD00013"}, None, "no order 'ORD00013' in your account", True)
    state = Step(1, "fill_fuel_tank", {"litres": 30.0}, None, "switch the engine off (stop_engine) first", True)
    stopped = Step(2, "stop_engine", {}, {"engine_running": False}, "", False, diff=[{"path": ["engine_running"]}])
    assert refused_for_the_state([blamed, stopped], "cancel_order") is None, "the order id was to blame"
    assert refused_for_the_state([blamed, state, stopped], "fill_fuel_tank") is state
    assert refused_for_the_state([blamed, state], "fill_fuel_tank") is None, "nothing changed since"
    full = Step(0, "fill_fuel_tank", {"litres": 30.0}, None, "only 12.5 L fits", True)
    walk = [full, replace(stopped, index=1), replace(full, index=2), replace(stopped, index=3)]
    assert refused_for_the_state(walk, "fill_fuel_tank") is None, "refused so twice: not for the state"
    handbrake = replace(state, index=2, text="the parking brake is on")
    walk = [replace(state, index=0), replace(stopped, index=1), handbrake, replace(stopped, index=3)]
    assert refused_for_the_state(walk, "fill_fuel_tank") is not None, "refused for another reason since"


def test_a_coverage_walk_does_not_undo_a_detour_that_was_refused_as_done_already(tmp_path):
    """Cruise control wants the engine running: with the engine on already, the detour `start_engine` is refused
    ("already running").  Its part is done; stopping the engine to start it again made a turn whose pruned ground
    truth does not replay (the start without the stop).  The walk reaches cruise control without a stop."""
    scenario = json.loads((fixtures_root() / "vehicle" / "scenarios" / "default.json").read_text())
    scenario["state"]["engine_running"] = True
    (tmp_path / "idling.json").write_text(json.dumps(scenario))
    config = ExploreConfig(3, seed=2, max_steps=24, targets=("activate_cruise_control",), coverage_round=1)
    run_id = explore(ServerTarget(envs=("vehicle",), scenario=str(tmp_path / "idling.json")), tmp_path / "w.db", config)
    with Store(tmp_path / "w.db") as store:
        walks = list(store.iter_trajectories(run_id))
    reached = [walk for walk in walks if walk.reached]
    assert reached, [walk.steps for walk in walks]
    for walk in reached:
        done = next(step for step in walk.steps if step.tool == walk.target and not step.is_error)
        assert "stop_engine" not in [step.tool for step in walk.steps[: done.index]], walk.steps


def test_a_coverage_walk_uses_a_session_before_it_logs_out():
    """`social_log_out` is refused with nobody logged in, so the walk logs in; logging out right away would be
    "log me in; log me out", a turn the story never takes: a call that uses the session comes between."""
    config = ExploreConfig(3, seed=0, max_steps=12, targets=("social_log_out",), coverage_round=1)
    with tempfile.TemporaryDirectory() as folder:
        run_id = explore(ServerTarget(envs=("social",)), Path(folder) / "w.db", config)
        with Store(Path(folder) / "w.db") as store:
            walks = list(store.iter_trajectories(run_id))
    for walk in walks:
        tools = [step.tool for step in walk.steps if not step.is_error]
        assert "social_log_out" in tools, walk.steps
        assert tools[tools.index("social_log_out") - 1] != "social_log_in", tools


def test_walks_in_a_shipped_scenario_log_in_with_its_own_accounts(tmp_path):
    """The shipped pools pair the default scenario's accounts (jsmith and Tr4de!2026): in `market_closed_night`
    (lchen, opatel) no walk ever logged in, and a whole world of walks made no request past the login.  A shipped
    scenario's walks draw the login records its own accounts hold."""
    config = ExploreConfig(4, seed=0, max_steps=10, worlds=("market_closed_night",), targets=("list_orders",) * 4)
    run_id = explore(ServerTarget(envs=("trading",)), tmp_path / "w.db", config)
    walks = trajectories(tmp_path / "w.db", run_id)
    logins = [step for walk in walks for step in walk.steps if step.tool == "trading_log_in"]
    assert logins and all(not step.is_error for step in logins), [(s.arguments, s.text) for s in logins]
    assert {step.arguments["username"] for step in logins} <= {"lchen", "opatel"}


def test_a_coverage_walk_asks_a_computation_again_when_it_gave_back_its_input(tmp_path):
    """3.5 mod 9.80665 leaves 3.5: nobody asks it, and synthesis gives such a call no turn, so six walks aimed at
    `modulo` gave it one turn.  A computation that gives back its input is asked again, with other numbers."""
    config = ExploreConfig(6, seed=0, max_steps=12, targets=("modulo",), coverage_round=1)
    run_id = explore(ServerTarget(envs=("math",)), tmp_path / "w.db", config)
    for walk in trajectories(tmp_path / "w.db", run_id):
        done = [step for step in walk.steps if step.tool == "modulo" and not step.is_error]
        assert any(step.result["remainder"] not in step.arguments.values() for step in done), walk.steps


def test_a_later_coverage_round_walks_anew(tmp_path):
    """Rounds 2 and 3 aimed two walks each at `reopen_ticket` where round 2's had not reached it, and round 3's
    were the same walks, step for step, in the same worlds: a later round draws its walks and worlds anew."""
    worlds = ("default", "busy_helpdesk", "generated:3")
    steps = {}
    for number in (1, 2, 3):
        config = ExploreConfig(2, seed=0, max_steps=6, worlds=worlds, targets=("get_ticket",), coverage_round=number)
        run_id = explore(ServerTarget(envs=("tickets",)), tmp_path / "w.db", config)
        walks = trajectories(tmp_path / "w.db", run_id)
        steps[number] = [(walk.scenario, [(step.tool, step.arguments) for step in walk.steps]) for walk in walks]
    assert steps[1] != steps[2] != steps[3] != steps[1]


def test_a_coverage_walk_redoes_a_detour_the_refusal_blames_and_looks_up_without_filters(tmp_path):
    """A market order fills at once, and only a pending order can be cancelled: "order ORD00027 is already filled"
    names what the detour made, so the detour may be made again, with other values; "you are logged in as a
    customer" names the state a login provides.  A refusal that names neither blames nothing done.  And a look-up
    on the way lists everything: "list my orders", not the orders for KO that a filter drawn at random asked."""
    placing = ToolInfo("place_stock_order", "", {"type": "object"}, read_only=False, hints={})
    provides = {"provides": ["tickets_logged_in"]}
    login = ToolInfo("tickets_log_in", "", {"type": "object"}, read_only=False, hints=provides)
    placed = Step(0, "place_stock_order", {"symbol": "TSLA"}, {"order_id": "ORD00027", "status": "filled"}, "", False)
    filled = Step(1, "cancel_order", {"order_id": "ORD00027"}, None, "order ORD00027 is already filled", True)
    missing = Step(1, "cancel_order", {"order_id": "ORD00019"}, None, "no order 'ORD00019' in your account", True)
    assert blamed(filled, [placed, filled], placing) and not blamed(missing, [placed, missing], placing)
    signed = Step(0, "tickets_log_in", {"username": "carlos"}, {"logged_in": True, "role": "customer"}, "", False)
    agents_only = Step(1, "resolve_ticket", {}, None, "only support agents can; you are logged in as a customer", True)
    assert blamed(agents_only, [signed, agents_only], login) and not blamed(missing, [signed, missing], login)

    config = ExploreConfig(4, seed=0, max_steps=12, worlds=("generated:16", "generated:0"), targets=("cancel_order",))
    run_id = explore(ServerTarget(envs=("trading",)), tmp_path / "w.db", replace(config, coverage_round=1))
    walks = trajectories(tmp_path / "w.db", run_id)
    looked_up = [step for walk in walks for step in walk.steps[: _reached_at(walk)] if step.tool == "list_orders"]
    assert looked_up and all(step.arguments == {} for step in looked_up), looked_up


def _reached_at(walk) -> int:
    return next((step.index for step in walk.steps if step.tool == walk.target and not step.is_error), len(walk.steps))
