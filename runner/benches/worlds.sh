#!/usr/bin/env bash
# wasi:http 0.2 and 0.3 side by side (not a test): a 1 KiB file (32
# connections) and the board's page (1,000 messages, 8 connections), each
# served by the runner and by `wasmtime serve` with the 0.2 component and
# the 0.3 one, taking turns for ROUNDS rounds (default 3) so a slow spell
# of the machine falls on all of them; prints a markdown table of the
# median round's req/s and p99 latency (wrk --latency), with the CPU time
# the hypervisor took (steal) during each row's runs; then each server's
# peak resident memory (VmHWM) over both workloads.
#
#   runner/benches/worlds.sh [path/to/sitebox]
#
# Default binary: target/release/sitebox. The components are the ones the
# runner's build makes (target/component*/); P2=… and P3=… override them.
# SECONDS_PER_RUN (default 5); SERVERS="serve-p2 serve-p3" picks servers. Needs wrk and wasmtime 48.0.8 on PATH. A
# server that cannot start (a runner without 0.3 support) is a row of "–".
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sitebox=${1:-$root/target/release/sitebox}
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-5}
for tool in wrk wasmtime curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/static" "$work/seed"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/static/1k.txt"

read -ra servers <<<"${SERVERS:-runner-p2 runner-p3 runner-p2-reuse runner-p3-shared serve-p2 serve-p3}"
# start, stop, seed_board
source "$root/runner/benches/worlds-servers.sh"

steal() { awk '/^cpu / { print $9 }' /proc/stat; }
busy() { awk '/^cpu / { print $2+$3+$4+$5+$6+$7+$8+$9 }' /proc/stat; }

measure() { # url connections -> "req/s p99 steal%"
    local s0 t0 out
    s0=$(steal); t0=$(busy)
    out=$(wrk -t1 -c"$2" -d"${secs}s" --latency "$1")
    echo "$out" | awk -v s="$(($(steal) - s0))" -v t="$(($(busy) - t0))" '
        /Requests\/sec:/ { rps = $2 }
        $1 == "99%" { p99 = $2 }
        /Non-2xx/ { bad = $NF }
        END { printf "%.0f %s %.1f%s\n", rps, p99, t ? 100 * s / t : 0, bad ? " (" bad " non-2xx)" : "" }'
}

# One board of 1,000 messages, copied for every server.
seed_board "$work/seed" 1000

declare -A result rss
for round in $(seq "$rounds"); do
    for server in "${servers[@]}"; do
        rm -rf "$work/data"; cp -a "$work/seed" "$work/data"
        if ! start "$server" "$work/data"; then
            result[$server,$round,file]="– – –"; result[$server,$round,board]="– – –"
            continue
        fi
        base=http://127.0.0.1:$port
        wrk -t1 -c8 -d1s "$base/1k.txt" >/dev/null # warm-up
        result[$server,$round,file]=$(measure "$base/1k.txt" 32)
        result[$server,$round,board]=$(measure "$base/board" 8)
        # The server's peak resident memory over both workloads, in KiB.
        rss[$server,$round]=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
        stop
    done
done

median() { # server workload -> the middle round by req/s
    for round in $(seq "$rounds"); do echo "${result[$1,$round,$2]}"; done |
        sort -n -k1,1 | sed -n "$(((rounds + 1) / 2))p"
}

echo "| workload | server | req/s | p99 | steal |"
echo "|---|---|---:|---:|---:|"
for workload in file board; do
    name="1 KiB file, 32 conns"; [[ $workload == board ]] && name="GET /board, 8 conns"
    for server in "${servers[@]}"; do
        read -r rps p99 st rest <<<"$(median "$server" "$workload")"
        echo "| $name | $server | $rps | $p99 | $st% ${rest:-} |"
    done
done

echo
echo "| server | peak RSS, both workloads (MiB, median round) |"
echo "|---|---:|"
for server in "${servers[@]}"; do
    peak=$(for round in $(seq "$rounds"); do echo "${rss[$server,$round]:-0}"; done |
        sort -n | sed -n "$(((rounds + 1) / 2))p")
    echo "| $server | $((peak / 1024)) |"
done
