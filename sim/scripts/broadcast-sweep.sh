#!/usr/bin/env bash
# Sweeps the broadcast family's intervals on the 3d/3e bench run and prints the trade-off
# table: interval settings, msgs-per-op (servers), median and max stable latency, valid.
#
# Every combination of the given lists runs once per seed, serially, with the settings
# passed to the nodes as environment overrides (GLOMERS__BROADCAST__<KEY>=value) on top of
# the chosen preset. Each run's results stay under the store directory.
#
# Usage: sim/scripts/broadcast-sweep.sh [options] [-- extra glomers-sim test args]
#   --preset NAME        config preset the nodes start from (default broadcast-3e.toml)
#   --origin LIST        origin_batch_ms values, comma-separated (default: the preset's)
#   --relay LIST         relay_batch_ms values
#   --anti-entropy LIST  anti_entropy_ms values
#   --retry LIST         retry_after_ms values
#   --topology LIST      topology values (star, tree, total, grid, maelstrom)
#   --fanout LIST        fanout values (tree)
#   --acks LIST          acks values (true, false)
#   --seeds LIST         bench seeds (default 1)
#   --nemesis            add --nemesis partition
#   --node-count N --time-limit S --rate R --latency MS   (defaults 25, 20, 100, 100)
#   --store DIR          where runs are stored (default: a fresh temporary directory)
#   --bin PATH           node binary (default target/release/glomers-host)
#   --sim PATH           bench binary (default target/release/glomers-sim)
# Example: sim/scripts/broadcast-sweep.sh --origin 0,250,500 --relay 200,500 --seeds 1,2
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
preset=broadcast-3e.toml
origin="" relay="" anti_entropy="" retry="" topology="" fanout="" acks=""
seeds=1 nemesis=() nodes=25 time_limit=20 rate=100 latency=100 store=""
bin="$root/target/release/glomers-host"
sim="$root/target/release/glomers-sim"
extra=()

need_value() {
    if [[ $# -lt 2 || -z "$2" ]]; then
        echo "broadcast-sweep: $1 needs a value" >&2
        exit 2
    fi
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --preset) need_value "$@"; preset=$2; shift 2 ;;
        --origin) need_value "$@"; origin=$2; shift 2 ;;
        --relay) need_value "$@"; relay=$2; shift 2 ;;
        --anti-entropy) need_value "$@"; anti_entropy=$2; shift 2 ;;
        --retry) need_value "$@"; retry=$2; shift 2 ;;
        --topology) need_value "$@"; topology=$2; shift 2 ;;
        --fanout) need_value "$@"; fanout=$2; shift 2 ;;
        --acks) need_value "$@"; acks=$2; shift 2 ;;
        --seeds) need_value "$@"; seeds=$2; shift 2 ;;
        --nemesis) nemesis=(--nemesis partition); shift ;;
        --node-count) need_value "$@"; nodes=$2; shift 2 ;;
        --time-limit) need_value "$@"; time_limit=$2; shift 2 ;;
        --rate) need_value "$@"; rate=$2; shift 2 ;;
        --latency) need_value "$@"; latency=$2; shift 2 ;;
        --store) need_value "$@"; store=$2; shift 2 ;;
        --bin) need_value "$@"; bin=$2; shift 2 ;;
        --sim) need_value "$@"; sim=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "broadcast-sweep: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

for tool in "$bin" "$sim"; do
    if [[ ! -x "$tool" ]]; then
        echo "broadcast-sweep: $tool is missing; run cargo build --release -p glomers-sim -p glomers-host" >&2
        exit 2
    fi
done
command -v jq >/dev/null || { echo "broadcast-sweep: jq is required" >&2; exit 2; }
[[ -n "$store" ]] || store=$(mktemp -d "${TMPDIR:-/tmp}/broadcast-sweep.XXXXXX")
mkdir -p "$store"

# The grid: each dimension is a list; an empty list means "keep the preset's value".
split() { if [[ -z "$1" ]]; then echo "-"; else tr ',' ' ' <<<"$1"; fi; }

printf '# preset %s, %s nodes, --time-limit %s --rate %s --latency %s %s\n' \
    "$preset" "$nodes" "$time_limit" "$rate" "$latency" "${nemesis[*]:-}"
printf '# runs stored under %s\n' "$store"
header='| topology | fanout | origin ms | relay ms | anti-entropy ms | retry ms | acks | seed | msgs-per-op | median ms | max ms | valid |'
echo "$header"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"

run=0
for topo in $(split "$topology"); do
for fo in $(split "$fanout"); do
for o in $(split "$origin"); do
for r in $(split "$relay"); do
for ae in $(split "$anti_entropy"); do
for rt in $(split "$retry"); do
for ak in $(split "$acks"); do
for seed in $(tr ',' ' ' <<<"$seeds"); do
    run=$((run + 1))
    dir="$store/run-$run"
    env_args=()
    [[ "$topo" == "-" ]] || env_args+=("GLOMERS__BROADCAST__TOPOLOGY=$topo")
    [[ "$fo" == "-" ]] || env_args+=("GLOMERS__BROADCAST__FANOUT=$fo")
    [[ "$o" == "-" ]] || env_args+=("GLOMERS__BROADCAST__ORIGIN_BATCH_MS=$o")
    [[ "$r" == "-" ]] || env_args+=("GLOMERS__BROADCAST__RELAY_BATCH_MS=$r")
    [[ "$ae" == "-" ]] || env_args+=("GLOMERS__BROADCAST__ANTI_ENTROPY_MS=$ae")
    [[ "$rt" == "-" ]] || env_args+=("GLOMERS__BROADCAST__RETRY_AFTER_MS=$rt")
    [[ "$ak" == "-" ]] || env_args+=("GLOMERS__BROADCAST__ACKS=$ak")
    set +e
    env "${env_args[@]}" "$sim" test -w broadcast --bin "$bin" "$preset" \
        --node-count "$nodes" --time-limit "$time_limit" --rate "$rate" --latency "$latency" \
        --seed "$seed" --store "$dir" "${nemesis[@]}" "${extra[@]}" >"$dir.log" 2>&1
    code=$?
    set -e
    results=$(find "$dir" -name results.json 2>/dev/null | head -n 1)
    if [[ -z "$results" ]]; then
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | - | - | - | no results (exit %s, see %s.log) |\n' \
            "$topo" "$fo" "$o" "$r" "$ae" "$rt" "$ak" "$seed" "$code" "$dir"
        continue
    fi
    jq -r --arg t "$topo" --arg f "$fo" --arg o "$o" --arg r "$r" --arg ae "$ae" \
        --arg rt "$rt" --arg ak "$ak" --arg s "$seed" '
        "| \($t) | \($f) | \($o) | \($r) | \($ae) | \($rt) | \($ak) | \($s) | " +
        "\(.net.servers.msgs_per_op * 100 | round / 100) | " +
        "\(.workload.stable_latencies["0.5"] // "-") | \(.workload.stable_latencies["1"] // "-") | " +
        "\(.valid) |"' "$results"
done; done; done; done; done; done; done; done
echo "# '-' means the preset's value"
