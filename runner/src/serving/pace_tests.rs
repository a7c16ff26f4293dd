//! The pace's arithmetic, and its watch over bodies, on a paused clock.

use super::*;
use http_body_util::{BodyExt, StreamBody};
use std::convert::Infallible;

const RATE: BodyRate = BodyRate {
    bytes_per_second: 1000,
    window: Duration::from_secs(20),
};

fn secs(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds)
}

#[test]
fn credit_runs_out_only_when_the_client_moves_less_than_the_floor() {
    let mut credit = Credit::new(RATE);
    // At the floor, for ever.
    for second in 1..=100 {
        assert!(credit.settle(secs(1.0), second * 1000), "{second}");
    }
    // Fast for a while banks at most the window...
    assert!(credit.settle(secs(1.0), 10_000_000));
    // ...which a stall then spends.
    assert!(credit.settle(secs(19.0), 10_000_000));
    assert!(!credit.settle(secs(1.5), 10_000_000));

    // Under the floor (a quarter of it) lasts about the window and a third.
    let mut credit = Credit::new(RATE);
    let mut lasted = 0;
    while credit.settle(secs(1.0), (lasted + 1) * 250) {
        lasted += 1;
    }
    assert_eq!(lasted, 26);
}

#[test]
fn only_time_waited_counts_and_overlapping_waits_once() {
    let start = Instant::now();
    let at = |seconds: f64| start + secs(seconds);
    let mut waits = Waits {
        waiting: 0,
        since: start,
        waited: Duration::ZERO,
    };
    assert!(waits.begin(at(1.0)));
    assert!(!waits.begin(at(2.0)), "a second body waiting at once");
    waits.end(at(3.0));
    waits.end(at(4.0));
    // Nobody waited from 4 to 10.
    assert!(waits.begin(at(10.0)));
    assert_eq!(waits.take(at(12.0)), secs(5.0));
    waits.end(at(13.0));
    assert_eq!(waits.take(at(20.0)), secs(1.0));
}

fn pace() -> Pace {
    Pace::new(Some(RATE), Meter::Taken)
}

/// Whether `pace` is breached within `within`.
async fn breached_within(pace: &Pace, within: Duration) -> bool {
    tokio::time::timeout(within, pace.breached()).await.is_ok()
}

#[tokio::test(start_paused = true)]
async fn a_response_body_never_taken_breaches_after_the_window() {
    let pace = pace();
    let body = Paced::response(http_body_util::Full::new(Bytes::from("x")), &pace);
    // One watch, as a connection keeps: its credit is its own.
    let mut breached = std::pin::pin!(pace.breached());
    let early = tokio::time::timeout(secs(19.0), breached.as_mut()).await;
    assert!(early.is_err(), "breached within the window");
    let started = Instant::now();
    let late = tokio::time::timeout(secs(10.0), breached.as_mut()).await;
    assert!(late.is_ok(), "not breached after the window");
    assert!(started.elapsed() <= secs(2.0), "{:?}", started.elapsed());
    drop(body);
}

/// A response whose guest writes `piece` bytes every `guest` seconds and
/// whose client takes `client` seconds for each: whether the pace is
/// breached within `during`.
async fn response_breached(piece: usize, guest: f64, client: f64, during: f64) -> bool {
    let pace = pace();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(secs(guest)).await;
            if sender.send(Bytes::from(vec![b'x'; piece])).await.is_err() {
                return;
            }
        }
    });
    let mut body = Box::pin(Paced::response(StreamBody::new(stream_of(receiver)), &pace));
    let reading = async move {
        while let Some(Ok(_)) = body.frame().await {
            tokio::time::sleep(secs(client)).await;
        }
    };
    tokio::select! {
        () = pace.breached() => true,
        () = reading => unreachable!("the body never ends"),
        () = tokio::time::sleep(secs(during)) => false,
    }
}

#[tokio::test(start_paused = true)]
async fn a_client_at_twice_the_floor_is_never_breached() {
    assert!(!response_breached(2000, 0.1, 1.0, 300.0).await);
}

#[tokio::test(start_paused = true)]
async fn a_slow_guest_is_not_the_clients_fault() {
    // 100 B/s in all, but the client takes each piece at once.
    assert!(!response_breached(1000, 10.0, 0.0, 300.0).await);
}

#[tokio::test(start_paused = true)]
async fn a_client_under_the_floor_is_breached() {
    assert!(response_breached(1000, 0.1, 4.0, 60.0).await);
}

#[tokio::test(start_paused = true)]
async fn a_request_body_trickling_under_the_floor_breaches() {
    let pace = pace();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(1);
    let frames = stream_of(receiver);
    let mut body = std::pin::pin!(Paced::request(StreamBody::new(frames), &pace));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(secs(10.0)).await;
            if sender.send(Bytes::from_static(b"a")).await.is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let reading = async { while let Some(Ok(_)) = body.frame().await {} };
    tokio::select! {
        () = pace.breached() => {}
        () = reading => panic!("the body ended"),
    }
    let took = started.elapsed();
    assert!(took >= secs(20.0) && took <= secs(26.0), "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn no_floor_is_never_breached() {
    let pace = Pace::new(None, Meter::Taken);
    let _body = Paced::response(http_body_util::Full::new(Bytes::from("x")), &pace);
    assert!(!breached_within(&pace, secs(3600.0)).await);
}

/// The frames a channel receives, as a stream.
fn stream_of(
    receiver: tokio::sync::mpsc::Receiver<Bytes>,
) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, Infallible>> {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        let bytes = receiver.recv().await?;
        Some((Ok(Frame::data(bytes)), receiver))
    })
}
