//! The board on a Redis that fails: one `sitebox` (`--store-timeout 400ms`)
//! on a real Redis, through a fault-injecting TCP proxy
//! (`tests/support/fault_proxy.rs`) where the test needs one. Connections
//! that stall (a failover, a half-open socket), a network that drops every
//! packet (a black hole), replies delayed beyond the timeout, connections
//! cut while Redis is away, and a Redis whose password is wrong at start or
//! changed under the runner (`logins`): the board answers 503 meanwhile,
//! reconnects with back-off (calls during it fail at once, and
//! Redis is not hammered with connection attempts), and comes back within
//! seconds of Redis being reachable again, without restarting the runner.
//! A failover to a replica promoted to primary (the old one demoted, its
//! connection answering writes with READONLY) moves the board there.
//! Each test prints its figures (`FIGURES …`: seconds to recover, 503s seen).

mod common;
#[path = "../../tests/support/fault_proxy.rs"]
mod fault_proxy;
#[path = "redis_failover/logins.rs"]
mod logins;
#[path = "../../tests/support/redis.rs"]
mod redis;

use common::{Running, exchange, sitebox};
use fault_proxy::FaultProxy;
use redis::RedisServer;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STORE_TIMEOUT: Duration = Duration::from_millis(400);
/// How long the board may take to come back once Redis is reachable (the
/// runner takes well under a second, or its back-off's cap); generous for
/// a busy 2-core CI machine.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// A Redis, a proxy in front of it, and a runner on one of the two.
struct Setup {
    redis: RedisServer,
    proxy: FaultProxy,
    runner: Running,
    log: Arc<Mutex<Vec<String>>>,
    _root: tempfile::TempDir,
}

impl Setup {
    /// `None` (with a notice) without `redis-server`, a failure under
    /// `CI=true`. `redis_password`: Redis's `requirepass` at start;
    /// `url_password`: the one in the runner's URL; `through_proxy`:
    /// whether the runner reaches Redis through the proxy.
    fn start(
        redis_password: Option<&str>,
        url_password: Option<&str>,
        through_proxy: bool,
    ) -> Option<Setup> {
        if !redis::available() {
            return None;
        }
        let root = tempfile::tempdir().unwrap();
        let static_dir = common::static_site(root.path());
        std::fs::create_dir(root.path().join("redis")).unwrap();
        let mut redis = RedisServer::start(&root.path().join("redis"));
        redis.set_password(redis_password);
        let proxy = FaultProxy::start(redis_addr(&redis));
        let target = if through_proxy {
            proxy.addr()
        } else {
            redis_addr(&redis)
        };
        let login = url_password.map(|p| format!(":{p}@")).unwrap_or_default();
        let url = format!("redis://{login}{target}/0");
        let mut command = sitebox();
        command
            .args(["--port", "0", "--static"])
            .arg(&static_dir)
            .args(["--store", &url, "--bucket", "failover"])
            .args(["--store-timeout", &humantime(STORE_TIMEOUT)]);
        let mut runner = Running::start(command);
        let log = runner.collect_log();
        Some(Setup {
            redis,
            proxy,
            runner,
            log,
            _root: root,
        })
    }

    /// `start` without passwords, through the proxy, the board working.
    fn proxied() -> Option<Setup> {
        let setup = Setup::start(None, None, true)?;
        setup.assert_board_works();
        Some(setup)
    }

    fn addr(&self) -> &str {
        &self.runner.addr
    }

    /// The board works now (after a first connection, if it takes one).
    fn assert_board_works(&self) {
        let (recovered, tally) = until_recovered(self.addr());
        assert!(recovered.is_some(), "the board never worked: {tally:?}");
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn redis_addr(redis: &RedisServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], redis.port))
}

fn humantime(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

/// What the board answered during a stretch of traffic.
#[derive(Debug, Default)]
struct Tally {
    /// Answers that worked (201 for a post, 200 for a read).
    worked: usize,
    /// How long each 503 took.
    unavailable: Vec<Duration>,
    /// Any other status (0: no connection): never expected.
    other: BTreeMap<u16, usize>,
}

impl Tally {
    /// One round of board traffic: a post and a read of the newest
    /// message. Whether both worked.
    fn round(&mut self, addr: &str, n: usize) -> bool {
        let body = format!(r#"{{"text":"probe {n}"}}"#);
        let posted = self.record(201, || exchange(addr, "POST", "/api/messages", &body));
        let read = self.record(200, || exchange(addr, "GET", "/api/messages?limit=1", ""));
        posted && read
    }

    fn record(&mut self, ok: u16, request: impl FnOnce() -> Option<(u16, String)>) -> bool {
        let started = Instant::now();
        let status = request().map_or(0, |(status, _)| status);
        match status {
            _ if status == ok => self.worked += 1,
            503 => self.unavailable.push(started.elapsed()),
            _ => *self.other.entry(status).or_default() += 1,
        }
        status == ok
    }

    /// The median time a 503 took.
    fn median_unavailable(&self) -> Duration {
        let mut took = self.unavailable.clone();
        took.sort();
        took.get(took.len() / 2).copied().unwrap_or_default()
    }

    fn summary(&self) -> String {
        format!(
            "{} 503s (median {} ms), {} worked, other {:?}",
            self.unavailable.len(),
            self.median_unavailable().as_millis(),
            self.worked,
            self.other
        )
    }
}

/// Board traffic, round after round, until one round works: how long that
/// took (`None`: not within `RECOVERY_LIMIT`), and what was answered.
fn until_recovered(addr: &str) -> (Option<Duration>, Tally) {
    let started = Instant::now();
    let mut tally = Tally::default();
    for n in 0.. {
        if tally.round(addr, n) {
            return (Some(started.elapsed()), tally);
        }
        if started.elapsed() > RECOVERY_LIMIT {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (None, tally)
}

/// Board traffic, round after round, for `span`.
fn traffic_for(addr: &str, span: Duration) -> Tally {
    let started = Instant::now();
    let mut tally = Tally::default();
    for n in 0.. {
        if started.elapsed() > span {
            break;
        }
        tally.round(addr, n);
        std::thread::sleep(Duration::from_millis(10));
    }
    tally
}

/// Prints the figures of `what` and fails unless the board came back.
fn assert_recovered(what: &str, (recovered, tally): (Option<Duration>, Tally)) {
    match recovered {
        Some(took) => eprintln!(
            "FIGURES {what}: recovered in {:.2} s; {}",
            took.as_secs_f64(),
            tally.summary()
        ),
        None => eprintln!(
            "FIGURES {what}: NOT recovered in {} s; {}",
            RECOVERY_LIMIT.as_secs(),
            tally.summary()
        ),
    }
    assert!(tally.other.is_empty(), "{what}: {tally:?}");
    assert!(
        recovered.is_some(),
        "{what}: the board did not come back within {RECOVERY_LIMIT:?}"
    );
}

fn assert_ready(addr: &str) {
    let (status, body) = exchange(addr, "GET", "/readyz", "").unwrap();
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_stalled_connection_is_replaced_and_the_board_recovers() {
    let Some(setup) = Setup::proxied() else {
        return;
    };
    // The runner's connection goes silent for good, its socket open; Redis
    // itself stays healthy behind the proxy (new connections work).
    setup.proxy.stall_existing();
    assert_recovered("stalled connection", until_recovered(setup.addr()));
    assert_ready(setup.addr());
}

#[test]
fn replies_delayed_beyond_the_timeout_fail_fast_then_recover() {
    let Some(setup) = Setup::proxied() else {
        return;
    };
    setup.proxy.delay_replies(STORE_TIMEOUT * 4);
    assert_fails_fast_until("replies delayed 1.6 s", &setup, || {
        setup.proxy.delay_replies(Duration::ZERO)
    });
}

#[test]
fn a_black_hole_fails_fast_then_recovers() {
    let Some(setup) = Setup::proxied() else {
        return;
    };
    // Every connection, new ones too, accepted and silent.
    setup.proxy.blackhole(true);
    assert_fails_fast_until("black hole", &setup, || setup.proxy.blackhole(false));
}

/// With a fault on for 3 s, board requests answer 503 without waiting for
/// Redis (but for the calls that try it); after `lift`, the board is back.
fn assert_fails_fast_until(fault: &str, setup: &Setup, lift: impl FnOnce()) {
    let tally = traffic_for(setup.addr(), Duration::from_secs(3));
    eprintln!("FIGURES {fault}, 3 s: {}", tally.summary());
    assert_eq!(tally.worked, 0, "{tally:?}");
    assert!(
        tally.median_unavailable() < STORE_TIMEOUT / 2,
        "board requests wait for a Redis that does not answer: {tally:?}"
    );
    lift();
    assert_recovered(&format!("{fault}, lifted"), until_recovered(setup.addr()));
}

#[test]
fn cut_connections_reconnect_with_back_off_while_redis_is_away() {
    let Some(setup) = Setup::proxied() else {
        return;
    };
    setup.proxy.cut_existing();
    assert_recovered("connection cut", until_recovered(setup.addr()));

    // Redis away: the proxy accepts each connection and closes it at once.
    setup
        .proxy
        .set_upstream(SocketAddr::from(([127, 0, 0, 1], redis::free_port())));
    setup.proxy.cut_existing();
    let before = setup.proxy.accepted();
    let tally = traffic_for(setup.addr(), Duration::from_secs(3));
    let attempts = setup.proxy.accepted() - before;
    eprintln!(
        "FIGURES Redis away 3 s: {attempts} connection attempts; {}",
        tally.summary()
    );
    assert_eq!(tally.worked, 0, "{tally:?}");
    // Back-off from 100 ms doubling: about 6 in 3 s; one per board call
    // would be hundreds.
    assert!(
        attempts <= 15,
        "{attempts} connection attempts in 3 s for {} refused requests",
        tally.unavailable.len()
    );
    setup.proxy.set_upstream(redis_addr(&setup.redis));
    assert_recovered("Redis back", until_recovered(setup.addr()));
}

#[test]
fn a_failover_to_a_promoted_replica_moves_the_board_there() {
    let Some(setup) = Setup::start(None, None, true) else {
        return;
    };
    let dir = setup._root.path().join("replica");
    std::fs::create_dir(&dir).unwrap();
    let replica = RedisServer::start(&dir);
    replicate(&replica, &setup.redis);
    setup.assert_board_works();
    let body = r#"{"text":"before the failover"}"#;
    assert_eq!(
        exchange(setup.addr(), "POST", "/api/messages", body)
            .unwrap()
            .0,
        201
    );
    assert_eq!(
        setup.redis.command(&["WAIT", "1", "5000"]),
        ":1",
        "replicated"
    );
    // The failover: the replica becomes the primary, the old primary its
    // replica (it answers writes with READONLY now), and the address the
    // runner knows (a virtual IP, a DNS name: the proxy) leads to the new one.
    assert_eq!(replica.command(&["REPLICAOF", "NO", "ONE"]), "+OK");
    replicate(&setup.redis, &replica);
    setup.proxy.set_upstream(redis_addr(&replica));
    assert_recovered("failover", until_recovered(setup.addr()));
    let (status, board) = exchange(setup.addr(), "GET", "/api/messages?limit=200", "").unwrap();
    assert_eq!(status, 200, "{board}");
    assert!(board.contains("before the failover"), "{board}");
}

/// Makes `replica` a replica of `primary` and waits for its link.
fn replicate(replica: &RedisServer, primary: &RedisServer) {
    let port = primary.port.to_string();
    assert_eq!(replica.command(&["REPLICAOF", "127.0.0.1", &port]), "+OK");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !replica
        .command(&["INFO", "replication"])
        .contains("master_link_status:up")
    {
        assert!(Instant::now() < deadline, "the replica never synced");
        std::thread::sleep(Duration::from_millis(20));
    }
}
