//! The servers under test: the site they share, starting them (and the
//! tools, installed if missing), and talking to them.

use super::*;

/// The files every server serves: text, binary, large, and an index.
pub fn write_site(site: &Path) {
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
    std::fs::write(site.join("100k.html"), html_page(100 * 1024)).unwrap();
}

/// An HTML page of about `len` bytes that compresses as a real one does:
/// repeated markup around text that varies.
fn html_page(len: usize) -> String {
    const WORDS: [&str; 12] = [
        "static",
        "site",
        "board",
        "message",
        "sandbox",
        "component",
        "instance",
        "request",
        "fresh",
        "edge",
        "fleet",
        "cache",
    ];
    let mut html =
        String::from("<!doctype html>\n<html lang=\"en\">\n<title>Archive</title>\n<main>\n");
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut n = 0;
    while html.len() < len {
        n += 1;
        html.push_str(&format!(
            "<article id=\"post-{n}\">\n  <h2><a href=\"/posts/{n}.html\">Post {n}</a></h2>\n  <p>"
        ));
        for _ in 0..24 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            html.push_str(WORDS[(seed % WORDS.len() as u64) as usize]);
            html.push(' ');
        }
        html.push_str("</p>\n</article>\n");
    }
    html.push_str("</main>\n</html>\n");
    html
}

/// A line for the table: the size of `/100k.html` as the runner sends it in
/// each coding, against the file's.
pub fn compressed_sizes(site: &Path, data: &Path, component: &Path, work: &Path) -> String {
    let original = std::fs::metadata(site.join("100k.html")).map_or(0, |m| m.len());
    let runner = start(ServerKind::Runner, site, data, component, work, &[]);
    let mut line = format!("\n100 KiB HTML ({original} bytes) as the runner sends it:");
    for coding in ["gzip", "br", "zstd"] {
        let request = format!(
            "GET /100k.html HTTP/1.0\r\nHost: {0}\r\nAccept-Encoding: {coding}\r\n\r\n",
            runner.addr
        );
        let Some(body) = exchange_body(&runner.addr, &request) else {
            continue;
        };
        let saved = 100.0 * (1.0 - body as f64 / original as f64);
        line.push_str(&format!(" {coding} {body} bytes ({saved:.0}% saved);"));
    }
    line.pop();
    line.push_str(".\n");
    line
}

/// One request over HTTP/1.0 (a body that ends with the connection); the
/// body's size.
fn exchange_body(addr: &str, request: &str) -> Option<usize> {
    let reply = exchange_bytes(addr, request)?;
    let head = reply.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(reply.len() - head - 4)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn start(
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
                     access_log off;\n  sendfile on;\n  \
                     gzip on;\n  gzip_comp_level 6;\n  gzip_min_length 1024;\n  \
                     gzip_types text/css text/plain application/javascript application/json image/svg+xml;\n  \
                     gzip_vary on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n  \
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
pub fn exchange(addr: &str, request: &str) -> Option<(u16, String)> {
    let reply = exchange_bytes(addr, request)?;
    let reply = String::from_utf8_lossy(&reply);
    let head = reply.split("\r\n\r\n").next()?.to_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head))
}

/// One request; everything the server sends until it closes.
fn exchange_bytes(addr: &str, request: &str) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).ok()?;
    Some(reply)
}

pub fn get_status(addr: &str, path: &str) -> Option<u16> {
    exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
    .map(|(s, _)| s)
}

pub fn etag(addr: &str, path: &str) -> Option<String> {
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

pub fn seed_board(addr: &str) {
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

/// The peak resident set of the server and its children (nginx's worker).
pub fn peak_rss_kib(server: &Running) -> u64 {
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

/// Installs what is missing: wasmtime-cli from crates.io, wrk and nginx from
/// Debian.
pub fn ensure_tools(wanted: &impl Fn(ServerKind) -> bool) {
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

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
