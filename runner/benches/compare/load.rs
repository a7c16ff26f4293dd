//! Loading a server with wrk and reading its figures.

use super::*;

pub fn measure(server: &Running, workload: &Workload, seconds: u64, work: &Path) -> Measured {
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

pub fn run_wrk(args: &[String], seconds: u64, url: &str) -> Measured {
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
pub fn duration_ms(value: &str) -> f64 {
    scaled(value, |unit| match unit {
        "us" => 0.001,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => 1.0,
    })
}

/// wrk prints `12.34MB`, `980.00KB`, `1.02GB`.
pub fn megabytes(value: &str) -> f64 {
    scaled(value, |unit| match unit {
        "B" => 1.0 / 1_048_576.0,
        "KB" => 1.0 / 1024.0,
        "GB" => 1024.0,
        _ => 1.0,
    })
}

/// A wrk figure like `1.20ms`: its number times the factor of its unit.
pub fn scaled(value: &str, factor: impl Fn(&str) -> f64) -> f64 {
    let split = value
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    number.parse::<f64>().unwrap_or(0.0) * factor(unit)
}
