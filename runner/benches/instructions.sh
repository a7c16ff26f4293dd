#!/usr/bin/env bash
# Instructions per request for wasi:http 0.2 and 0.3 (not a test): the 1 KiB
# file and the board's page (1,000 messages, seeded as worlds.sh does), each
# served by the runner and by `wasmtime serve` with the 0.2 component and the
# 0.3 one, counted by valgrind's callgrind over the whole server process (all
# its threads, user space only: the kernel's TCP and file work is not
# counted). Each server and target is started twice under callgrind and sent
# N1, then N2, requests one after the other on one kept-alive connection
# (curl); instructions per request = (count with N2 - count with N1) /
# (N2 - N1), so start-up, loading and shutdown cancel out. Prints a markdown
# table. Two runs agreed to within 1% on every row (the runner's 0.2 file:
# 436.9k and 439.7k), where req/s on this machine moves by ±10%.
#
#   runner/benches/instructions.sh [path/to/sitebox]
#
# Default binary: target/tests/sitebox (the `tests` profile: release without
# LTO). The components are the ones the runner's build makes
# (target/component*/); P2=… and P3=… override them. N1 (default 10) and N2
# (default 138): N2 - N1 = 128 and the same remainder mod 128, so `wasmtime
# serve`'s 0.3 instance (reused for 128 requests, the readiness check's
# request included) is made once more in the longer run: its creation is
# spread over 128 requests as it is in use. SERVERS="serve-p2 serve-p3" picks
# servers, TARGETS="file" or "board" the targets. Needs valgrind, curl and
# wasmtime 48.0.8 on PATH. A server that cannot start is a row of "–".
# Takes 6-10 minutes (a guest runs ~50x slower under valgrind; the first start
# of each server compiles the component into a cache of this run's own).
#
# What valgrind needed: --smc-check=all-non-file (wasmtime writes machine
# code and runs it); small pools, since valgrind cannot reserve the terabytes
# of address space the defaults ask for: the runner with --max-concurrent 4
# (as `cargo bench --bench compare -- instructions`), `wasmtime serve` with
# the pooling allocator (what it picks natively here; under valgrind its probe
# fails and it would fall back to on-demand allocation) sized to 8 memories.
# valgrind warns once about syscall 437 (openat2), which cap-std then does
# without. RUST_BACKTRACE is unset: with it, serve's 0.2 file request took
# 3.7x the instructions (a backtrace for errors wasmtime makes per request).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
sitebox=${1:-$root/target/tests/sitebox}
n1=${N1:-10}
n2=${N2:-138}
((n2 > n1)) || { echo "N2 must be more than N1" >&2; exit 1; }
for tool in valgrind wasmtime curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/static" "$work/seed" "$work/cache"
head -c 1024 /dev/zero | tr '\0' 'x' >"$work/static/1k.txt"

read -ra servers <<<"${SERVERS:-runner-p2 runner-p3 runner-p2-reuse runner-p3-shared serve-p2 serve-p3}"
read -ra targets <<<"${TARGETS:-file board}"
# start, stop, seed_board
source "$root/runner/benches/worlds-servers.sh"

# One board of 1,000 messages (natively), copied for every run.
seed_board "$work/seed" 1000

# Compiled components go to a cache of this run's own, filled by a first
# start under valgrind (valgrind's CPU has other features than the host's,
# so a native start would compile for another target), so that both counted
# runs load the same compiled code.
printf '[cache]\ndirectory = "%s"\n' "$work/cache/serve" >"$work/cache.toml"
runner_extra=(--max-concurrent 4 --cache-dir "$work/cache/runner")
serve_extra=(-C "cache-config=$work/cache.toml"
    -O pooling-allocator=y,pooling-total-memories=8,pooling-total-tables=64,pooling-total-core-instances=64,pooling-total-component-instances=8,pooling-total-stacks=8)
start_tries=6000 # ten minutes: compiling under valgrind takes one or two

callgrind() { # file: the wrap for a counted run
    wrap=(valgrind -q --tool=callgrind --smc-check=all-non-file "--callgrind-out-file=$1")
}

count() { # server target requests: sets $counted and $bad, or returns 1
    local url out=$work/callgrind.out
    rm -rf "$work/data" "$out"
    cp -a "$work/seed" "$work/data"
    callgrind "$out"
    start "$1" "$work/data" || { stop; return 1; }
    url=http://127.0.0.1:$port/1k.txt
    [[ $2 == board ]] && url=http://127.0.0.1:$port/board
    local args=()
    for _ in $(seq "$3"); do args+=(-o /dev/null "$url"); done
    bad=$(curl -s -w '%{http_code}\n' "${args[@]}" | grep -vc '^200$' || true)
    # SIGINT: `wasmtime serve` shuts down on it (the runner on either), and
    # callgrind writes its counts when the process exits.
    stop INT
    counted=$(awk '/^totals:/ { print $2 }' "$out" 2>/dev/null)
    [[ -n $counted ]]
}

per_request() { # instructions -> "381.8k" or "2.35M"
    awk -v n="$1" 'BEGIN { if (n >= 1e6) printf "%.2fM", n / 1e6; else printf "%.1fk", n / 1e3 }'
}

declare -A row
for server in "${servers[@]}"; do
    echo "== $server: compiling under valgrind" >&2
    callgrind "$work/callgrind.warm"
    rm -rf "$work/data"; cp -a "$work/seed" "$work/data"
    if ! start "$server" "$work/data"; then
        stop
        for target in "${targets[@]}"; do row[$server,$target]="| $server | $target | – | – |"; done
        continue
    fi
    stop INT
    for target in "${targets[@]}"; do
        echo "== $server, $target: $n1 and $n2 requests" >&2
        if ! count "$server" "$target" "$n1"; then
            row[$server,$target]="| $server | $target | – | – |"
            continue
        fi
        i1=$counted bad1=$bad
        if ! count "$server" "$target" "$n2"; then
            row[$server,$target]="| $server | $target | – | – |"
            continue
        fi
        i2=$counted
        note=
        ((bad1 + bad == 0)) || note=" ($((bad1 + bad)) not 200)"
        row[$server,$target]="| $server | $target | $(per_request $(((i2 - i1) / (n2 - n1))))$note | $n2 − $n1 |"
        echo "${row[$server,$target]} ($i1, $i2)" >&2
    done
done

echo "| server | target | instructions/request | requests |"
echo "|---|---|---:|---:|"
for target in "${targets[@]}"; do
    for server in "${servers[@]}"; do
        echo "${row[$server,$target]}"
    done
done
