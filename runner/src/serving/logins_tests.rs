use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::Notify;

type Answer = Result<http::Response<()>, ()>;
type Guarded = Result<Answer, Refused>;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

async fn answer(status: u16) -> Answer {
    Ok(http::Response::builder().status(status).body(()).unwrap())
}

/// A login from `client` answered with `status`: its status, or the refusal.
async fn login(logins: &Logins, client: &str, status: u16) -> Result<u16, Refused> {
    let guarded: Guarded = logins.guard(ip(client), true, answer(status)).await;
    guarded.map(|answer| answer.unwrap().status().as_u16())
}

#[tokio::test(start_paused = true)]
async fn failures_beyond_the_free_ones_back_off_doubling_to_the_longest() {
    let logins = Logins::new(4, Duration::from_secs(10));
    let guesser = "192.0.2.1";
    for _ in 0..FREE_FAILURES {
        assert_eq!(login(&logins, guesser, 401).await, Ok(401));
    }
    for expected in [1, 2, 4, 8, 10, 10] {
        assert_eq!(login(&logins, guesser, 401).await, Ok(401));
        let wait = Duration::from_secs(expected);
        assert_eq!(
            login(&logins, guesser, 204).await,
            Err(Refused::BackingOff(wait))
        );
        tokio::time::advance(wait - Duration::from_millis(1)).await;
        assert!(login(&logins, guesser, 204).await.is_err(), "{expected} s");
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    // A request the guest let through does not reset the count.
    assert_eq!(login(&logins, guesser, 200).await, Ok(200));
    assert_eq!(login(&logins, guesser, 401).await, Ok(401));
    assert_eq!(
        login(&logins, guesser, 204).await,
        Err(Refused::BackingOff(Duration::from_secs(10)))
    );
    // Another client's logins, and this client's requests without
    // credentials, go on meanwhile.
    assert_eq!(login(&logins, "192.0.2.2", 204).await, Ok(204));
    let guarded: Guarded = logins.guard(ip(guesser), false, answer(200)).await;
    assert_eq!(guarded.unwrap().unwrap().status(), 200);
}

/// How many clients' failures `logins` remembers.
fn remembered(logins: &Logins) -> usize {
    let backoff = logins.backoff.as_ref().unwrap();
    backoff.clients.lock().unwrap().len()
}

#[tokio::test(start_paused = true)]
async fn failures_are_forgotten_after_a_quiet_while() {
    let logins = Logins::new(1, Duration::from_secs(60));
    let guesser = "192.0.2.1";
    for _ in 0..=FREE_FAILURES {
        login(&logins, guesser, 401).await.unwrap();
    }
    tokio::time::advance(FIRST_BACKOFF + FORGET_AFTER - Duration::from_secs(1)).await;
    logins.forget_idle();
    assert_eq!(remembered(&logins), 1);
    // Remembered: this failure is the next in the row.
    login(&logins, guesser, 401).await.unwrap();
    assert!(login(&logins, guesser, 401).await.is_err());

    tokio::time::advance(Duration::from_secs(2) + FORGET_AFTER).await;
    logins.forget_idle();
    assert_eq!(remembered(&logins), 0);
    for _ in 0..FREE_FAILURES {
        assert_eq!(login(&logins, guesser, 401).await, Ok(401));
    }
}

#[tokio::test(start_paused = true)]
async fn an_ipv6_client_is_its_slash_64() {
    let logins = Logins::new(1, Duration::from_secs(60));
    for _ in 0..=FREE_FAILURES {
        login(&logins, "2001:db8:1:2::1", 401).await.unwrap();
    }
    assert!(login(&logins, "2001:db8:1:2::ffff", 204).await.is_err());
    assert_eq!(login(&logins, "2001:db8:1:3::1", 204).await, Ok(204));
}

#[tokio::test(start_paused = true)]
async fn without_a_backoff_failures_cost_nothing() {
    let logins = Logins::new(1, Duration::ZERO);
    for _ in 0..100 {
        assert_eq!(login(&logins, "192.0.2.1", 401).await, Ok(401));
    }
}

/// Logins that run until `release` is notified, counting how many run at
/// once.
struct Held {
    release: Notify,
    running: AtomicU32,
    most: AtomicU32,
}

impl Held {
    fn new() -> Arc<Held> {
        Arc::new(Held {
            release: Notify::new(),
            running: AtomicU32::new(0),
            most: AtomicU32::new(0),
        })
    }

    fn spawn(
        self: &Arc<Self>,
        logins: &Arc<Logins>,
        client: &str,
        status: u16,
    ) -> tokio::task::JoinHandle<Result<u16, Refused>> {
        let (held, logins, client) = (self.clone(), logins.clone(), ip(client));
        tokio::spawn(async move {
            let run = async {
                let now = held.running.fetch_add(1, Ordering::SeqCst) + 1;
                held.most.fetch_max(now, Ordering::SeqCst);
                held.release.notified().await;
                held.running.fetch_sub(1, Ordering::SeqCst);
                answer(status).await
            };
            let guarded: Guarded = logins.guard(client, true, run).await;
            guarded.map(|answer| answer.unwrap().status().as_u16())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn at_most_so_many_checks_run_at_once_and_a_login_waits_only_so_long() {
    let logins = Arc::new(Logins::new(2, Duration::ZERO));
    let held = Held::new();
    let logins_running: Vec<_> = (0..2)
        .map(|i| held.spawn(&logins, &format!("192.0.2.{i}"), 204))
        .collect();
    let waiting = held.spawn(&logins, "192.0.2.9", 204);
    tokio::task::yield_now().await;
    tokio::time::advance(PATIENCE / 2).await;
    assert_eq!(held.running.load(Ordering::SeqCst), 2);
    // A request without credentials does not wait for a check.
    let plain: Guarded = logins.guard(ip("192.0.2.9"), false, answer(200)).await;
    assert_eq!(plain.unwrap().unwrap().status(), 200);
    tokio::time::advance(PATIENCE).await;
    assert_eq!(waiting.await.unwrap(), Err(Refused::Busy));

    // The checks come free: a login waiting gets one.
    let next = held.spawn(&logins, "192.0.2.9", 204);
    tokio::task::yield_now().await;
    held.release.notify_waiters();
    for done in logins_running {
        assert_eq!(done.await.unwrap(), Ok(204));
    }
    while held.running.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    held.release.notify_waiters();
    assert_eq!(next.await.unwrap(), Ok(204));
    assert_eq!(held.most.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_login_that_waited_is_refused_when_its_client_failed_meanwhile() {
    let logins = Arc::new(Logins::new(1, Duration::from_secs(60)));
    let guesser = "192.0.2.1";
    for _ in 0..FREE_FAILURES {
        login(&logins, guesser, 401).await.unwrap();
    }
    let held = Held::new();
    let failing = held.spawn(&logins, guesser, 401);
    tokio::task::yield_now().await;
    let queued = held.spawn(&logins, guesser, 204);
    tokio::task::yield_now().await;
    assert_eq!(held.running.load(Ordering::SeqCst), 1, "one check at once");
    held.release.notify_waiters();
    assert_eq!(failing.await.unwrap(), Ok(401));
    assert_eq!(
        queued.await.unwrap(),
        Err(Refused::BackingOff(FIRST_BACKOFF))
    );
    assert_eq!(
        held.most.load(Ordering::SeqCst),
        1,
        "the queued one never ran"
    );
}
