"""Export every sample of a store in this process and report the time and this process's peak RSS.

python bench/export_child.py STORE FORMAT OUT    # prints one JSON line
"""

import json
import resource
import sys
import time
from pathlib import Path

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
        rows = [data for (data,) in store.db.execute("SELECT data FROM samples ORDER BY id LIMIT 2000")]
    started = time.perf_counter()
    written = 0
    for data in rows:
        sample = json.loads(data)
        written += len(json.dumps({"messages": sample["messages"], "tools": sample["tools"]}, ensure_ascii=False))
    floor_s = (time.perf_counter() - started) / len(rows)
    result = {
        "count": count,
        "seconds": seconds,
        "peak_rss_mb": peak_kb / 1024,
        "json_floor_samples_per_s": 1 / floor_s,
        "stored_kb_per_sample": sum(map(len, rows)) / len(rows) / 1024,
        "written_kb_per_sample": written / len(rows) / 1024,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
