"""Every command in the README runs, as a new user would run it, in an empty folder."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
INSTALL = 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && '
TEST_COMMAND = ".venv/bin/python -m pytest"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.DOTALL)


def test_the_first_screen_has_exactly_the_two_setup_commands():
    first_screen = README.read_text().split("## ")[0]
    commands = re.findall(r"```bash\n(.*?)```", first_screen, re.DOTALL)
    assert [command.strip() for command in commands] == [INSTALL + ".venv/bin/funreason run", TEST_COMMAND]
    assert "pytest" in (Path(__file__).parent.parent / ".ci" / "run").read_text()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """An empty folder whose `.venv` is the environment running the tests."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / ".venv").symlink_to(Path(sys.prefix))
    return folder


def run_bash(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run a README block; its example port becomes a free one, and anything it left running is stopped."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        script = script.replace("8765", str(probe.getsockname()[1]))
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    # Output goes to files, not pipes: a server a failed block left in the background would hold a pipe open.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen(
            ["bash", "-e", "-c", script],
            cwd=folder,
            env=environment,
            stdout=stdout,
            stderr=stderr,
            text=True,
            start_new_session=True,
        )
        try:
            process.wait(timeout=600)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout.read(), stderr.read())


PAPER_SCALE = ("--samples 17000", "--samples 60")
"""The paper-scale block runs as written but for its size (BENCHMARKS.md has the full run's figures)."""


@pytest.mark.heavy
def test_every_bash_block_runs(workdir):
    scripts = [block.replace(INSTALL, "") for block in blocks("bash") if block.strip() != TEST_COMMAND]
    assert len(scripts) >= 6 and sum(PAPER_SCALE[0] in script for script in scripts) == 1
    scripts = [script.replace(*PAPER_SCALE) for script in scripts]
    for script in scripts:
        result = run_bash(script, workdir)
        assert result.returncode == 0, f"README block failed:\n{script}\n{result.stderr[-2000:]}"
    assert (workdir / "funreason-out" / "report.html").exists()
    assert 12 <= (workdir / "small-run" / "openai.jsonl").read_text().count("\n") <= 24, "--samples 12: a little over"
    assert (workdir / "data.jsonl").stat().st_size > 0 and (workdir / "graph.png").exists()


@pytest.mark.heavy
def test_every_python_block_runs(workdir):
    if not (workdir / "funreason-out" / "openai.jsonl").exists():
        run_bash(".venv/bin/funreason run --trajectories 5", workdir)
    pytest.importorskip("datasets")
    for code in blocks("python"):
        result = subprocess.run([sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"README block failed:\n{code}\n{result.stderr[-2000:]}"
