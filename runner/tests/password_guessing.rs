//! Guessing the admin's password cannot exhaust the runner's memory (issue
//! 30): floods of wrong logins — 2,000 at 200 connections, against a hash
//! from `sitebox hash-password` (19 MiB a check), first from one address,
//! then from 200 addresses guessing 10 times each (within the back-off's free
//! failures, so only the bound on checks at once holds them) — keep the
//! runner's peak RSS under 512 MiB, the site answers throughout, the guesses
//! beyond the bounds get 429 or 503 with `Retry-After`, and the admin's
//! password still works afterwards: at once from another address, and from
//! the flooding one when its back-off has passed. The figures are printed
//! (`--nocapture`).

mod common;

use common::{Running, admin_login, exchange_over, exchange_with_headers, hash_password, sitebox};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "the admin's real pass phrase";
const GUESSES: usize = 2000;
const CONNECTIONS: usize = 200;
const PEAK_LIMIT_MIB: u64 = 512;
/// The back-off's cap on the server under test, short so the flooding
/// address may log in again soon.
const LONGEST_BACKOFF: u64 = 3;

/// The process's peak and current resident memory (VmHWM, VmRSS), in MiB.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |name: &str| -> u64 {
        let line = status.lines().find(|line| line.starts_with(name)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    (kib("VmHWM:") >> 10, kib("VmRSS:") >> 10)
}

/// A connection to `addr` from the local address `from` (any of 127/8 is
/// this host's).
fn connect_from(from: &str, addr: &str) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let from: IpAddr = from.parse().unwrap();
    let addr: SocketAddr = addr.parse().unwrap();
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket.bind(&SocketAddr::new(from, 0).into()).unwrap();
    socket.connect(&addr.into()).unwrap();
    socket.into()
}

/// `DELETE /api/messages` with the admin's `password` from `from`: the
/// status and the `Retry-After` header, if any; status 0 when no answer came
/// (the connection closed, or 30 s passed).
fn clear_from(from: &str, addr: &str, password: &str) -> (u16, Option<u64>) {
    let stream = connect_from(from, addr);
    let login = admin_login(password);
    let Some((status, head, _)) =
        exchange_over(stream, addr, "DELETE", "/api/messages", &login, "")
    else {
        return (0, None);
    };
    let retry_after = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().parse().unwrap())
    });
    (status, retry_after)
}

/// What a flood got: how many of each status, and whether every 429 and
/// 503 said when to try again.
#[derive(Debug, Default)]
struct Answers {
    statuses: BTreeMap<u16, usize>,
    refused_without_retry_after: usize,
}

impl Answers {
    fn count(&self, pick: impl Fn(u16) -> bool) -> usize {
        (self.statuses.iter())
            .filter(|(status, _)| pick(**status))
            .map(|(_, count)| count)
            .sum()
    }
}

/// `GUESSES` wrong logins on `CONNECTIONS` connections at once, the
/// connection numbered `n` from the address `from(n)`.
fn flood(addr: &str, from: fn(usize) -> String) -> Answers {
    let threads: Vec<_> = (0..CONNECTIONS)
        .map(|connection| {
            let addr = addr.to_owned();
            std::thread::spawn(move || {
                let mut answers = Answers::default();
                for guess in 0..GUESSES / CONNECTIONS {
                    let password = format!("guess {connection}-{guess}");
                    let (status, retry_after) = clear_from(&from(connection), &addr, &password);
                    *answers.statuses.entry(status).or_default() += 1;
                    if matches!(status, 429 | 503) && retry_after.is_none() {
                        answers.refused_without_retry_after += 1;
                    }
                }
                answers
            })
        })
        .collect();
    let mut all = Answers::default();
    for thread in threads {
        let answers = thread.join().unwrap();
        for (status, count) in answers.statuses {
            *all.statuses.entry(status).or_default() += count;
        }
        all.refused_without_retry_after += answers.refused_without_retry_after;
    }
    all
}

/// What a flood did to the server.
struct Flooded {
    answers: Answers,
    peak_mib: u64,
    slowest_page: Duration,
}

/// Runs `flood` while a reader fetches the site's page every 100 ms (from
/// 127.0.0.2, which does not flood), and prints the figures: the memory
/// (the peak counted from the flood's start), the guesses a second, the
/// answers and the page's slowest time.
fn under_flood(server: &Running, what: &str, flood: impl FnOnce() -> Answers) -> Flooded {
    let addr = server.addr.clone();
    // Writing 5 to clear_refs starts the peak (VmHWM) afresh.
    std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5").unwrap();
    let (_, before) = memory_mib(server.pid());
    let flooding = Arc::new(AtomicBool::new(true));
    let reader = {
        let flooding = flooding.clone();
        std::thread::spawn(move || {
            let mut slowest = Duration::ZERO;
            let mut pages = 0;
            while flooding.load(Ordering::SeqCst) {
                let started = Instant::now();
                let stream = connect_from("127.0.0.2", &addr);
                let (status, _, body) = exchange_over(stream, &addr, "GET", "/", "", "").unwrap();
                assert_eq!((status, body.as_str()), (200, "home"));
                slowest = slowest.max(started.elapsed());
                pages += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            (pages, slowest)
        })
    };
    let started = Instant::now();
    let answers = flood();
    let took = started.elapsed();
    flooding.store(false, Ordering::SeqCst);
    let (pages, slowest_page) = reader.join().unwrap();
    let (peak_mib, just_after) = memory_mib(server.pid());
    std::thread::sleep(Duration::from_secs(2));
    let (_, settled) = memory_mib(server.pid());
    eprintln!(
        "{what}: {GUESSES} wrong logins at {CONNECTIONS} connections in {took:.1?} \
         ({:.0} a second): {:?}; RSS {before} MiB before, peak {peak_mib} MiB, \
         {just_after} MiB at the end, {settled} MiB 2 s later; the site's page: \
         {pages} fetched, slowest {slowest_page:.0?}",
        GUESSES as f64 / took.as_secs_f64(),
        answers.statuses
    );
    Flooded {
        answers,
        peak_mib,
        slowest_page,
    }
}

/// The bounds held: memory, the page's time, and every guess answered 401,
/// or 429/503 with `Retry-After`.
fn check_bounds(flooded: &Flooded) {
    let Flooded {
        answers,
        peak_mib,
        slowest_page,
    } = flooded;
    assert!(
        *peak_mib < PEAK_LIMIT_MIB,
        "peak RSS {peak_mib} MiB, over {PEAK_LIMIT_MIB} MiB"
    );
    assert!(
        *slowest_page < Duration::from_secs(1),
        "the site's page took {slowest_page:?} during the flood"
    );
    let checked = answers.count(|status| status == 401);
    let held_back = answers.count(|status| matches!(status, 429 | 503));
    assert_eq!(
        checked + held_back,
        GUESSES,
        "only 401, 429 and 503: {:?}",
        answers.statuses
    );
    assert_eq!(answers.refused_without_retry_after, 0);
}

#[test]
fn floods_of_wrong_logins_are_bounded_and_the_admin_still_gets_in() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "home").unwrap();
    let data = tempfile::tempdir().unwrap();
    let hash = hash_password(PASSWORD);
    let mut command = sitebox();
    command
        .args(["--port", "0", "--quiet", "--static"])
        .arg(site.path())
        .arg("--data")
        .arg(data.path())
        .args(["--admin-password-hash", &hash])
        // By its variable, which a runner without the flag ignores: the
        // same test measures the runner from before the bounds.
        .env("SITEBOX_LOGIN_BACKOFF", format!("{LONGEST_BACKOFF}s"))
        .env_remove("SITEBOX_ADMIN_PASSWORD_HASH");
    let mut server = Running::start(command);
    server.drain_log();
    let addr = server.addr.clone();
    eprintln!("RSS at start: {} MiB", memory_mib(server.pid()).1);

    // From one address: after its free failures, the back-off answers.
    let from_one = under_flood(&server, "from one address", || {
        flood(&addr, |_| "127.0.0.1".to_owned())
    });
    // From 200 addresses, 10 guesses each: the back-off never starts, so
    // only the bound on checks at once holds the memory.
    let from_many = under_flood(&server, "from 200 addresses", || {
        flood(&addr, |connection| format!("127.0.1.{connection}"))
    });
    check_bounds(&from_one);
    check_bounds(&from_many);
    let checked = from_one.answers.count(|status| status == 401);
    assert!(
        checked < GUESSES / 10,
        "{checked} of {GUESSES} guesses from one address were checked"
    );
    assert_eq!(from_many.answers.count(|status| status == 429), 0);

    // Another address logs in at once; the flooding one may still read and
    // post (no credentials), and logs in when its back-off has passed.
    assert_eq!(clear_from("127.0.0.2", &addr, PASSWORD), (204, None));
    let post = exchange_with_headers(&addr, "POST", "/api/messages", "", r#"{"text":"hi"}"#);
    assert_eq!(post.unwrap().0, 201);
    let mut waited = 0;
    loop {
        match clear_from("127.0.0.1", &addr, PASSWORD) {
            (204, _) => break,
            (429, Some(wait)) if wait <= LONGEST_BACKOFF && waited < 3 * LONGEST_BACKOFF => {
                std::thread::sleep(Duration::from_secs(wait));
                waited += wait;
            }
            other => panic!("the admin from the flooding address: {other:?}"),
        }
    }
    server.kill();
}
