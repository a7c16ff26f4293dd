//! Side-by-side benchmark (not a test):
//!
//! ```sh
//! cargo bench -p sitebox-runner --bench compare
//! ```
//!
//! Serves the same files with the sitebox runner, `wasmtime serve` (same
//! `.wasm`), nginx (1 worker, no access log) and `python3 -m http.server`,
//! all running at once; loads them with `wrk` (keep-alive, a warm-up, then
//! three rounds that take the servers in turn, each server's median run
//! kept), and prints one markdown table, also written to
//! `target/bench/compare.md`. Taking the servers in turn makes a slow spell of
//! a shared (virtual) machine fall on all of them alike, so the ratios hold
//! still when the absolute figures move; the table shows the CPU time the
//! hypervisor took away (steal) during each row's runs. Missing tools are
//! installed: `wasmtime-cli` with `cargo install`, `wrk` and `nginx-light`
//! with `apt-get` (as root).
//!
//! With `-- instructions` it counts instructions per request instead, with
//! valgrind (see `instructions.rs`): figures that repeat on a noisy machine.
//!
//! `SITEBOX_BENCH_SECONDS` sets the length of each run (default 5),
//! `SITEBOX_BENCH_ONLY=runner,nginx` limits the servers, and
//! `SITEBOX_BENCH_RUNNER_ARGS` adds flags to the runner.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod instructions;
mod load;
mod report;
mod servers;

use load::*;
use report::*;
use servers::*;

const WASMTIME_VERSION: &str = "48.0.8";
const BOARD_MESSAGES: usize = 1000;

/// One kind of load.
struct Workload {
    name: &'static str,
    path: &'static str,
    connections: u32,
    /// Only servers that have the board (or validators) can run it.
    needs: Needs,
    kind: Kind,
}

#[derive(PartialEq)]
enum Needs {
    Files,
    Board,
}

enum Kind {
    Get,
    /// `GET` with `Accept-Encoding` naming this coding.
    Compressed(&'static str),
    /// `If-None-Match` with the server's own ETag for the path.
    Revalidate,
    /// `POST /api/messages`.
    Post,
}

const WORKLOADS: &[Workload] = &[
    Workload {
        name: "1 KiB file",
        path: "/1k.txt",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Get,
    },
    Workload {
        name: "1 KiB, 304 revalidation",
        path: "/1k.txt",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Revalidate,
    },
    Workload {
        name: "100 KiB file",
        path: "/100k.bin",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Get,
    },
    Workload {
        name: "100 KiB HTML",
        path: "/100k.html",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Get,
    },
    Workload {
        name: "100 KiB HTML, gzip",
        path: "/100k.html",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Compressed("gzip"),
    },
    Workload {
        name: "100 KiB HTML, br",
        path: "/100k.html",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Compressed("br"),
    },
    Workload {
        name: "100 KiB HTML, zstd",
        path: "/100k.html",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Compressed("zstd"),
    },
    Workload {
        name: "10 MiB file",
        path: "/10m.bin",
        connections: 8,
        needs: Needs::Files,
        kind: Kind::Get,
    },
    Workload {
        name: "404",
        path: "/missing.html",
        connections: 32,
        needs: Needs::Files,
        kind: Kind::Get,
    },
    Workload {
        name: "board page, 1,000 messages",
        path: "/board",
        connections: 32,
        needs: Needs::Board,
        kind: Kind::Get,
    },
    Workload {
        name: "board POST",
        path: "/api/messages",
        connections: 32,
        needs: Needs::Board,
        kind: Kind::Post,
    },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ServerKind {
    Runner,
    /// The runner with `--reuse-instances 100` (opt-in, less isolation).
    RunnerReuse,
    WasmtimeServe,
    Nginx,
    Python,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Runner => "sitebox runner",
            ServerKind::RunnerReuse => "sitebox runner, --reuse-instances 100",
            ServerKind::WasmtimeServe => "wasmtime serve",
            ServerKind::Nginx => "nginx",
            ServerKind::Python => "python http.server",
        }
    }

    fn key(self) -> &'static str {
        match self {
            ServerKind::Runner => "runner",
            ServerKind::RunnerReuse => "reuse",
            ServerKind::WasmtimeServe => "wasmtime",
            ServerKind::Nginx => "nginx",
            ServerKind::Python => "python",
        }
    }

    fn has_board(self) -> bool {
        matches!(
            self,
            ServerKind::Runner | ServerKind::RunnerReuse | ServerKind::WasmtimeServe
        )
    }
}

struct Running {
    child: Child,
    addr: String,
    startup: Duration,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Default)]
struct Measured {
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    megabytes_per_second: f64,
    errors: u64,
    /// Share of the CPU time the hypervisor gave to other guests during the
    /// runs, in percent.
    steal_percent: f64,
}
fn main() {
    let seconds: u64 = std::env::var("SITEBOX_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    let data = work.path().join("data");
    write_site(&site);
    std::fs::create_dir_all(&data).unwrap();
    if std::env::args().any(|arg| arg == "instructions") {
        instructions::count(&site, &data, work.path());
        return;
    }
    let only = std::env::var("SITEBOX_BENCH_ONLY").ok();
    let wanted = |kind: ServerKind| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|k| k == kind.key()))
    };
    ensure_tools(&wanted);
    let component = Path::new(sitebox_runner::EMBEDDED_COMPONENT_PATH);

    let kinds = [
        ServerKind::Runner,
        ServerKind::RunnerReuse,
        ServerKind::WasmtimeServe,
        ServerKind::Nginx,
        ServerKind::Python,
    ];
    let mut servers: Vec<(ServerKind, Running)> = Vec::new();
    let mut startups = Vec::new();
    for kind in kinds.into_iter().filter(|&kind| wanted(kind)) {
        let server = start(kind, &site, &data, component, work.path(), &[]);
        eprintln!(
            "== {} on {} (first response after {:.1} ms)",
            kind.name(),
            server.addr,
            ms(server.startup)
        );
        startups.push((kind, server.startup));
        servers.push((kind, server));
    }
    if let Some((_, server)) = servers.iter().find(|(kind, _)| kind.has_board()) {
        seed_board(&server.addr);
    }

    let mut rows: Vec<Vec<Option<Measured>>> = vec![Vec::new(); servers.len()];
    for workload in WORKLOADS {
        let takes = |kind: ServerKind| workload.needs == Needs::Files || kind.has_board();
        let taking: Vec<&Running> = servers
            .iter()
            .filter(|(kind, _)| takes(*kind))
            .map(|(_, server)| server)
            .collect();
        let mut figures = measure(&taking, workload, seconds, work.path()).into_iter();
        eprintln!("== {}", workload.name);
        for ((kind, _), row) in servers.iter().zip(&mut rows) {
            if !takes(*kind) {
                row.push(None);
                continue;
            }
            let measured = figures.next().expect("a figure for every server");
            eprintln!(
                "   {:<38} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>8.1} MB/s  steal {:>4.1}%{}",
                kind.name(),
                measured.requests_per_second,
                measured.p50_ms,
                measured.p99_ms,
                measured.megabytes_per_second,
                measured.steal_percent,
                if measured.errors > 0 {
                    format!("  ({} errors)", measured.errors)
                } else {
                    String::new()
                }
            );
            row.push(Some(measured));
        }
    }
    let results: Vec<(ServerKind, Vec<Option<Measured>>, u64)> = servers
        .iter()
        .zip(rows)
        .map(|((kind, server), row)| (*kind, row, peak_rss_kib(server)))
        .collect();
    // Stopped before the start-up timings below.
    drop(servers);

    let runner_starts = wanted(ServerKind::Runner).then(|| {
        let cache = work.path().join("cache");
        let cache = cache.to_str().unwrap();
        let start_with = |args: &[&str]| {
            let server = start(
                ServerKind::Runner,
                &site,
                &data,
                component,
                work.path(),
                args,
            );
            server.startup
        };
        let compiling = start_with(&["--no-cache"]);
        start_with(&["--cache-dir", cache]);
        let cached = start_with(&["--cache-dir", cache]);
        eprintln!(
            "== runner start-up: {:.1} ms compiling, {:.1} ms from the cache",
            ms(compiling),
            ms(cached)
        );
        (compiling, cached)
    });
    let mut table = render(&results, &startups, component, seconds);
    if wanted(ServerKind::Runner) {
        table.push_str(&compressed_sizes(&site, &data, component, work.path()));
    }
    if let Some((compiling, cached)) = runner_starts {
        let _ = writeln!(
            table,
            "\nRunner start to first response: {:.0} ms compiling the component \
             (`--no-cache`), {:.0} ms loading it from the cache (second start).",
            ms(compiling),
            ms(cached)
        );
    }
    println!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("compare.md"), &table).unwrap();
    eprintln!("written to target/bench/compare.md");
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
