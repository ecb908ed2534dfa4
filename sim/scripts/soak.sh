#!/usr/bin/env bash
# Soak runs: glomers-host under glomers-sim for minutes at a time, to show that the nodes'
# memory and bookkeeping stay bounded.
#
#   sim/scripts/soak.sh [--only kafka,broadcast,txn] [--kafka-minutes 10]
#                       [--broadcast-minutes 3] [--txn-minutes 3] [--seed 1]
#                       [--store DIR] [--no-build]
#
# Runs (each with partitions):
#   kafka      the 5c command (kafka-5c.toml): -w kafka --node-count 2 --concurrency 2n
#              --rate 1000 --nemesis partition
#   broadcast  the 3e command (broadcast-3e.toml): -w broadcast --node-count 25 --rate 100
#              --latency 100 --nemesis partition
#   txn        the 6c command (txn.toml): -w txn-rw-register --node-count 2 --concurrency 2n
#              --rate 1000 --consistency-models read-committed --availability total
#              --nemesis partition
#
# For each run it prints the verdict, each node's resident set over time (the bench samples
# it every 10 s) with its growth rate after the first minute, and the nodes' bookkeeping
# (pending RPCs, queued RPC deadlines, live timers, timer queue entries), which glomers-host
# logs every 10 s at debug level. Exit status: 0 when every run is valid, every node stays
# under 64 MiB and the bookkeeping does not grow; 1 otherwise. Needs python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

only="kafka,broadcast,txn"
kafka_minutes=10
broadcast_minutes=3
txn_minutes=3
seed=1
store="${TMPDIR:-/tmp}/glomers-soak"
build=1
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only="$2"; shift 2 ;;
    --kafka-minutes) kafka_minutes="$2"; shift 2 ;;
    --broadcast-minutes) broadcast_minutes="$2"; shift 2 ;;
    --txn-minutes) txn_minutes="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --store) store="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "soak.sh: unknown argument $1 (allowed: --only, --kafka-minutes, --broadcast-minutes, --txn-minutes, --seed, --store, --no-build)" >&2; exit 2 ;;
  esac
done
for m in "$kafka_minutes" "$broadcast_minutes" "$txn_minutes"; do
  [[ "$m" =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: minutes must be positive whole numbers, got $m" >&2; exit 2; }
done
command -v python3 >/dev/null || { echo "soak.sh: python3 is required" >&2; exit 2; }

if [ "$build" = 1 ]; then
  cargo build --release -p glomers-sim -p glomers-host >&2
fi
sim=target/release/glomers-sim
host=target/release/glomers-host

status=0
# run NAME MINUTES PRESET FLAGS...: one soak run, then its figures.
run() {
  local name="$1" minutes="$2" preset="$3"
  shift 3
  local seconds=$((minutes * 60))
  local flags=("$@" --time-limit "$seconds" --seed "$seed" --store "$store/$name")
  echo
  echo "== $name, $minutes min: glomers-sim test ${flags[*]} $preset"
  local started
  started=$(date +%s)
  local code=0
  GLOMERS__NODE__LOG_LEVEL=debug "$sim" test "${flags[@]}" --bin "$host" "$preset" \
    >"$store/$name.out" 2>"$store/$name.err" || code=$?
  echo "   ended after $(( $(date +%s) - started )) s with exit code $code (report: $store/$name.out)"
  python3 - "$store/$name/latest" "$code" <<'PY' || status=1
import json, os, re, statistics, sys

run_dir, code = sys.argv[1], int(sys.argv[2])
LIMIT_KIB = 64 * 1024
ok = True
try:
    res = json.load(open(os.path.join(run_dir, "results.json")))
except OSError as e:
    print(f"   no results.json ({e}); see the report")
    sys.exit(1)

valid = res.get("valid")
by_f = res["stats"].get("by_f", {})
ops = res["test"]["invoke_count"]
avail = res["availability"].get("ok_fraction")
verdict = {True: "valid", False: "INVALID"}.get(valid, "unknown")
shown_avail = f"{avail:.4f}" if avail is not None else "-"
print(f"   verdict: {verdict} (exit {code}); {ops} operations; availability {shown_avail}")
ok &= valid is True and code == 0

# Data the nodes must keep, to put memory growth in proportion.
if "send" in by_f:
    stored, what = by_f["send"]["ok_count"], "acknowledged sends"
elif "broadcast" in by_f:
    stored, what = by_f["broadcast"]["count"], "broadcast values"
elif "txn" in by_f:
    stored, what = by_f["txn"]["ok_count"], "committed transactions"
else:
    stored, what = 0, "operations"


def slope(points):
    """Least-squares slope of (x, y) points, per unit of x."""
    if len(points) < 2:
        return 0.0
    xs, ys = zip(*points)
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


print(f"   node memory (bench samples every 10 s; growth fitted after the first minute; "
      f"{stored} {what}):")
memory = res.get("node_memory", {})
worst_peak, rates = 0, []
for node in sorted(memory, key=lambda n: int(n[1:])):
    m = memory[node]
    samples = m.get("rss_kib_samples", [])
    peak = m.get("peak_rss_kib") or 0
    worst_peak = max(worst_peak, peak)
    late = [(t / 60, k) for t, k in samples if t >= 60]
    rate = slope(late)  # KiB per minute
    rates.append(rate)
    per_minute = [k for t, k in samples if abs((t % 60)) < 5 or abs(t % 60 - 60) < 5]
    shown = " ".join(f"{k / 1024:.1f}" for k in per_minute)
    per_item = (rate * (samples[-1][0] / 60) * 1024 / stored) if stored and samples else 0
    if len(memory) <= 5:
        print(f"     {node}: peak {peak / 1024:.1f} MiB; RSS each minute (MiB): {shown}; "
              f"growth {rate:+.1f} KiB/min (~{per_item:.1f} B per {what[:-1]})")
if len(memory) > 5:
    peaks = sorted((m.get("peak_rss_kib") or 0) for m in memory.values())
    print(f"     {len(memory)} nodes: peak RSS {peaks[0] / 1024:.1f}..{peaks[-1] / 1024:.1f} MiB; "
          f"growth after the first minute {min(rates):+.1f}..{max(rates):+.1f} KiB/min "
          f"(median {statistics.median(rates):+.1f})")
under = worst_peak < LIMIT_KIB
print(f"     every node under 64 MiB: {'yes' if under else 'NO'} (highest peak "
      f"{worst_peak / 1024:.1f} MiB)")
ok &= under

line_re = re.compile(r"DEBG bookkeeping, (.*)$")
field_re = re.compile(r"(\w+): (\d+)")
fields = ["pending_rpcs", "rpc_deadlines", "timers", "timer_queue"]
series = {f: [] for f in fields}  # per field: (node, [(uptime, value)])
logs = os.path.join(run_dir, "node-logs")
for name in sorted(os.listdir(logs)):
    points = {f: [] for f in fields}
    with open(os.path.join(logs, name), errors="replace") as fh:
        for line in fh:
            m = line_re.search(line)
            if not m:
                continue
            kv = {k: int(v) for k, v in field_re.findall(m.group(1))}
            for f in fields:
                if f in kv:
                    points[f].append((kv["uptime_s"], kv[f]))
    for f in fields:
        series[f].append((name[:-4], points[f]))

print("   bookkeeping (logged every 10 s): min / median / max over all nodes, and the mean "
      "of the first and last third of the run:")
flat = True
for f in fields:
    values = [v for _, pts in series[f] for _, v in pts]
    if not values:
        print(f"     {f}: no samples (is the host built with debug logging?)")
        flat = False
        continue
    first, last = [], []
    for _, pts in series[f]:
        n = len(pts)
        first += [v for _, v in pts[: max(1, n // 3)]]
        last += [v for _, v in pts[n - max(1, n // 3):]]
    a, b = statistics.fmean(first), statistics.fmean(last)
    grows = b > 1.5 * a + 5
    flat &= not grows
    print(f"     {f:<13} {min(values)} / {statistics.median(values):g} / {max(values)}; "
          f"first third {a:.1f} -> last third {b:.1f}{'  GROWING' if grows else ''}")
print(f"     bookkeeping flat: {'yes' if flat else 'NO'}")
ok &= flat
sys.exit(0 if ok else 1)
PY
}

mkdir -p "$store"
IFS=',' read -r -a selected <<<"$only"
for name in "${selected[@]}"; do
  case "$name" in
    kafka)
      run kafka "$kafka_minutes" kafka-5c.toml -w kafka --node-count 2 --concurrency 2n \
        --rate 1000 --nemesis partition ;;
    broadcast)
      run broadcast "$broadcast_minutes" broadcast-3e.toml -w broadcast --node-count 25 \
        --rate 100 --latency 100 --nemesis partition ;;
    txn)
      run txn "$txn_minutes" txn.toml -w txn-rw-register --node-count 2 --concurrency 2n \
        --rate 1000 --consistency-models read-committed --availability total \
        --nemesis partition ;;
    *) echo "soak.sh: unknown run $name (allowed: kafka, broadcast, txn)" >&2; exit 2 ;;
  esac
done
echo
if [ "$status" = 0 ]; then echo "soak: every run valid and bounded"; else echo "soak: PROBLEMS above"; fi
exit "$status"
