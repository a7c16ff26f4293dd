//! Slow clients cannot starve the site: clients that hold requests open —
//! trickling their headers (slowloris) or bodies, reading responses slowly,
//! or opening many slow HTTP/2 streams — while a normal client gets its
//! answers at once, throughout each attack. The attacks are slowhttptest's
//! (Debian's `slowhttptest`, which `.ci/run` installs) and hand-made ones: an
//! h2c stream flood (the `h2` crate) and slow readers from many addresses.
//!
//! On loopback every client is 127.0.0.1 unless it binds another address:
//! the normal client binds 127.0.0.2 (on Linux any 127/8 address is this
//! host), so to the runner it is another client, as a visitor would be. Each
//! runner has the default limits, and the metrics on; each test prints what
//! the normal client saw (statuses, latencies) and the most instances busy
//! and requests queued, the figures of docs/runner.md. The attacks run one at a
//! time: they share the machine.

use sitebox_tests as support;

use sitebox_runner::{ComponentSource, Config};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::metrics::sample;
use support::slow_peers::{Slowness, h2c_flood, slow_poster, slow_reader};
use support::{TestSite, client};

/// The normal client's address.
const NORMAL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// What the normal client asks for, and how soon the answer must come.
const NORMAL_TARGET: &str = "/index.css";
const AT_ONCE: Duration = Duration::from_secs(1);
/// The large file the slow readers ask for.
const BIG_FILE: &str = "/big.bin";
const BIG_SIZE: usize = 4 << 20;
/// What the honest slow reader asks for.
const MEDIUM_FILE: &str = "/medium.bin";
const MEDIUM_SIZE: usize = 160 << 10;

/// One attack at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A runner of its own at the default limits, with its metrics.
struct Runner {
    _site: TestSite,
    addr: SocketAddr,
    metrics: SocketAddr,
}

fn start_runner() -> Runner {
    start_runner_with(|_| {})
}

/// `start_runner`, with what `configure` changes.
fn start_runner_with(configure: impl FnOnce(&mut Config)) -> Runner {
    rlimit::increase_nofile_limit(16_384).unwrap();
    let site = TestSite::new();
    site.write(&BIG_FILE[1..], vec![b'x'; BIG_SIZE]);
    site.write(&MEDIUM_FILE[1..], vec![b'x'; MEDIUM_SIZE]);
    let mut config = Config {
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        ..site.config()
    };
    configure(&mut config);
    let started = support::start_runner_with(config);
    Runner {
        _site: site,
        addr: started.addr,
        metrics: started.metrics.unwrap(),
    }
}

/// What the normal client saw during an attack, and the most instances busy
/// and requests queued.
#[derive(Default)]
struct Seen {
    /// Statuses (0: no answer in 40 s) and how often.
    statuses: BTreeMap<u16, u32>,
    latencies: Vec<Duration>,
    busy: f64,
    queued: f64,
}

impl Seen {
    fn report(&self, attack: &str) -> String {
        let mut latencies = self.latencies.clone();
        latencies.sort();
        let median = latencies
            .get(latencies.len() / 2)
            .copied()
            .unwrap_or_default();
        let max = latencies.last().copied().unwrap_or_default();
        format!(
            "{attack}: the normal GET {NORMAL_TARGET} answered {:?} (status: count; 0 = none in 40 s), \
             latency median {median:.3?}, max {max:.3?}; instances busy at most {}, requests queued at most {}",
            self.statuses, self.busy, self.queued
        )
    }

    /// Every answer a 200, each within `AT_ONCE`.
    fn assert_served(&self, attack: &str) {
        let report = self.report(attack);
        // Straight to the terminal: the harness captures eprintln!.
        let _ = writeln!(std::io::stderr(), "{report}");
        let ok = self.statuses.get(&200).copied().unwrap_or(0);
        assert!(ok > 0 && self.statuses.len() == 1, "{report}");
        assert!(self.latencies.iter().all(|l| *l < AT_ONCE), "{report}");
    }
}

/// Asks for `NORMAL_TARGET` from `NORMAL` every half second for `during`,
/// one request after the other, sampling the metrics meanwhile.
async fn watch_normal_client(runner: &Runner, during: Duration) -> Seen {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sampler = tokio::spawn({
        let (seen, metrics) = (seen.clone(), runner.metrics);
        async move {
            loop {
                let busy = sample(metrics, "sitebox_instances_busy").await;
                let queued = sample(metrics, "sitebox_requests_queued").await;
                {
                    let mut seen = seen.lock().unwrap();
                    seen.busy = seen.busy.max(busy);
                    seen.queued = seen.queued.max(queued);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    let end = Instant::now() + during;
    while Instant::now() < end {
        let started = Instant::now();
        let asked = client::get_from(NORMAL, runner.addr, NORMAL_TARGET);
        let status = match tokio::time::timeout(Duration::from_secs(40), asked).await {
            Ok(reply) => reply.status.as_u16(),
            Err(_) => 0,
        };
        let took = started.elapsed();
        {
            let mut seen = seen.lock().unwrap();
            *seen.statuses.entry(status).or_default() += 1;
            seen.latencies.push(took);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    sampler.abort();
    let _ = sampler.await;
    Arc::into_inner(seen).unwrap().into_inner().unwrap()
}

fn slowhttptest_installed() -> bool {
    if Command::new("slowhttptest").arg("-h").output().is_ok() {
        return true;
    }
    support::skipped(
        "the slowhttptest attacks (it is not installed)",
        "sudo apt-get install slowhttptest",
    );
    false
}

/// slowhttptest with `args` against `url`, from 127.0.0.1, stopped when
/// dropped.
fn slowhttptest(args: &[&str], url: String, dir: &tempfile::TempDir) -> tokio::process::Child {
    tokio::process::Command::new("slowhttptest")
        .args(args)
        .arg("-u")
        .arg(url)
        .arg("-o")
        .arg(dir.path().join("report"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Runs `args` against `target` for a minute; after 3 s of it, watches the
/// normal client for 20 s.
async fn under_slowhttptest(attack: &str, args: &[&str], target: &str) {
    if !slowhttptest_installed() {
        return;
    }
    let _alone = ONE_AT_A_TIME.lock().await;
    let runner = start_runner();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://{}{target}", runner.addr);
    let mut attacker = slowhttptest(args, url, &dir);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Its connections open within 2 s; it ends when the runner has closed
    // them all (so slowloris's, after --header-timeout), not before.
    let ran = attacker.try_wait().unwrap();
    assert!(ran.is_none(), "slowhttptest ended at once: {ran:?}");
    let seen = watch_normal_client(&runner, Duration::from_secs(20)).await;
    let ended = match attacker.try_wait().unwrap() {
        Some(_) => "it ended before the watch did",
        None => "it ran throughout",
    };
    seen.assert_served(&format!("{attack} ({ended})"));
}

/// Slowloris: 1000 connections, each sending a header line every 5 s.
#[tokio::test]
async fn slowhttptest_slow_headers() {
    let args = [
        "-H", "-c", "1000", "-r", "500", "-i", "5", "-x", "24", "-l", "60",
    ];
    under_slowhttptest("slowhttptest -H", &args, "/").await;
}

/// R-U-Dead-Yet: 500 connections each posting an 8 KiB form to the board a
/// few bytes every 10 s.
#[tokio::test]
async fn slowhttptest_slow_body() {
    let args = [
        "-B", "-c", "500", "-r", "250", "-i", "10", "-s", "8192", "-x", "1", "-t", "POST", "-l",
        "60",
    ];
    under_slowhttptest("slowhttptest -B", &args, "/board").await;
}

/// Slow read: 500 connections each reading the 4 MiB file 32 bytes every
/// 5 s through a window of 512 to 1024 bytes.
#[tokio::test]
async fn slowhttptest_slow_read() {
    let args = [
        "-X", "-c", "500", "-r", "250", "-w", "512", "-y", "1024", "-n", "5", "-z", "32", "-k",
        "1", "-l", "60",
    ];
    under_slowhttptest("slowhttptest -X", &args, BIG_FILE).await;
}

/// An h2c stream flood: two HTTP/2 connections of 200 streams each, one
/// reading slowly (a window of 0), the other posting slowly.
#[tokio::test]
async fn h2c_stream_flood() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let runner = start_runner();
    let readers = tokio::spawn(h2c_flood(runner.addr, 200, Slowness::Read(BIG_FILE)));
    let posters = tokio::spawn(h2c_flood(runner.addr, 200, Slowness::Body));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let seen = watch_normal_client(&runner, Duration::from_secs(20)).await;
    readers.abort();
    posters.abort();
    seen.assert_served("h2c stream flood");
}

/// Slow readers from many addresses — more than the per-client cap could
/// stop — each reading 1 KiB every 4 s (256 B/s, under the floor), on a
/// runner whose `--request-timeout` is long (an operator's choice for slow
/// guests, which must not be one for slow clients): they lose their
/// instances within the floor's window, and a client reading 4 KiB/s
/// (mobile-slow, above the floor) from another address gets its whole file
/// meanwhile.
#[tokio::test]
async fn readers_under_the_floor_lose_their_instances() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let runner = start_runner_with(|config| {
        config.limits.request_timeout = Duration::from_secs(300);
    });
    let mut readers = tokio::task::JoinSet::new();
    for host in 0..64u8 {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, host + 1));
        for _ in 0..3 {
            let big = (BIG_FILE, BIG_SIZE);
            let every = Duration::from_secs(4);
            readers.spawn(slow_reader(runner.addr, from, big, 1024, every));
        }
    }
    let honest = tokio::spawn(slow_reader(
        runner.addr,
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
        (MEDIUM_FILE, MEDIUM_SIZE),
        4096,
        Duration::from_secs(1),
    ));
    assert_instances_freed(&runner, "192 readers at 256 B/s from 64 addresses", 150.0).await;
    // What the kernel had buffered still trickles to them: not waited for.
    readers.abort_all();
    let honest = honest.await.unwrap();
    assert!(
        honest > MEDIUM_SIZE,
        "the honest reader was cut after {honest} bytes"
    );
}

/// Waits until at least `least` instances were busy and then at most 2:
/// the attack's clients lost them, within 45 s.
async fn assert_instances_freed(runner: &Runner, attack: &str, least: f64) {
    let started = Instant::now();
    let mut most = 0.0f64;
    let freed = loop {
        let busy = sample(runner.metrics, "sitebox_instances_busy").await;
        most = most.max(busy);
        if most >= least && busy <= 2.0 {
            break Some(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(90) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let report = format!(
        "{attack}: at most {most} instances busy, freed after {freed:.1?} (None: not within 90 s)"
    );
    let _ = writeln!(std::io::stderr(), "{report}");
    let freed = freed.unwrap_or_else(|| panic!("{report}"));
    assert!(freed < Duration::from_secs(45), "{report}");
}

/// R-U-Dead-Yet from many addresses: 256 connections, more than the
/// per-client cap could stop, each posting a 4 KiB form to the board a byte
/// every 5 s (read ahead: held as connections, never as instances). The
/// normal client is served throughout, and every poster is cut (under the
/// floor) within about its window.
#[tokio::test]
async fn slow_posters_from_many_addresses() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let runner = start_runner();
    let mut posters = tokio::task::JoinSet::new();
    for host in 0..64u8 {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 2, host + 1));
        for _ in 0..4 {
            posters.spawn(slow_poster(runner.addr, from, "/board", 4096, 16));
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let seen = watch_normal_client(&runner, Duration::from_secs(25)).await;
    let mut cut_after = Vec::new();
    while let Some(cut) = posters.join_next().await {
        cut_after.push(cut.unwrap());
    }
    let held = cut_after.iter().filter(|cut| cut.is_none()).count();
    let longest = cut_after
        .iter()
        .flatten()
        .max()
        .copied()
        .unwrap_or_default();
    let attack = format!(
        "256 slow posters from 64 addresses ({held} not cut within 90 s, the others within {longest:.1?})"
    );
    seen.assert_served(&attack);
    assert_eq!(held, 0, "{attack}");
}

/// Uploads larger than the read-ahead (to a guest that reads whole bodies)
/// from many addresses: 64 KiB at once, then a byte every 5 s, under the
/// floor. They lose their instances within about the floor's window.
#[tokio::test]
async fn uploads_under_the_floor_lose_their_instances() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let runner = start_runner_with(|config| {
        config.component = ComponentSource::File(support::test_guest("faulty"));
    });
    let mut uploads = tokio::task::JoinSet::new();
    for host in 0..64u8 {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 3, host + 1));
        for _ in 0..2 {
            uploads.spawn(slow_poster(
                runner.addr,
                from,
                "/count",
                512 << 10,
                64 << 10,
            ));
        }
    }
    assert_instances_freed(&runner, "128 uploads at 0.2 B/s from 64 addresses", 100.0).await;
    uploads.abort_all();
}
