#!/usr/bin/env bash
# Where guests run, measured (not a test): the board page (1,000 messages)
# and a 1 KiB file, one connection and 32, for each `sitebox` binary given,
# taking turns so that a slow spell of the machine falls on all of them.
# Prints a markdown table. Needs h2load (`apt-get install nghttp2-client`).
#
#   runner/benches/guest_threads.sh BEFORE/sitebox AFTER/sitebox [--component C]
#
# Extra arguments after `--` go to every runner (the same `--component` for
# all, to compare runners alone).
set -euo pipefail
binaries=()
while [[ $# -gt 0 && $1 != -- ]]; do binaries+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
extra=("$@")
rounds=${ROUNDS:-3}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
pid=
mkdir -p "$work/static"
head -c 1024 /dev/zero | tr '\0' 'x' > "$work/static/1k.txt"

start() { # binary data-dir: sets $port and $pid
    local log=$work/log.$RANDOM
    "$1" --static "$work/static" --data "$2" --port 0 --write-rate 1000000/1s \
        "${extra[@]}" >/dev/null 2>"$log" &
    pid=$!
    for _ in $(seq 100); do
        port=$(grep -o 'on http://[^ ]*:[0-9]*/' "$log" | grep -o '[0-9]*/$' | tr -d / | head -1 || true)
        [[ -n $port ]] && return
        sleep 0.1
    done
    cat "$log" >&2; exit 1
}

rate() { # url connections requests -> "req/s mean"
    h2load --h1 -c "$2" -n "$3" "$1" 2>/dev/null | awk '
        /^finished in/ { gsub(",", "", $4); rps = $4 }
        /^time for request:/ { mean = $6 }
        /requests:.*succeeded/ { ok = $8 }
        END { printf "%s req/s (mean %s)", rps, mean }'
}

declare -A result
for round in $(seq "$rounds"); do
    for i in "${!binaries[@]}"; do
        data=$work/data.$i
        fresh=0; [[ -d $data ]] || fresh=1
        mkdir -p "$data"
        start "${binaries[$i]}" "$data"
        if [[ $fresh == 1 ]]; then
            for n in $(seq 1000); do
                curl -sf -o /dev/null -H 'content-type: application/json' \
                    --data "{\"text\":\"message $n\"}" "http://127.0.0.1:$port/api/messages"
            done
        fi
        base=http://127.0.0.1:$port
        h2load --h1 -c 4 -n 2000 "$base/1k.txt" >/dev/null 2>&1 # warm-up
        result[$i,$round,board1]=$(rate "$base/board" 1 300)
        result[$i,$round,board8]=$(rate "$base/board" 8 1000)
        result[$i,$round,file1]=$(rate "$base/1k.txt" 1 5000)
        result[$i,$round,file32]=$(rate "$base/1k.txt" 32 50000)
        kill "$pid"; wait "$pid" 2>/dev/null || true
    done
done

echo "| runner | round | board, 1 conn | board, 8 conns | 1 KiB, 1 conn | 1 KiB, 32 conns |"
echo "|---|---:|---:|---:|---:|---:|"
for i in "${!binaries[@]}"; do
    for round in $(seq "$rounds"); do
        echo "| ${binaries[$i]} | $round | ${result[$i,$round,board1]} | ${result[$i,$round,board8]} | ${result[$i,$round,file1]} | ${result[$i,$round,file32]} |"
    done
done
