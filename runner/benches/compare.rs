//! Side-by-side benchmark (not a test):
//!
//! ```sh
//! cargo bench -p sitebox-runner --bench compare
//! ```
//!
//! Serves the same files with the sitebox runner, `wasmtime serve` (same
//! `.wasm`), nginx (1 worker, no access log) and `python3 -m http.server`,
//! loads each with `wrk` (keep-alive, a warm-up, three runs, the median
//! kept), and prints one markdown table, also written to
//! `target/bench/compare.md`. Missing tools are installed: `wasmtime-cli`
//! with `cargo install`, `wrk` and `nginx-light` with `apt-get` (as root).
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
}

fn main() {
    let seconds: u64 = std::env::var("SITEBOX_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("SITEBOX_BENCH_ONLY").ok();
    let wanted = |kind: ServerKind| {
        only.as_deref()
            .is_none_or(|only| only.split(',').any(|k| k == kind.key()))
    };
    ensure_tools(&wanted);

    let work = tempfile::tempdir().unwrap();
    let site = work.path().join("site");
    let data = work.path().join("data");
    write_site(&site);
    std::fs::create_dir_all(&data).unwrap();
    let component = Path::new(sitebox_runner::EMBEDDED_COMPONENT_PATH);

    let mut results: Vec<(ServerKind, Vec<Option<Measured>>, u64)> = Vec::new();
    let mut startups = Vec::new();
    let mut seeded = false;
    let kinds = [
        ServerKind::Runner,
        ServerKind::RunnerReuse,
        ServerKind::WasmtimeServe,
        ServerKind::Nginx,
        ServerKind::Python,
    ];
    for kind in kinds {
        if !wanted(kind) {
            continue;
        }
        let server = start(kind, &site, &data, component, work.path(), &[]);
        eprintln!(
            "== {} on {} (first response after {:.1} ms)",
            kind.name(),
            server.addr,
            ms(server.startup)
        );
        startups.push((kind, server.startup));
        if kind.has_board() && !seeded {
            seed_board(&server.addr);
            seeded = true;
        }
        let mut row = Vec::new();
        for workload in WORKLOADS {
            if workload.needs == Needs::Board && !kind.has_board() {
                row.push(None);
                continue;
            }
            let measured = measure(&server, workload, seconds, work.path());
            eprintln!(
                "   {:<28} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>8.1} MB/s{}",
                workload.name,
                measured.requests_per_second,
                measured.p50_ms,
                measured.p99_ms,
                measured.megabytes_per_second,
                if measured.errors > 0 {
                    format!("  ({} errors)", measured.errors)
                } else {
                    String::new()
                }
            );
            row.push(Some(measured));
        }
        let rss = peak_rss_kib(&server);
        results.push((kind, row, rss));
    }

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

/// The files every server serves: text, binary, large, and an index.
fn write_site(site: &Path) {
    std::fs::create_dir_all(site).unwrap();
    let repo_static = concat!(env!("CARGO_MANIFEST_DIR"), "/../static");
    for entry in std::fs::read_dir(repo_static).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), site.join(entry.file_name())).unwrap();
    }
    let pattern = |len: usize| -> Vec<u8> { (0..len).map(|i| b'a' + (i % 26) as u8).collect() };
    std::fs::write(site.join("1k.txt"), pattern(1024)).unwrap();
    std::fs::write(site.join("100k.bin"), pattern(100 * 1024)).unwrap();
    std::fs::write(site.join("10m.bin"), pattern(10 * 1024 * 1024)).unwrap();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(
    kind: ServerKind,
    site: &Path,
    data: &Path,
    component: &Path,
    work: &Path,
    runner_args: &[&str],
) -> Running {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut command = match kind {
        ServerKind::Runner | ServerKind::RunnerReuse => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_sitebox"));
            command
                .args(["--port", &port.to_string(), "--static"])
                .arg(site)
                .arg("--data")
                .arg(data);
            if kind == ServerKind::RunnerReuse {
                command.args(["--reuse-instances", "100"]);
            }
            command.args(runner_args);
            if let Ok(extra) = std::env::var("SITEBOX_BENCH_RUNNER_ARGS") {
                command.args(extra.split_whitespace());
            }
            // The access log is part of the runner; send it where it costs
            // what it would in production, not to a terminal.
            command.env("SITEBOX_LOG", "info");
            command
        }
        ServerKind::WasmtimeServe => {
            let mut command = Command::new("wasmtime");
            command
                .args(["serve", "-S", "cli", "--addr", &addr, "--dir"])
                .arg(format!("{}::/static", site.display()))
                .arg("--dir")
                .arg(format!("{}::/data", data.display()))
                .arg(component);
            command
        }
        ServerKind::Nginx => {
            let prefix = work.join("nginx");
            std::fs::create_dir_all(&prefix).unwrap();
            let conf = prefix.join("nginx.conf");
            std::fs::write(
                &conf,
                format!(
                    "worker_processes 1;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
                     events {{ worker_connections 4096; }}\n\
                     http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n  \
                     access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n  \
                     client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n  \
                     fastcgi_temp_path {p}/fastcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
                     server {{ listen {addr}; root {root}; error_page 404 /NotFound.html; }}\n}}\n",
                    p = prefix.display(),
                    root = site.display(),
                ),
            )
            .unwrap();
            let mut command = Command::new("nginx");
            command
                .arg("-p")
                .arg(&prefix)
                .arg("-c")
                .arg(&conf)
                .args(["-g", "daemon off;"]);
            command
        }
        ServerKind::Python => {
            let mut command = Command::new("python3");
            command
                .args([
                    "-m",
                    "http.server",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--directory",
                ])
                .arg(site);
            command
        }
    };
    // Rust servers capture a backtrace with every internal error when this
    // is set, which production does not do.
    command
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    let started = Instant::now();
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    let mut server = Running {
        child,
        addr,
        startup: Duration::ZERO,
    };
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("{} exited at start: {status}", kind.name());
        }
        if get_status(&server.addr, "/1k.txt") == Some(200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} did not answer",
            kind.name()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    server.startup = started.elapsed();
    server
}

/// One request; the status and the response head.
fn exchange(addr: &str, request: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    let reply = String::from_utf8_lossy(&reply);
    let head = reply.split("\r\n\r\n").next()?.to_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head))
}

fn get_status(addr: &str, path: &str) -> Option<u16> {
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .map(|(s, _)| s)
}

fn etag(addr: &str, path: &str) -> Option<String> {
    let (_, head) = exchange(
        addr,
        &format!("HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )?;
    head.lines().find_map(|line| {
        line.split_once(':')
            .filter(|(name, _)| name.eq_ignore_ascii_case("etag"))
            .map(|(_, v)| v.trim().to_owned())
    })
}

fn seed_board(addr: &str) {
    for i in 0..BOARD_MESSAGES {
        let body = format!("{{\"text\":\"benchmark message {i}\"}}");
        let request = format!(
            "POST /api/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        assert_eq!(exchange(addr, &request).map(|(s, _)| s), Some(201));
    }
}

fn measure(server: &Running, workload: &Workload, seconds: u64, work: &Path) -> Measured {
    let url = format!("http://{}{}", server.addr, workload.path);
    let mut args: Vec<String> = vec![
        "-t1".into(),
        format!("-c{}", workload.connections),
        "--latency".into(),
    ];
    match workload.kind {
        Kind::Get => {}
        Kind::Revalidate => match etag(&server.addr, workload.path) {
            Some(tag) => args.extend(["-H".into(), format!("If-None-Match: {tag}")]),
            // No validators (python's server): nothing to revalidate.
            None => return Measured::default(),
        },
        Kind::Post => {
            let script = work.join("post.lua");
            std::fs::write(
                &script,
                "wrk.method = \"POST\"\nwrk.body = '{\"text\":\"posted by wrk\"}'\n\
                 wrk.headers[\"Content-Type\"] = \"application/json\"\n",
            )
            .unwrap();
            args.extend(["-s".into(), script.display().to_string()]);
        }
    }
    // Warm-up, then three runs; the median by throughput is kept.
    run_wrk(&args, 1, &url);
    let mut runs: Vec<Measured> = (0..3).map(|_| run_wrk(&args, seconds, &url)).collect();
    runs.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
    runs.swap_remove(1)
}

fn run_wrk(args: &[String], seconds: u64, url: &str) -> Measured {
    let output = Command::new("wrk")
        .args(args)
        .arg(format!("-d{seconds}s"))
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut measured = Measured::default();
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("50%"), Some(value)) => measured.p50_ms = duration_ms(value),
            (Some("99%"), Some(value)) => measured.p99_ms = duration_ms(value),
            (Some("Requests/sec:"), Some(value)) => {
                measured.requests_per_second = value.parse().unwrap_or(0.0)
            }
            (Some("Transfer/sec:"), Some(value)) => {
                measured.megabytes_per_second = megabytes(value)
            }
            (Some("Non-2xx"), _) => {}
            (Some("Socket"), _) => {
                measured.errors += line
                    .split(',')
                    .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                    .sum::<u64>();
            }
            _ => {}
        }
    }
    measured
}

/// wrk prints `812.00us`, `1.20ms`, `2.00s`.
fn duration_ms(value: &str) -> f64 {
    scaled(value, |unit| match unit {
        "us" => 0.001,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => 1.0,
    })
}

/// wrk prints `12.34MB`, `980.00KB`, `1.02GB`.
fn megabytes(value: &str) -> f64 {
    scaled(value, |unit| match unit {
        "B" => 1.0 / 1_048_576.0,
        "KB" => 1.0 / 1024.0,
        "GB" => 1024.0,
        _ => 1.0,
    })
}

/// A wrk figure like `1.20ms`: its number times the factor of its unit.
fn scaled(value: &str, factor: impl Fn(&str) -> f64) -> f64 {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    number.parse::<f64>().unwrap_or(0.0) * factor(unit)
}

/// The peak resident set of the server and its children (nginx's worker).
fn peak_rss_kib(server: &Running) -> u64 {
    let mut pids = vec![server.child.id()];
    if let Ok(children) =
        std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", server.child.id()))
    {
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    pids.iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

fn render(
    results: &[(ServerKind, Vec<Option<Measured>>, u64)],
    startups: &[(ServerKind, Duration)],
    component: &Path,
    seconds: u64,
) -> String {
    let by_kind = |kind: ServerKind, index: usize| {
        results
            .iter()
            .find(|(k, ..)| *k == kind)
            .and_then(|(_, row, _)| row[index].clone())
    };
    let ratio = |value: f64, base: Option<Measured>| match base {
        Some(base) if base.requests_per_second > 0.0 && value > 0.0 => {
            format!("{:.2}×", value / base.requests_per_second)
        }
        _ => "–".to_owned(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sitebox benchmark — {} cores, wrk -t1 (keep-alive), {seconds} s per run, median of 3 after a warm-up; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        machine_line()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| workload | server | req/s | p50 ms | p99 ms | MB/s | vs wasmtime serve | vs nginx |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (index, workload) in WORKLOADS.iter().enumerate() {
        for (kind, row, _) in results {
            let Some(m) = &row[index] else { continue };
            if m.requests_per_second == 0.0 {
                let _ = writeln!(
                    out,
                    "| {} ({} conns) | {} | n/a | | | | | |",
                    workload.name,
                    workload.connections,
                    kind.name()
                );
                continue;
            }
            let _ = writeln!(
                out,
                "| {} ({} conns) | {} | {:.0} | {:.2} | {:.2} | {:.1} | {} | {} |{}",
                workload.name,
                workload.connections,
                kind.name(),
                m.requests_per_second,
                m.p50_ms,
                m.p99_ms,
                m.megabytes_per_second,
                ratio(
                    m.requests_per_second,
                    by_kind(ServerKind::WasmtimeServe, index)
                ),
                ratio(m.requests_per_second, by_kind(ServerKind::Nginx, index)),
                if m.errors > 0 {
                    format!(" {} socket errors", m.errors)
                } else {
                    String::new()
                },
            );
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "| server | peak RSS | start to first response |");
    let _ = writeln!(out, "| --- | ---: | ---: |");
    for (kind, _, rss) in results {
        let startup = startups
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0.0, |(_, d)| ms(*d));
        let _ = writeln!(
            out,
            "| {} | {:.1} MiB | {startup:.0} ms |",
            kind.name(),
            *rss as f64 / 1024.0
        );
    }
    let size = std::fs::metadata(component).map_or(0, |m| m.len());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Component: {} ({} KiB).",
        component.file_name().unwrap().to_string_lossy(),
        size / 1024
    );
    out
}

fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let date = Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!("{cpu}; {date}")
}

/// Installs what is missing: wasmtime-cli from crates.io, wrk and nginx from
/// Debian.
fn ensure_tools(wanted: &impl Fn(ServerKind) -> bool) {
    let has = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    let mut packages = Vec::new();
    if !has("wrk", "--version") {
        packages.push("wrk");
    }
    if wanted(ServerKind::Nginx) && !has("nginx", "-v") {
        packages.push("nginx-light");
    }
    if !packages.is_empty() {
        eprintln!("installing {packages:?} with apt-get");
        let sudo = if std::env::var("USER").as_deref() == Ok("root") || is_root() {
            vec![]
        } else {
            vec!["sudo"]
        };
        let run = |args: &[&str]| {
            let mut full: Vec<&str> = sudo.clone();
            full.extend_from_slice(args);
            let status = Command::new(full[0])
                .args(&full[1..])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status();
            assert!(status.is_ok_and(|s| s.success()), "could not run {full:?}");
        };
        run(&["apt-get", "update", "-qq"]);
        let mut install = vec!["apt-get", "install", "-y", "-qq"];
        install.extend(packages.iter().copied());
        run(&install);
        // Debian starts the packaged nginx on port 80; this benchmark runs its own.
        let _ = Command::new("nginx").args(["-s", "stop"]).status();
    }
    let wasmtime_ok = Command::new("wasmtime")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(WASMTIME_VERSION));
    if wanted(ServerKind::WasmtimeServe) && !wasmtime_ok {
        eprintln!("installing wasmtime-cli {WASMTIME_VERSION} (about 12 minutes on 2 cores)");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "install",
                "wasmtime-cli",
                "--locked",
                "--version",
                WASMTIME_VERSION,
            ])
            .status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "cargo install wasmtime-cli failed"
        );
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
