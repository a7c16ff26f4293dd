#!/usr/bin/env bash
# Throughput of sitebox on workerd before and after the split (the stateless
# worker serving the site, the Durable Object only the board), next to the
# runner's, in one run: req/s, p50 and p99 of a 1 KiB file and of GET /board
# (ten messages on it), with `wrk -t1 -c32` (keep-alive), each server loaded
# in turn. Not a test; prints a Markdown table.
#
#   deploy/workerd/bench.sh            # from the repository's root
#
# BEFORE=REV   the commit whose deploy/workerd is "before" (default 59bf761,
#              the last with every request through the object)
# SECONDS_PER_RUN=N (default 10), CONNECTIONS=N (default 32)
# SITEBOX_BIN  the runner (default target/release/sitebox, else target/tests/sitebox)
# COMPONENT    the component (default target/component/wasm32-wasip2/component/sitebox.wasm)
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
before=${BEFORE:-59bf761}
seconds=${SECONDS_PER_RUN:-10}
connections=${CONNECTIONS:-32}
component=${COMPONENT:-target/component/wasm32-wasip2/component/sitebox.wasm}
runner=${SITEBOX_BIN:-}
if [[ -z $runner ]]; then
  runner=target/release/sitebox
  [[ -x $runner ]] || runner=target/tests/sitebox
fi
workerd=deploy/workerd/node_modules/.bin/workerd
for tool in wrk node curl; do
  command -v "$tool" >/dev/null || { echo "bench.sh: needs $tool (apt-get install wrk)" >&2; exit 2; }
done
[[ -x $runner && -f $component && -x $workerd ]] || {
  echo "bench.sh: needs $runner, $component and $workerd (cd deploy/workerd && npm ci)" >&2
  exit 2
}

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# The site: the repository's static/ and a 1 KiB file.
mkdir -p "$tmp/site" "$tmp/data"
cp -r static/. "$tmp/site/"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$tmp/site/one-kib.txt"

# "before": deploy/workerd as it was at $before, with today's node_modules.
mkdir -p "$tmp/before"
git archive "$before" deploy/workerd | tar -x -C "$tmp/before"
ln -s "$root/deploy/workerd/node_modules" "$tmp/before/deploy/workerd/node_modules"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

declare -A addr
start_workerd() { # name build.mjs
  local name=$1 build=$2 port
  port=$(free_port)
  node "$build" --component "$component" --static "$tmp/site" --out "$tmp/$name-out" \
    --listen "127.0.0.1:$port" >/dev/null
  "$workerd" serve "$tmp/$name-out/config.capnp" --directory-path "storage=$tmp/$name-storage" \
    >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  mkdir -p "$tmp/$name-storage"
  addr[$name]="127.0.0.1:$port"
}
start_workerd "workerd, one object (before)" "$tmp/before/deploy/workerd/build.mjs"
start_workerd "workerd, split (after)" deploy/workerd/build.mjs
port=$(free_port)
"$runner" --static "$tmp/site" --data "$tmp/data" --port "$port" --quiet >"$tmp/runner.log" 2>&1 &
pids+=($!)
addr[runner]="127.0.0.1:$port"

servers=(runner "workerd, one object (before)" "workerd, split (after)")
for name in "${servers[@]}"; do
  for _ in $(seq 100); do
    curl -fs -o /dev/null "http://${addr[$name]}/one-kib.txt" && break
    sleep 0.2
  done
  for i in $(seq 10); do
    curl -fs -o /dev/null -d "message=message+$i" "http://${addr[$name]}/board"
  done
done

# wrk's "Requests/sec" and its 50% and 99% latencies, in ms.
measure() { # url
  wrk -t1 -c"$connections" -d"${seconds}s" --latency "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { printf "%d | %.2f | %.2f%s", rps, p50, p99, bad ? " | " bad " non-2xx" : "" }'
}

echo "sitebox on workerd vs the runner — $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg) at the start, wrk -t1 -c$connections, ${seconds} s per run, $(date -u +%F); runner: $runner; before: $before"
echo
echo "| workload | server | req/s | p50 ms | p99 ms |"
echo "| --- | --- | ---: | ---: | ---: |"
for workload in "1 KiB file:/one-kib.txt" "GET /board (10 messages):/board"; do
  for name in "${servers[@]}"; do
    wrk -t1 -c"$connections" -d2s "http://${addr[$name]}${workload#*:}" >/dev/null # warm-up
    echo "| ${workload%%:*} | $name | $(measure "http://${addr[$name]}${workload#*:}") |"
  done
done
