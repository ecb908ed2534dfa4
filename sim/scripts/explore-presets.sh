#!/usr/bin/env bash
# Explores every challenge preset on the deterministic driver with random faults and
# prints one line per preset: seeds, verdicts, CPU per seed, and the broken rules.
#
#   sim/scripts/explore-presets.sh [--seeds 1..1000] [--faults partition-random] [--jobs N]
#
# Needs a release build (cargo build --release). Failing seeds are shrunk and written as
# replay files under store/explore/<preset>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="1..1000"
faults="partition-random"
jobs=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --faults) faults="$2"; shift 2 ;;
    --jobs) jobs="--jobs $2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 254 ;;
  esac
done
sim=target/release/glomers-sim
[[ -x $sim ]] || { echo "build first: cargo build --release" >&2; exit 1; }
presets=(
  "1|-w echo --node-count 1 --time-limit 10"
  "2|-w unique-ids --time-limit 30 --rate 1000 --node-count 3 --availability total"
  "3b|-w broadcast --node-count 5 --time-limit 20 --rate 10 broadcast.toml"
  "3d|-w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100 broadcast-3d.toml"
  "3e|-w broadcast --node-count 25 --time-limit 20 --rate 100 --latency 100 broadcast-3e.toml"
  "4|-w g-counter --node-count 3 --rate 100 --time-limit 20 g-counter.toml"
  "5b|-w kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 kafka.toml"
  "5c|-w kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 kafka-5c.toml"
  "6c|-w txn-rw-register --node-count 2 --concurrency 2n --time-limit 20 --rate 1000 --consistency-models read-committed --availability total txn.toml"
)
printf '%-4s %s\n' "row" "result (seeds $seeds, faults $faults)"
for p in "${presets[@]}"; do
  id="${p%%|*}"; flags="${p#*|}"
  # shellcheck disable=SC2086
  out=$($sim explore $flags --seeds "$seeds" --faults "$faults" $jobs --out "store/explore/$id" 2>/dev/null || true)
  summary=$(grep -m1 ' seeds in ' <<<"$out" || echo "no summary")
  rules=$(grep -E '^[0-9]+ +(INVALID|unknown|CRASH)' <<<"$out" | awk '{print $5}' | sort | uniq -c | tr -s ' ' | paste -sd ';' - || true)
  printf '%-4s %s %s\n' "$id" "$summary" "${rules:+| broken: $rules}"
done
