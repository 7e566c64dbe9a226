"""File system: every tool's behaviour, failure modes, and that paths never leave the mock tree."""

import pytest

from servers import InvalidArgument, NotFound, PreconditionFailed
from tests.conftest import refused, run


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("filesystem", "default")


def nodes(box):
    return box.state()["filesystem"]["nodes"]


def test_navigation(box):
    assert run(box, "pwd").current_working_directory == "/home/alex"
    assert run(box, "ls").entries == ["documents/", "downloads/", "notes.txt", "projects/", "todo.txt"]
    assert ".bashrc" in run(box, "ls", show_hidden=True).entries
    assert run(box, "cd", folder="projects/website").current_working_directory == "/home/alex/projects/website"
    assert box.state()["filesystem"]["cwd"] == "/home/alex/projects/website"
    assert run(box, "cd", folder="../..").current_working_directory == "/home/alex"
    refused(box, "cd", NotFound, folder="nowhere")
    refused(box, "cd", InvalidArgument, folder="notes.txt")
    refused(box, "ls", NotFound, path="/missing")


def test_create_write_read(box):
    assert run(box, "mkdir", dir_name="backup").path == "/home/alex/backup"
    assert nodes(box)["/home/alex/backup"] == {"kind": "directory", "content": ""}
    refused(box, "mkdir", InvalidArgument, dir_name="backup")
    refused(box, "mkdir", NotFound, dir_name="a/b/c")
    assert run(box, "mkdir", dir_name="a/b/c", parents=True).path == "/home/alex/a/b/c"
    assert {"/home/alex/a", "/home/alex/a/b"} <= set(nodes(box))
    assert run(box, "touch", file_name="backup/empty.txt").path == "/home/alex/backup/empty.txt"
    refused(box, "touch", InvalidArgument, file_name="backup")
    refused(box, "touch", NotFound, file_name="missing/x.txt")
    written = run(box, "echo", content="line one\n", file_name="backup/log.txt")
    run(box, "echo", content="line two\n", file_name=written.path, append=True)
    assert run(box, "cat", file_name="backup/log.txt").content == "line one\nline two\n"
    assert run(box, "echo", content="hi").terminal_output == "hi"
    refused(box, "echo", InvalidArgument, content="x", file_name="backup")
    refused(box, "cat", NotFound, file_name="nope.txt")
    refused(box, "cat", InvalidArgument, file_name="documents")


def test_move_copy_remove(box):
    assert run(box, "cp", source="notes.txt", destination="documents").path == "/home/alex/documents/notes.txt"
    assert nodes(box)["/home/alex/documents/notes.txt"] == nodes(box)["/home/alex/notes.txt"]
    assert run(box, "mv", source="todo.txt", destination="tasks.txt").path == "/home/alex/tasks.txt"
    assert "/home/alex/todo.txt" not in nodes(box)
    copied = run(box, "cp", source="projects", destination="/tmp/projects_copy").path
    assert "/tmp/projects_copy/website/index.html" in nodes(box)
    refused(box, "cp", PreconditionFailed, source="notes.txt", destination="tasks.txt")
    refused(box, "mv", InvalidArgument, source="projects", destination="projects/website")
    refused(box, "mv", NotFound, source="ghost.txt", destination="x.txt")
    refused(box, "rm", PreconditionFailed, path=copied)
    removed = run(box, "rm", path=copied, recursive=True).removed
    assert removed[-1] == copied and not any(p.startswith(copied) for p in nodes(box))
    run(box, "cd", folder="documents")
    refused(box, "rm", PreconditionFailed, path="/home/alex", recursive=True)
    refused(box, "rm", InvalidArgument, path="/", recursive=True)


def test_move_carries_the_working_directory(box):
    run(box, "cd", folder="projects/website")
    run(box, "mv", source="/home/alex/projects", destination="/home/alex/work")
    assert run(box, "pwd").current_working_directory == "/home/alex/work/website"


def test_search_and_text_tools(box):
    found = run(box, "find", path="/home", name="report*").matches
    assert found == ["/home/alex/documents/report_draft.txt", "/home/alex/documents/report_final.txt"]
    assert run(box, "find", path="projects", kind="directory").matches == ["/home/alex/projects/website"]
    assert run(box, "grep", file_name=found[0], pattern="revenue", ignore_case=True).matching_lines == [
        "Revenue grew 12%"
    ]
    assert run(box, "wc", file_name="todo.txt").count == 4
    assert run(box, "wc", file_name="todo.txt", mode="words").count == 12
    assert run(box, "sort", file_name="todo.txt").lines[0] == "book flights to Lisbon"
    assert run(box, "head", file_name="todo.txt", lines=1).lines == ["write report"]
    assert run(box, "tail", file_name="todo.txt", lines=2).lines == ["book flights to Lisbon", "call the bank"]
    assert run(box, "tail", file_name="todo.txt", lines=0).lines == []
    diff = run(box, "diff", file_name1=found[0], file_name2=found[1]).diff_lines
    assert "-Revenue grew 12%" in diff and "+Revenue grew 14%" in diff
    assert run(box, "diff", file_name1="notes.txt", file_name2="notes.txt").diff_lines == []
    usage = run(box, "du", path="documents")
    assert usage.bytes == sum(len(n["content"].encode()) for p, n in nodes(box).items() if "/documents/" in p)
    refused(box, "find", NotFound, path="/nope")
    refused(box, "grep", NotFound, file_name="nope", pattern="x")


@pytest.mark.parametrize("path", ["../../../../etc", "/../../etc", "//etc", "a/../../../etc", "/./../etc/"])
def test_dot_dot_never_climbs_above_the_root(box, path):
    run(box, "mkdir", dir_name="/etc")
    assert run(box, "cd", folder=path).current_working_directory == "/etc"


def test_the_real_disk_is_never_touched(box, tmp_path):
    real_file = tmp_path / "secret.txt"
    real_file.write_text("real")
    refused(box, "cat", NotFound, file_name=str(real_file))
    run(box, "mkdir", dir_name=str(tmp_path), parents=True)
    run(box, "echo", content="mock", file_name=str(tmp_path / "new.txt"))
    run(box, "rm", path=str(real_file.parent), recursive=True)
    assert real_file.read_text() == "real" and not (tmp_path / "new.txt").exists()


def test_state_is_deterministic(sandbox_of):
    def session(box):
        run(box, "mkdir", dir_name="x")
        run(box, "echo", content="1", file_name="x/a")
        run(box, "cp", source="x", destination="y")
        return box.state_hash()

    assert session(sandbox_of("filesystem", "default", 1)) == session(sandbox_of("filesystem", "default", 1))
