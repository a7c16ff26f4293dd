//! Instructions per request: the runner under valgrind's callgrind
//! (`cargo bench -p sitebox-runner --bench compare -- instructions`).
//!
//! req/s on a shared 2-core VM moves by ±10% from run to run; instruction
//! counts repeat, so they show what a change costs. User-space only (the
//! kernel's TCP and file work is not counted). After a warm-up the counters
//! are zeroed, `REQUESTS` requests go over one kept-alive connection, and the
//! dump is split by where the instructions ran. Under valgrind a guest runs
//! ~50× slower, so it meets more epoch ticks than it would natively: a few
//! percent of "wasmtime" is that.
//!
//! `SITEBOX_BENCH_RUNNER=path/to/sitebox` counts another build (an older
//! commit's, for a before/after); `SITEBOX_BENCH_RUNNER_ARGS` adds flags.

use super::*;

const REQUESTS: usize = 200;

struct Case {
    name: &'static str,
    request: fn(addr: &str, etag: &str) -> String,
    status: u16,
    /// Counted with the site's rules files in place (`site_rules`).
    rules: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "1 KiB file",
        request: |addr, _| format!("GET /1k.txt HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        status: 200,
        rules: false,
    },
    Case {
        name: "1 KiB file, 50 redirect rules + 20 header blocks",
        request: |addr, _| format!("GET /1k.txt HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        status: 200,
        rules: true,
    },
    Case {
        name: "1 KiB, 304 revalidation",
        request: |addr, etag| {
            format!("GET /1k.txt HTTP/1.1\r\nHost: {addr}\r\nIf-None-Match: {etag}\r\n\r\n")
        },
        status: 304,
        rules: false,
    },
    Case {
        name: "404",
        request: |addr, _| format!("GET /missing.html HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        status: 404,
        rules: false,
    },
    Case {
        name: "board page, 1,000 messages",
        request: |addr, _| format!("GET /board HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        status: 200,
        rules: false,
    },
    Case {
        name: "board POST",
        request: |addr, _| {
            let body = "{\"text\":\"counted\"}";
            format!(
                "POST /api/messages HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
        },
        status: 201,
        rules: false,
    },
];

/// Whether a callgrind line (`file:function [object]`) ran in a place.
type RanIn = fn(&str) -> bool;

/// Where instructions ran, by the function they ran in.
const PLACES: &[(&str, RanIn)] = &[
    ("guest (wasm)", |f| f.ends_with("[???]")),
    ("wasmtime", |f| {
        f.contains("wasmtime") || f.contains("cranelift")
    }),
    ("allocator", |f| {
        [
            ":mi_",
            ":_mi_",
            "malloc",
            ":free",
            "_int_free",
            "cfree",
            "__rust_alloc",
            "__rdl_",
        ]
        .iter()
        .any(|name| f.contains(name))
    }),
    ("hyper, tokio", |f| {
        ["hyper", "tokio", "http::", "http_body", "bytes::", "mio::"]
            .iter()
            .any(|crate_| f.contains(crate_))
    }),
    ("libc (memcpy, memset…)", |f| f.contains("libc.so")),
];

pub fn count(site: &Path, data: &Path, work: &Path) {
    for tool in ["valgrind", "callgrind_control", "callgrind_annotate"] {
        assert!(
            Command::new(tool).arg("--help").output().is_ok(),
            "{tool} is missing: apt-get install valgrind"
        );
    }
    let runner = std::env::var("SITEBOX_BENCH_RUNNER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_sitebox").to_owned());
    let runner_args = std::env::var("SITEBOX_BENCH_RUNNER_ARGS").unwrap_or_default();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let dumps = work.join("callgrind");
    std::fs::create_dir_all(&dumps).unwrap();
    // valgrind cannot reserve the address space of the default pool (256
    // instances): four will do for one connection.
    let child = Command::new("valgrind")
        .args(["--tool=callgrind", "--smc-check=all-non-file"])
        .arg(format!("--callgrind-out-file={}/out", dumps.display()))
        .arg(&runner)
        .args([
            "--port",
            &port.to_string(),
            "--max-concurrent",
            "4",
            "--static",
        ])
        .arg(site)
        .arg("--data")
        .arg(data)
        .args(runner_args.split_whitespace())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("valgrind starts");
    let server = Running {
        child,
        addr: addr.clone(),
        startup: Duration::ZERO,
    };
    let started = Instant::now();
    while get_status(&addr, "/1k.txt") != Some(200) {
        assert!(started.elapsed() < Duration::from_secs(300), "no answer");
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("== counting {runner} under callgrind; seeding the board");
    seed_board(&addr);
    let etag = etag(&addr, "/1k.txt").expect("an ETag");
    let pid = server.child.id().to_string();

    let mut table = format!(
        "Instructions per request (user space), {REQUESTS} requests on one connection, \
         `valgrind --tool=callgrind`; {runner} {runner_args}\n\n| workload | instructions | {} | other |\n\
         |---|---:|{}\n",
        PLACES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(PLACES.len() + 1),
    );
    for (index, case) in CASES.iter().enumerate() {
        let mut connection = TcpStream::connect(&addr).unwrap();
        connection
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let request = (case.request)(&addr, &etag);
        // The rules files: in place for this case only.
        let (redirects, headers) = site_rules();
        for (file, text) in [("_redirects", &redirects), ("_headers", &headers)] {
            let path = site.join(file);
            if case.rules {
                std::fs::write(&path, text).unwrap();
            } else if path.exists() {
                std::fs::remove_file(&path).unwrap();
            }
        }
        if case.rules {
            // The runner reads a rules file on every request until it has
            // been quiet for two seconds (`site_rules`); what is counted is
            // the steady state.
            std::thread::sleep(Duration::from_millis(2100));
        }
        for _ in 0..10 {
            assert_eq!(
                send(&mut connection, &request),
                case.status,
                "{}",
                case.name
            );
        }
        callgrind_control(&["-z", &pid]);
        for _ in 0..REQUESTS {
            send(&mut connection, &request);
        }
        callgrind_control(&["-d", &pid]);
        let dump = dumps.join(format!("out.{}", index + 1));
        let (total, places) = split(&dump);
        let per = |n: u64| n as f64 / REQUESTS as f64 / 1000.0;
        let mut row = format!("| {} | {:.1}k |", case.name, per(total));
        let named: u64 = places.iter().sum();
        for n in places.iter().chain([&(total - named)]) {
            let _ = write!(
                row,
                " {:.1}k ({:.0}%) |",
                per(*n),
                100.0 * *n as f64 / total as f64
            );
        }
        eprintln!("{row}");
        table.push_str(&row);
        table.push('\n');
    }
    drop(server);
    println!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("instructions.md"), &table).unwrap();
    eprintln!("written to target/bench/instructions.md");
}

/// A site's `_redirects` of 50 rules of the usual kinds (moved pages,
/// splats, placeholders, external docs, a single-page-app catch-all last)
/// and `_headers` of 20 blocks; `/1k.txt` meets the catch-all (shadowed by
/// the file) and two blocks.
fn site_rules() -> (String, String) {
    let mut redirects = String::from("# 50 rules\n");
    for i in 0..20 {
        let _ = writeln!(redirects, "/old/page-{i} /pages/{i}.html 301");
    }
    for i in 0..10 {
        let _ = writeln!(
            redirects,
            "/blog/{}/* /posts/{}/:splat 301",
            2010 + i,
            2010 + i
        );
    }
    for i in 0..10 {
        let _ = writeln!(redirects, "/users/:id/section-{i} /people/:id/{i} 302");
    }
    for i in 0..9 {
        let _ = writeln!(
            redirects,
            "/docs/v{i}/* https://docs.example.com/v{i}/:splat 308"
        );
    }
    redirects.push_str("/* /index.html 200\n");
    let mut headers = String::from(
        "/*\n  X-Frame-Options: DENY\n  Strict-Transport-Security: max-age=63072000\n",
    );
    for i in 0..18 {
        let _ = writeln!(
            headers,
            "/section-{i}/*\n  X-Section: {i}\n  Cache-Control: public, max-age={}",
            i * 60
        );
    }
    headers.push_str("/*.txt\n  X-Text: yes\n");
    (redirects, headers)
}

fn callgrind_control(args: &[&str]) {
    let status = Command::new("callgrind_control")
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "callgrind_control {args:?}");
}

/// One request on a kept-alive connection; its status, once the whole
/// response (by Content-Length or chunked) is read.
fn send(connection: &mut TcpStream, request: &str) -> u16 {
    connection.write_all(request.as_bytes()).unwrap();
    let mut reader = std::io::BufReader::new(connection);
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        reader.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    if let Some(length) = header("content-length") {
        let mut body = vec![0; length.parse().unwrap()];
        reader.read_exact(&mut body).unwrap();
    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut size = String::new();
            std::io::BufRead::read_line(&mut reader, &mut size).unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
        }
    }
    assert!(reader.buffer().is_empty(), "bytes after the response");
    status
}

/// The dump's total, and how much of it ran in each of `PLACES`.
fn split(dump: &Path) -> (u64, Vec<u64>) {
    let started = Instant::now();
    while !dump.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no dump");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let output = Command::new("callgrind_annotate")
        .args(["--inclusive=no", "--threshold=100", "--auto=no"])
        .arg(dump)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut total = 0;
    let mut places = vec![0; PLACES.len()];
    for line in text.lines() {
        let Some((count, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        if rest.contains("PROGRAM TOTALS") {
            total = count;
        } else if let Some(place) = PLACES.iter().position(|(_, is)| is(rest)) {
            places[place] += count;
        }
    }
    assert!(total > 0, "no totals in {}", dump.display());
    (total, places)
}
