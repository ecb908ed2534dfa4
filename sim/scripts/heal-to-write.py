#!/usr/bin/env python3
"""Time from each heal to the first successful write, for lin-kv runs of glomers-sim.

Usage: sim/scripts/heal-to-write.py RESULTS_DIR [RESULTS_DIR ...]

For every `stop-partition` in a run's nemesis.jsonl, finds the first write or cas
invoked at or after the heal that completed ok (history.jsonl), and takes its completion
time minus the heal time. Prints, per run: servers msgs-per-op and availability (from
results.json), the number of heals, and the median and largest of those delays in ms.
Heals after the last write of the run are left out.
"""

import json
import statistics
import sys
from pathlib import Path


def delays(run: Path) -> list[float]:
    heals = []
    for line in (run / "nemesis.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event.get("f") == "stop-partition":
            heals.append(event["time"])
    invoked = {}
    writes = []  # (invoke time, completion time) of ok writes and cas
    for line in (run / "history.jsonl").read_text().splitlines():
        op = json.loads(line)
        if op.get("f") not in ("write", "cas"):
            continue
        key = (op["process"], op.get("client"), op.get("msg_id"))
        if op["type"] == "invoke":
            invoked[key] = op["time"]
        elif op["type"] == "ok" and key in invoked:
            writes.append((invoked.pop(key), op["time"]))
    found = []
    for heal in heals:
        after = [done for (start, done) in writes if start >= heal]
        if after:
            found.append((min(after) - heal) / 1e6)
    return found


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print("run  msgs/op  availability  heals  heal->write median / max (ms)")
    for arg in sys.argv[1:]:
        run = Path(arg)
        results = json.loads((run / "results.json").read_text())
        mpo = results["net"]["servers"]["msgs_per_op"]
        ok = results["availability"]["ok_fraction"]
        found = delays(run)
        spread = (
            f"{statistics.median(found):.0f} / {max(found):.0f}" if found else "-"
        )
        print(f"{run}  {mpo:.2f}  {ok:.3f}  {len(found)}  {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
