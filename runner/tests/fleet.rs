//! A fleet: three `sitebox` processes with `--store redis://…` on one real
//! Redis (Debian's `redis-server`, `appendfsync always`) share one board.
//! Concurrent writers over all three: every acknowledged post stored exactly
//! once, every runner showing the same board; a clear through one seen by
//! all at once, posts racing it never lost; a runner killed with SIGKILL
//! mid-load loses nothing acknowledged; Redis killed mid-load turns board
//! requests into 503s (static files stay 200) and, restarted, brings the
//! board back without restarting any runner.

mod common;
#[path = "../../tests/support/redis.rs"]
mod redis;

use common::{Running, board, exchange, exchange_with_head, sitebox};
use redis::RedisServer;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Fleet {
    redis: RedisServer,
    runners: Vec<Running>,
    static_dir: PathBuf,
    _root: tempfile::TempDir,
}

impl Fleet {
    /// Redis and `count` runners on it; `None` (with a notice) without
    /// `redis-server`, a failure under `CI=true`.
    fn start(count: usize) -> Option<Fleet> {
        if !redis::available() {
            return None;
        }
        let root = tempfile::tempdir().unwrap();
        let static_dir = common::static_site(root.path());
        std::fs::create_dir(root.path().join("redis")).unwrap();
        let redis = RedisServer::start(&root.path().join("redis"));
        let mut fleet = Fleet {
            redis,
            runners: Vec::new(),
            static_dir,
            _root: root,
        };
        for _ in 0..count {
            let runner = fleet.runner();
            fleet.runners.push(runner);
        }
        Some(fleet)
    }

    fn runner(&self) -> Running {
        start_runner(&self.static_dir, &self.redis.url(0))
    }

    fn addrs(&self) -> Vec<String> {
        self.runners.iter().map(|r| r.addr.clone()).collect()
    }
}

fn start_runner(static_dir: &Path, url: &str) -> Running {
    let mut command = sitebox();
    command
        .args(["--port", "0", "--quiet", "--static"])
        .arg(static_dir)
        .args(["--store", url, "--bucket", "fleet", "--store-timeout", "1s"])
        .args(["--admin-password-hash", admin_hash()]);
    let mut runner = Running::start(command);
    runner.drain_log();
    runner
}

/// Posts `text` through the API: its id if acknowledged (201), the status
/// otherwise (0: no connection).
fn post(addr: &str, text: &str) -> Result<u64, u16> {
    let body = serde_json::json!({ "text": text }).to_string();
    match exchange(addr, "POST", "/api/messages", &body) {
        Some((201, body)) => {
            let message: Value = serde_json::from_str(&body).unwrap();
            Ok(message["id"].as_u64().unwrap())
        }
        Some((status, _)) => Err(status),
        None => Err(0),
    }
}

/// Writers posting through the runners in turn until stopped.
struct Writers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// The posts acknowledged, by id.
    acknowledged: Arc<Mutex<BTreeMap<u64, String>>>,
    /// How many posts got each other answer (0: no connection).
    refused: Arc<Mutex<BTreeMap<u16, usize>>>,
}

impl Writers {
    fn start(addrs: &[String], count: usize) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(Mutex::new(BTreeMap::new()));
        let refused = Arc::new(Mutex::new(BTreeMap::new()));
        let threads = (0..count)
            .map(|w| {
                let addrs = addrs.to_vec();
                let (stop, acknowledged, refused) =
                    (stop.clone(), acknowledged.clone(), refused.clone());
                std::thread::spawn(move || {
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let text = format!("writer {w} post {i}");
                        match post(&addrs[(w + i) % addrs.len()], &text) {
                            Ok(id) => {
                                acknowledged.lock().unwrap().insert(id, text);
                            }
                            Err(status) => *refused.lock().unwrap().entry(status).or_default() += 1,
                        }
                    }
                })
            })
            .collect();
        Writers {
            stop,
            threads,
            acknowledged,
            refused,
        }
    }

    /// Stops them: what was acknowledged, and the other answers.
    fn stop(self) -> (BTreeMap<u64, String>, BTreeMap<u16, usize>) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads {
            thread.join().unwrap();
        }
        let acknowledged = std::mem::take(&mut *self.acknowledged.lock().unwrap());
        let refused = std::mem::take(&mut *self.refused.lock().unwrap());
        (acknowledged, refused)
    }
}

/// The fleet's admin password; every runner gets its hash.
const ADMIN_PASSWORD: &str = "fleet admin";

fn admin_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| common::hash_password(ADMIN_PASSWORD))
}

fn clear(addr: &str) {
    let login = common::admin_login(ADMIN_PASSWORD);
    let (status, _, body) =
        common::exchange_with_headers(addr, "DELETE", "/api/messages", &login, "").unwrap();
    assert_eq!(status, 204, "{body}");
}

/// 64 writers, each posting through all three runners in turn.
#[test]
fn sixty_four_writers_over_three_runners_share_one_board() {
    let Some(fleet) = Fleet::start(3) else { return };
    let addrs = fleet.addrs();
    let writers: Vec<_> = (0..64)
        .map(|w| {
            let addrs = addrs.clone();
            std::thread::spawn(move || {
                (0..12)
                    .map(|i| {
                        let text = format!("writer {w} post {i}");
                        let id = post(&addrs[(w + i) % 3], &text).expect("acknowledged");
                        (id, text)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut acknowledged = BTreeMap::new();
    for writer in writers {
        let posts = writer.join().unwrap();
        let ids: Vec<u64> = posts.iter().map(|(id, _)| *id).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "a writer's ids increase: {ids:?}"
        );
        for (id, text) in posts {
            assert!(
                acknowledged.insert(id, text).is_none(),
                "id {id} given twice"
            );
        }
    }
    assert_eq!(acknowledged.len(), 64 * 12);
    let expected: Vec<(u64, String)> = acknowledged.into_iter().collect();
    for addr in &addrs {
        assert_eq!(board(addr), expected, "the board as {addr} shows it");
    }
}

#[test]
fn a_clear_through_one_runner_is_seen_by_all_and_racing_posts_survive() {
    let Some(fleet) = Fleet::start(3) else { return };
    let addrs = fleet.addrs();
    for i in 0..30 {
        post(&addrs[i % 3], &format!("before {i}")).unwrap();
    }
    clear(&addrs[0]);
    for addr in &addrs {
        assert_eq!(board(addr), [], "{addr} still shows cleared messages");
    }

    // Writers over all runners while clears go through the first one.
    struct Post {
        text: String,
        started: Instant,
        ended: Instant,
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..12)
        .map(|w| {
            let (addrs, stop) = (addrs.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut posts = Vec::new();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let text = format!("writer {w} post {i}");
                    let started = Instant::now();
                    post(&addrs[(w + i) % 3], &text).expect("acknowledged");
                    let ended = Instant::now();
                    posts.push(Post {
                        text,
                        started,
                        ended,
                    });
                }
                posts
            })
        })
        .collect();
    let mut clears = Vec::new();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(30));
        let started = Instant::now();
        clear(&addrs[0]);
        clears.push((started, Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let posts: Vec<Post> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();

    let final_board = board(&addrs[2]);
    for addr in &addrs[..2] {
        assert_eq!(board(addr), final_board, "{addr} disagrees");
    }
    let shown: BTreeSet<&str> = final_board.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(shown.len(), final_board.len(), "a message shows twice");
    let (last_clear_started, last_clear_ended) = *clears.last().unwrap();
    let mut after = 0;
    for post in &posts {
        if post.started > last_clear_ended {
            after += 1;
            assert!(shown.contains(post.text.as_str()), "lost: {}", post.text);
        }
        if post.ended < last_clear_started {
            assert!(
                !shown.contains(post.text.as_str()),
                "not cleared: {}",
                post.text
            );
        }
    }
    let posted: BTreeSet<&str> = posts.iter().map(|p| p.text.as_str()).collect();
    assert!(shown.is_subset(&posted));
    assert!(after > 10, "only {after} posts came after the last clear");
}

/// Eight writers over three runners; one runner is killed with SIGKILL while
/// they post, and comes back.
#[test]
fn a_runner_killed_mid_load_loses_nothing_acknowledged() {
    let Some(mut fleet) = Fleet::start(3) else {
        return;
    };
    let addrs = fleet.addrs();
    let writers = Writers::start(&addrs, 8);
    std::thread::sleep(Duration::from_millis(400));
    fleet.runners.remove(1).kill();
    std::thread::sleep(Duration::from_millis(400));
    let (acknowledged, refused) = writers.stop();
    // The killed runner: no answer, or a cut connection.
    assert!(refused.keys().all(|status| *status == 0), "{refused:?}");
    let restarted = fleet.runner();
    let acknowledged: Vec<(u64, String)> = acknowledged.into_iter().collect();
    assert!(acknowledged.len() > 50, "only {} posts", acknowledged.len());
    for addr in [&addrs[0], &addrs[2], &restarted.addr] {
        let shown: BTreeMap<u64, String> = board(addr).into_iter().collect();
        for (id, text) in &acknowledged {
            assert_eq!(
                shown.get(id),
                Some(text),
                "{addr} lost an acknowledged post"
            );
        }
        let texts: BTreeSet<&String> = shown.values().collect();
        assert_eq!(texts.len(), shown.len(), "a message stored twice");
    }
}

/// Redis killed while writers post: board requests answer 503 with
/// Retry-After (never 500), static files 200; Redis restarted: the board
/// is back on every runner, with every post acknowledged before.
#[test]
fn redis_down_mid_load_is_a_503_and_the_board_comes_back() {
    let Some(mut fleet) = Fleet::start(3) else {
        return;
    };
    let addrs = fleet.addrs();
    let writers = Writers::start(&addrs, 6);
    std::thread::sleep(Duration::from_millis(300));
    fleet.redis.kill();
    let down = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    for addr in &addrs {
        let (status, head, body) = exchange_with_head(addr, "GET", "/board", "").unwrap();
        assert_eq!(status, 503, "{addr}: {body}");
        assert!(
            head.to_ascii_lowercase().contains("retry-after: 5"),
            "{head}"
        );
        assert!(body.contains("try again"), "{body}");
        let (status, _, body) = exchange_with_head(addr, "GET", "/api/messages", "").unwrap();
        assert_eq!(status, 503, "{addr}: {body}");
        assert!(body.starts_with("{\"error\":"), "{body}");
        let (status, _) = exchange(addr, "GET", "/index.html", "").unwrap();
        assert_eq!(status, 200, "static files keep serving");
    }
    std::thread::sleep(Duration::from_millis(
        500u64.saturating_sub(down.elapsed().as_millis() as u64),
    ));
    fleet.redis.restart();
    // Back without restarting a runner: within the reconnect back-off.
    let deadline = Instant::now() + Duration::from_secs(15);
    for addr in &addrs {
        while exchange(addr, "GET", "/api/messages", "").map(|r| r.0) != Some(200) {
            assert!(
                Instant::now() < deadline,
                "{addr}: the board did not come back"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let (acknowledged, refused) = writers.stop();
    assert!(
        refused.keys().all(|status| *status == 503),
        "while Redis was down posts got {refused:?}, only 503 is right"
    );
    assert!(refused.contains_key(&503), "no post saw Redis down");
    for addr in &addrs {
        let shown: BTreeMap<u64, String> = board(addr).into_iter().collect();
        for (id, text) in acknowledged.iter() {
            assert_eq!(
                shown.get(id),
                Some(text),
                "{addr} lost an acknowledged post"
            );
        }
        assert!(post(addr, "after the outage").is_ok());
    }
}
