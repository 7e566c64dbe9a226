"""Export every sample of a store in this process and report the time and this process's peak RSS.

python bench/export_child.py STORE FORMAT OUT    # prints one JSON line
"""

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from simulator import Store
from synthesizer.export import export_samples
from synthesizer.samples import SampleStore


def main() -> None:
    store_path, fmt, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    with Store(store_path) as store:
        started = time.perf_counter()
        count = export_samples(SampleStore(store).iter_samples(), fmt, out)
        seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    with Store(store_path) as store:
        rows = store.db.execute("SELECT data, tools_hash FROM samples ORDER BY id LIMIT 2000").fetchall()
        tool_sets = dict(store.db.execute("SELECT hash, tools FROM tool_sets").fetchall())
    floor_s, written = _json_floor(rows, tool_sets, orjson.loads, orjson.dumps)
    stdlib_floor_s, _ = _json_floor(rows, tool_sets, json.loads, lambda value: json.dumps(value, ensure_ascii=False))
    result = {
        "count": count,
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024,
        "json_floor_samples_per_s": 1 / floor_s,
        "stdlib_json_floor_samples_per_s": 1 / stdlib_floor_s,
        "stored_kb_per_sample": sum(len(data) for data, _ in rows) / len(rows) / 1024,
        "written_kb_per_sample": written / len(rows) / 1024,
    }
    print(json.dumps(result))


def _json_floor(rows: list[tuple], tool_sets: dict[str, str], loads: Any, dumps: Any) -> tuple[float, int]:
    """Seconds per sample to decode a stored row and encode its messages and tools (each tool set decoded once)."""
    decoded = {key: loads(tools) for key, tools in tool_sets.items()}
    started = time.perf_counter()
    written = 0
    for data, tools_hash in rows:
        sample = loads(data)
        tools = decoded[tools_hash] if tools_hash is not None else sample["tools"]
        written += len(dumps({"messages": sample["messages"], "tools": tools}))
    return (time.perf_counter() - started) / len(rows), written


if __name__ == "__main__":
    main()
