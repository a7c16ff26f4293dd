//! Loading a server with wrk and reading its figures.

use super::*;

/// Loads `servers` with `workload`: a warm-up each, then three rounds that
/// take the servers in turn; each server's median run (by throughput) is
/// kept, with the steal averaged over its three runs.
pub fn measure(
    servers: &[&Running],
    workload: &Workload,
    seconds: u64,
    work: &Path,
) -> Vec<Measured> {
    let plans: Vec<Option<(Vec<String>, String)>> = servers
        .iter()
        .map(|server| {
            let url = format!("http://{}{}", server.addr, workload.path);
            wrk_args(server, workload, work).map(|args| (args, url))
        })
        .collect();
    for (args, url) in plans.iter().flatten() {
        run_wrk(args, 1, url);
    }
    let mut runs: Vec<Vec<Measured>> = vec![Vec::new(); servers.len()];
    for _round in 0..3 {
        for (plan, runs) in plans.iter().zip(&mut runs) {
            if let Some((args, url)) = plan {
                runs.push(run_wrk(args, seconds, url));
            }
        }
    }
    runs.into_iter()
        .map(|mut runs| {
            if runs.is_empty() {
                return Measured::default();
            }
            let steal = runs.iter().map(|run| run.steal_percent).sum::<f64>() / runs.len() as f64;
            runs.sort_by(|a, b| a.requests_per_second.total_cmp(&b.requests_per_second));
            let mut median = runs.swap_remove(runs.len() / 2);
            median.steal_percent = steal;
            median
        })
        .collect()
}

/// wrk's arguments for `workload` on `server`; `None` when the server cannot
/// take it (nothing to revalidate without validators).
fn wrk_args(server: &Running, workload: &Workload, work: &Path) -> Option<Vec<String>> {
    let mut args: Vec<String> = vec![
        "-t1".into(),
        format!("-c{}", workload.connections),
        "--latency".into(),
    ];
    match workload.kind {
        Kind::Get => {}
        Kind::Compressed(coding) => {
            args.extend(["-H".into(), format!("Accept-Encoding: {coding}")]);
        }
        Kind::Revalidate => {
            let tag = etag(&server.addr, workload.path)?;
            args.extend(["-H".into(), format!("If-None-Match: {tag}")]);
        }
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
    Some(args)
}

pub fn run_wrk(args: &[String], seconds: u64, url: &str) -> Measured {
    let before = cpu_ticks();
    let output = Command::new("wrk")
        .args(args)
        .arg(format!("-d{seconds}s"))
        .arg(url)
        .output()
        .expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut measured = Measured::default();
    if let (Some((steal_before, all_before)), Some((steal_after, all_after))) =
        (before, cpu_ticks())
        && all_after > all_before
    {
        measured.steal_percent =
            100.0 * (steal_after - steal_before) as f64 / (all_after - all_before) as f64;
    }
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

/// CPU time so far in ticks, as `/proc/stat` counts it for all CPUs: the
/// part stolen by the hypervisor for other guests, and the whole.
fn cpu_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let steal = *ticks.get(7)?;
    Some((steal, ticks.iter().take(8).sum()))
}
