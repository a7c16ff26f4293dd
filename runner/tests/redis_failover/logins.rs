//! Redis refusing the runner's login: a wrong password at start, or one
//! changed under the runner (a failover to a Redis with another password).
//! The board answers 503 meanwhile and comes back once Redis takes the
//! password; the refusal is logged once, and no password ever.

use super::{Setup, assert_ready, assert_recovered, traffic_for, until_recovered};
use std::time::Duration;

/// The runner's password for Redis in these tests.
const PASSWORD: &str = "board-secret";

#[test]
fn a_wrong_password_at_start_is_retried_until_redis_takes_it() {
    let Some(mut setup) = Setup::start(Some("other-secret"), Some(PASSWORD), false) else {
        return;
    };
    let tally = traffic_for(setup.addr(), Duration::from_secs(2));
    eprintln!("FIGURES wrong password: {}", tally.summary());
    assert_eq!(tally.worked, 0, "{tally:?}");
    setup.redis.set_password(Some(PASSWORD));
    assert_recovered("password fixed", until_recovered(setup.addr()));
    assert_ready(setup.addr());
    assert_login_failures_logged_once(&setup.log());
}

#[test]
fn a_password_changed_under_the_runner_is_retried() {
    let Some(mut setup) = Setup::start(Some(PASSWORD), Some(PASSWORD), false) else {
        return;
    };
    setup.assert_board_works();
    // A failover to a Redis with another password.
    setup.redis.restart_with_password(Some("other-secret"));
    let tally = traffic_for(setup.addr(), Duration::from_secs(2));
    eprintln!("FIGURES password changed: {}", tally.summary());
    assert_eq!(tally.worked, 0, "{tally:?}");
    setup.redis.set_password(Some(PASSWORD));
    assert_recovered("password restored", until_recovered(setup.addr()));
    assert_login_failures_logged_once(&setup.log());
}

/// The runner said that Redis refused its login once (not once per request)
/// and never wrote a password to its log.
fn assert_login_failures_logged_once(log: &[String]) {
    for line in log {
        assert!(
            !line.contains(PASSWORD) && !line.contains("other-secret"),
            "a password in the log: {line}"
        );
    }
    let said: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("no connection to Redis"))
        .collect();
    assert!(
        (1..=2).contains(&said.len()),
        "the login failure logged {} times: {said:#?}",
        said.len()
    );
}
