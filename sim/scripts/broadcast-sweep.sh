#!/usr/bin/env bash
# Sweeps the broadcast family's settings on the 3d/3e bench run and prints the trade-off
# table: the settings swept, msgs-per-op (servers), median and max stable latency, valid.
#
# Every combination of the given lists runs once per seed, serially, with the settings
# passed to the nodes as environment overrides (GLOMERS__BROADCAST__<KEY>=value) on top of
# the chosen preset. Only the swept settings get a column; the others keep the preset's
# values. Each run's results stay under the store directory.
#
# Usage: sim/scripts/broadcast-sweep.sh [options] [-- extra glomers-sim test args]
#   --preset NAME        config preset the nodes start from (default broadcast-3e.toml)
#   --batching LIST      batching values (independent, rounds)
#   --round LIST         round_ms values (rounds)
#   --slack LIST         round_slack_ms values (rounds)
#   --markers LIST       round_markers values (true, false)
#   --origin LIST        origin_batch_ms values, comma-separated (independent)
#   --relay LIST         relay_batch_ms values (independent)
#   --failover LIST      failover_ms values (0 turns routing around the hub off)
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
# Example: sim/scripts/broadcast-sweep.sh --batching rounds --round 1400,1700 --seeds 1,2
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
preset=broadcast-3e.toml
seeds=1 nemesis=() nodes=25 time_limit=20 rate=100 latency=100 store=""
bin="$root/target/release/glomers-host"
sim="$root/target/release/glomers-sim"
extra=()

# The sweepable settings: option name, config key, column title.
options=(batching round slack markers origin relay failover anti-entropy retry topology fanout acks)
declare -A key=(
    [batching]=batching [round]=round_ms [slack]=round_slack_ms [markers]=round_markers
    [origin]=origin_batch_ms [relay]=relay_batch_ms [failover]=failover_ms
    [anti-entropy]=anti_entropy_ms [retry]=retry_after_ms [topology]=topology
    [fanout]=fanout [acks]=acks
)
declare -A title=(
    [batching]=batching [round]="round ms" [slack]="slack ms" [markers]=markers
    [origin]="origin ms" [relay]="relay ms" [failover]="failover ms"
    [anti-entropy]="anti-entropy ms" [retry]="retry ms" [topology]=topology
    [fanout]=fanout [acks]=acks
)
declare -A list=()

need_value() {
    if [[ $# -lt 2 || -z "$2" ]]; then
        echo "broadcast-sweep: $1 needs a value" >&2
        exit 2
    fi
}

while [[ $# -gt 0 ]]; do
    opt=${1#--}
    if [[ "$1" == --* && -n "${key[$opt]:-}" ]]; then
        need_value "$@"; list[$opt]=$2; shift 2; continue
    fi
    case "$1" in
        --preset) need_value "$@"; preset=$2; shift 2 ;;
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

# The swept dimensions, in the order of `options`.
swept=()
for opt in "${options[@]}"; do
    [[ -z "${list[$opt]:-}" ]] || swept+=("$opt")
done

printf '# preset %s, %s nodes, --time-limit %s --rate %s --latency %s %s\n' \
    "$preset" "$nodes" "$time_limit" "$rate" "$latency" "${nemesis[*]:-}"
printf '# runs stored under %s; settings not listed keep the preset'"'"'s values\n' "$store"
header="|" rule="|"
for opt in "${swept[@]}"; do header+=" ${title[$opt]} |"; rule+="---|"; done
echo "$header seed | msgs-per-op | median ms | max ms | valid |"
echo "$rule---|---|---|---|---|"

run=0
# run_combination INDEX ASSIGNMENTS...: recurses over the swept dimensions, then runs
# every seed with the chosen KEY=VALUE assignments.
run_combination() {
    local depth=$1; shift
    if [[ $depth -lt ${#swept[@]} ]]; then
        local opt=${swept[$depth]} value
        for value in $(tr ',' ' ' <<<"${list[$opt]}"); do
            run_combination $((depth + 1)) "$@" "$opt=$value"
        done
        return
    fi
    local seed env_args=() cells="|" assignment
    for assignment in "$@"; do
        local opt=${assignment%%=*} value=${assignment#*=}
        env_args+=("GLOMERS__BROADCAST__$(tr '[:lower:]' '[:upper:]' <<<"${key[$opt]}")=$value")
        cells+=" $value |"
    done
    for seed in $(tr ',' ' ' <<<"$seeds"); do
        run=$((run + 1))
        local dir="$store/run-$run" code results
        set +e
        env "${env_args[@]}" "$sim" test -w broadcast --bin "$bin" "$preset" \
            --node-count "$nodes" --time-limit "$time_limit" --rate "$rate" --latency "$latency" \
            --seed "$seed" --store "$dir" "${nemesis[@]}" "${extra[@]}" >"$dir.log" 2>&1
        code=$?
        set -e
        results=$(find "$dir" -name results.json 2>/dev/null | head -n 1)
        if [[ -z "$results" ]]; then
            printf '%s %s | - | - | - | no results (exit %s, see %s.log) |\n' "$cells" "$seed" "$code" "$dir"
            continue
        fi
        jq -r --arg cells "$cells" --arg s "$seed" '
            "\($cells) \($s) | " +
            "\(.net.servers.msgs_per_op * 1000 | round / 1000) | " +
            "\(.workload.stable_latencies["0.5"] // "-") | \(.workload.stable_latencies["1"] // "-") | " +
            "\(.valid) |"' "$results"
    done
}
run_combination 0
