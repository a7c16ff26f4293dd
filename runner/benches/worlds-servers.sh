# Sourced by worlds.sh and instructions.sh (not run on its own): starting
# and stopping the servers they compare (runner-p2, runner-p3,
# runner-p2-reuse, runner-p3-shared, serve-p2, serve-p3), and seeding a board.
#
# The caller sets $root (the repository), $sitebox (the runner) and
# $work (a temporary directory holding static/1k.txt), and may set:
#   wrap=(…)          a command the server runs under (valgrind)
#   runner_extra=(…)  more flags for the runner
#   serve_extra=(…)   more flags for `wasmtime serve`
#   start_tries=N     readiness checks, 0.1 s apart, before giving up

# The components the runner's build makes, unless P2=… or P3=… name others.
p2=${P2:-$root/target/component/wasm32-wasip2/component/sitebox.wasm}
p3=${P3:-$root/target/component-p3/wasm32-wasip2/component/sitebox.wasm}
# With RUST_BACKTRACE set, wasmtime captures a backtrace for every error it
# creates, some of them per request: twice the CPU per request (measured).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
wrap=()
runner_extra=()
serve_extra=()
start_tries=200
pid=

start() { # server data-dir: sets $port and $pid, or returns 1
    local log=$work/log.$1 p
    case $1 in
    runner-*)
        # runner-p2, runner-p3; -reuse: an instance serves 128 requests, one
        # at a time; runner-p3-shared: 16 at once, 128 in all (as serve).
        local component=()
        [[ $1 == runner-p3* ]] && component=(--component "$p3")
        [[ $1 == *-reuse ]] && component+=(--reuse-instances 128)
        [[ $1 == runner-p3-shared ]] && component+=(--reuse-instances 128 --instance-concurrency 16)
        "${wrap[@]}" "$sitebox" --static "$work/static" --data "$2" --port 0 \
            --write-rate 1000000/1s "${component[@]}" "${runner_extra[@]}" >"$log" 2>&1 &
        ;;
    serve-*)
        local wasm=$p2
        [[ $1 == serve-p3 ]] && wasm=$p3
        p=$((20000 + RANDOM % 20000))
        "${wrap[@]}" wasmtime serve -S cli -S keyvalue "${serve_extra[@]}" --addr "127.0.0.1:$p" \
            --dir "$work/static::/static" --dir "$2::/data" "$wasm" >/dev/null 2>"$log" &
        ;;
    esac
    pid=$!
    for _ in $(seq "$start_tries"); do
        kill -0 "$pid" 2>/dev/null || { pid=; return 1; }
        port=$(grep -o 'http://[0-9.]*:[0-9]*/' "$log" | grep -o ':[0-9][0-9]*/$' | tr -d :/ | head -1 || true)
        if [[ -n $port ]] && curl -sf -o /dev/null "http://127.0.0.1:$port/1k.txt"; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

stop() { # [signal]: stops the server started last and waits for it
    [[ -n $pid ]] && { kill -"${1:-TERM}" "$pid"; wait "$pid" 2>/dev/null || true; }
    pid=
}

seed_board() { # data-dir messages: a board of that many messages, by the runner
    start runner-p2 "$1" || { echo "the runner does not start" >&2; exit 1; }
    for n in $(seq "$2"); do
        curl -sf -o /dev/null -H 'content-type: application/json' \
            --data "{\"text\":\"benchmark message $n\"}" "http://127.0.0.1:$port/api/messages"
    done
    stop
}
