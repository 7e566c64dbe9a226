"""File-system worlds: another person's home with documents, projects, data and logs, with real contents."""

import posixpath
from collections.abc import Callable

from servers.worlds._framework import Draw, Person, World, generator

__all__ = ["generate"]


@generator("filesystem")
def generate(draw: Draw) -> World:
    """A home folder of 3-7 areas (documents, projects, data, photos notes, music lists, logs, archive) of
    files whose contents fit their names (CSV rows, reports, scripts, to-do lists), /tmp, and a working
    directory that is the home or one of its folders."""
    person = draw.people(1)[0]
    home = f"/home/{draw.handle(person, '')[:12]}"
    nodes: dict[str, dict] = {}
    _folder(nodes, "/home")
    _folder(nodes, home)
    _folder(nodes, "/tmp")
    _file(nodes, f"{home}/.bashrc", "export PATH=$HOME/bin:$PATH\nalias ll='ls -l'\n")
    _file(nodes, f"{home}/todo.txt", _lines(draw, "todo_items", 3, 7))
    if draw.chance(0.6):
        _file(nodes, f"{home}/notes.txt", _lines(draw, "notes", 2, 5))
    for area in draw.sample(list(_AREAS), draw.between(3, 7)):
        _AREAS[area](draw, nodes, f"{home}/{area}", person)
    if draw.chance(0.4):
        _file(nodes, f"/tmp/session_{draw.code(4)}.log", _log(draw))
    folders = [path for path, node in nodes.items() if node["kind"] == "directory"]
    files = [path for path, node in nodes.items() if node["kind"] == "file"]
    cwd = home if draw.chance(0.6) else draw.pick([path for path in folders if path.startswith(home + "/")] or [home])
    state = {"cwd": cwd, "nodes": dict(sorted(nodes.items()))}
    relative = [posixpath.relpath(path, cwd) for path in files if path.startswith(cwd + "/")]
    words = sorted(
        {word for path in files for word in nodes[path]["content"].split() if word.isalpha() and len(word) > 4}
    )
    extensions = sorted({posixpath.splitext(path)[1] for path in files if posixpath.splitext(path)[1]})
    pools = {
        "file_path": draw.sample(relative, 4) + draw.sample(files, 3),
        "dir_path": draw.sample(folders, 6),
        "path": draw.sample(relative + folders, 4),
        "pattern": draw.sample(words, 6),
        "name": [f"*{extension}" for extension in draw.sample(extensions, 3)] + [f"{draw.pick(words)[:4].lower()}*"],
    }
    return World(state, pools, f"{person.full}'s home {home}: {len(files)} files in {len(folders)} folders.")


def _folder(nodes: dict[str, dict], path: str) -> None:
    parent = posixpath.dirname(path)
    if parent != path and parent not in nodes:
        _folder(nodes, parent)
    nodes.setdefault(path, {"kind": "directory", "content": ""})


def _file(nodes: dict[str, dict], path: str, content: str) -> None:
    _folder(nodes, posixpath.dirname(path))
    nodes[path] = {"kind": "file", "content": content}


def _lines(draw: Draw, key: str, low: int, high: int) -> str:
    return "".join(f"{line}\n" for line in draw.sample(draw.vocab(key), draw.between(low, high)))


def _documents(draw: Draw, nodes: dict[str, dict], root: str, person: Person) -> None:
    quarter, year = draw.between(1, 4), draw.between(2024, 2026)
    for version in draw.sample(("draft", "final", "v2", "review"), draw.between(1, 3)):
        lines = [f"Q{quarter} {year} report", f"Revenue grew {draw.between(2, 25)}%",
                 f"Costs fell {draw.between(1, 9)}%", f"Headcount: {draw.between(8, 240)}"]  # fmt: skip
        _file(nodes, f"{root}/report_q{quarter}_{version}.txt", "".join(f"{line}\n" for line in lines))
    company = draw.pick(draw.vocab("companies"))
    letter = f"Dear {company} team,\n{draw.pick(draw.vocab('notes'))}\nBest regards,\n{person.full}\n"
    _file(nodes, f"{root}/letters/{company.split()[0].lower()}_letter.txt", letter)
    if draw.chance(0.5):
        _file(nodes, f"{root}/cv_{person.last.lower()}.md", f"# {person.full}\n\n## Experience\n- {company}\n")


def _projects(draw: Draw, nodes: dict[str, dict], root: str, person: Person) -> None:
    for project in draw.sample(draw.vocab("project_names"), draw.between(1, 3)):
        base = f"{root}/{project}"
        _file(nodes, f"{base}/README.md", f"# {project.replace('-', ' ').title()}\n{draw.pick(draw.vocab('notes'))}\n")
        module = project.replace("-", "_")
        code = f"def main():\n    print('{project} starting')\n\n\nif __name__ == '__main__':\n    main()\n"
        _file(nodes, f"{base}/src/{module}.py", code)
        if draw.chance(0.5):
            _file(
                nodes,
                f"{base}/tests/test_{module}.py",
                f"from src.{module} import main\n\n\ndef test_main():\n    main()\n",
            )
        if draw.chance(0.4):
            _file(nodes, f"{base}/requirements.txt", "".join(f"{name}\n" for name in draw.sample(_LIBRARIES, 3)))


def _data(draw: Draw, nodes: dict[str, dict], root: str, person: Person) -> None:
    for topic in draw.sample(list(_TABLES), draw.between(1, 3)):
        header, row = _TABLES[topic]
        rows = [row(draw) for _ in range(draw.between(3, 9))]
        _file(nodes, f"{root}/{topic}_{draw.between(2024, 2026)}.csv", header + "\n" + "".join(f"{r}\n" for r in rows))


def _photos(draw: Draw, nodes: dict[str, dict], root: str, person: Person) -> None:
    for trip in draw.sample(draw.vocab("towns"), draw.between(1, 3)):
        captions = [f"IMG_{draw.code(4)}.jpg {draw.pick(('sunset', 'harbour', 'old town', 'market', 'hike'))}"
                    for _ in range(draw.between(2, 5))]  # fmt: skip
        _file(nodes, f"{root}/{trip.lower()}_trip/captions.txt", "".join(f"{c}\n" for c in captions))


def _music(draw: Draw, nodes: dict[str, dict], root: str, person: Person) -> None:
    for name in draw.sample(("road_trip", "focus", "running", "sunday"), draw.between(1, 2)):
        _file(nodes, f"{root}/playlists/{name}.m3u", "".join(f"{song}\n" for song in draw.sample(_SONGS, 4)))


def _logs(draw: Draw, nodes: dict[str, dict], root: str, person: Person) -> None:
    for service in draw.sample(("backup", "sync", "server", "cron"), draw.between(1, 2)):
        _file(nodes, f"{root}/{service}.log", _log(draw))


def _archive(draw: Draw, nodes: dict[str, dict], root: str, person: Person) -> None:
    year = draw.between(2019, 2024)
    _file(nodes, f"{root}/{year}/taxes_{year}.txt", f"Tax return {year}\nRefund: {draw.between(50, 2400)} USD\n")
    _file(nodes, f"{root}/{year}/old_notes.txt", _lines(draw, "notes", 1, 3))


def _log(draw: Draw) -> str:
    levels = ("INFO", "INFO", "INFO", "WARNING", "ERROR")
    events = ("job started", "job finished", "disk usage at 81%", "connection reset by peer", "retrying upload")
    return "".join(
        f"2026-0{draw.between(1, 6)}-{draw.between(10, 28)} {draw.between(10, 23)}:{draw.between(10, 59)} "
        f"{draw.pick(levels)} {draw.pick(events)}\n"
        for _ in range(draw.between(3, 8))
    )


_AREAS: dict[str, Callable[[Draw, dict[str, dict], str, Person], None]] = {
    "documents": _documents,
    "projects": _projects,
    "data": _data,
    "photos": _photos,
    "music": _music,
    "logs": _logs,
    "archive": _archive,
}
_LIBRARIES = ("numpy", "pandas", "requests", "flask", "pytest", "matplotlib", "click", "pydantic")
_SONGS = ("Bohemian Rhapsody.mp3", "Clair de Lune.mp3", "Dancing Queen.mp3", "Hotel California.mp3",
          "Take Five.mp3", "Wonderwall.mp3", "Yellow.mp3", "Superstition.mp3", "Africa.mp3")  # fmt: skip
_TABLES: dict[str, tuple[str, Callable[[Draw], str]]] = {
    "expenses": ("date,category,amount", lambda d: f"2026-0{d.between(1, 6)}-{d.between(10, 28)},"
                 f"{d.pick(('rent', 'food', 'travel', 'books', 'utilities'))},{d.amount(5, 900)}"),
    "experiment": ("trial,temperature,score", lambda d: f"{d.between(1, 40)},{d.amount(18, 40, 0.1)},"
                   f"{d.amount(0, 1, 0.01)}"),
    "sales": ("region,month,revenue", lambda d: f"{d.pick(('north', 'south', 'east', 'west'))},"
              f"{d.pick(('jan', 'feb', 'mar', 'apr'))},{d.between(1000, 90000)}"),
    "runs": ("date,distance_km,minutes", lambda d: f"2026-0{d.between(1, 6)}-{d.between(10, 28)},"
             f"{d.amount(3, 21, 0.1)},{d.between(18, 130)}"),
}  # fmt: skip
