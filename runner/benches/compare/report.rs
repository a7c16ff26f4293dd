//! The markdown table: figures, ratios, memory, start-up, the machine.

use super::*;

pub fn render(
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
        "sitebox benchmark — {} cores, wrk -t1 (keep-alive), {seconds} s per run; all servers up at once, taken in turn for 3 rounds after a warm-up, median kept; steal: CPU time the hypervisor gave other guests during the row's runs; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        machine_line()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| workload | server | req/s | p50 ms | p99 ms | MB/s | steal | vs wasmtime serve | vs nginx |"
    );
    let _ = writeln!(
        out,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (index, workload) in WORKLOADS.iter().enumerate() {
        for (kind, row, _) in results {
            let Some(m) = &row[index] else { continue };
            if m.requests_per_second == 0.0 {
                let _ = writeln!(
                    out,
                    "| {} ({} conns) | {} | n/a | | | | | | |",
                    workload.name,
                    workload.connections,
                    kind.name()
                );
                continue;
            }
            let _ = writeln!(
                out,
                "| {} ({} conns) | {} | {:.0} | {:.2} | {:.2} | {:.1} | {:.1}% | {} | {} |{}",
                workload.name,
                workload.connections,
                kind.name(),
                m.requests_per_second,
                m.p50_ms,
                m.p99_ms,
                m.megabytes_per_second,
                m.steal_percent,
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

pub fn machine_line() -> String {
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
