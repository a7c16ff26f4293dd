//! Pace: the floor under the rate at which a client moves bodies
//! (`--min-body-rate`), kept per connection. Only the time the server waits
//! on the client counts — a response body handed to hyper and not yet taken
//! for the wire, a request body polled that has no bytes yet — not the time
//! it waits on a guest. A connection that falls under the floor for the
//! window is closed, which ends the guests of its requests and frees their
//! instances: a trickling client cannot hold one for long.
//!
//! What a client read is measured, where it can be, by what its TCP
//! acknowledged (`TCP_INFO`), not by what hyper took: hyper, the TLS layer
//! and the kernel buffer hundreds of KiB, which a client that stopped
//! reading would otherwise be credited with, and a real slow client is seen
//! in small steps rather than buffer-sized bursts.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The floor: `bytes_per_second`, over `window` (the most the client can
/// bank by being fast, and the grace it starts with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRate {
    pub bytes_per_second: u32,
    pub window: Duration,
}

impl BodyRate {
    /// A window long enough for a mobile client's hiccup (a handover, a
    /// tunnel), short enough that a slow client holds an instance only that
    /// long past its last bytes.
    pub const DEFAULT_WINDOW: Duration = Duration::from_secs(20);

    /// The floor `--min-body-rate` sets; `None` for 0.
    pub fn of(limits: &crate::Limits) -> Option<BodyRate> {
        (limits.min_body_rate > 0).then_some(BodyRate {
            bytes_per_second: limits.min_body_rate,
            window: Self::DEFAULT_WINDOW,
        })
    }
}

/// Where a connection's bytes delivered to the client are read.
#[derive(Debug, Clone, Copy)]
pub enum Meter {
    /// The TCP socket's acknowledged bytes. The descriptor belongs to the
    /// connection's stream; it is read only while that is open (by the
    /// connection's own task, see `Pace::breached`).
    #[cfg(target_os = "linux")]
    Tcp(std::os::fd::RawFd),
    /// The response bytes hyper took (Unix sockets, and elsewhere than
    /// Linux).
    Taken,
}

impl Meter {
    /// The meter of a TCP socket: its acknowledged bytes if the kernel
    /// tells them, else the bytes taken.
    pub fn tcp(stream: &tokio::net::TcpStream) -> Meter {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = stream.as_raw_fd();
            if tcp_bytes_acked(fd).is_some() {
                return Meter::Tcp(fd);
            }
        }
        let _ = stream;
        Meter::Taken
    }
}

/// The bytes the peer of `fd` acknowledged (Linux 4.1 and later).
#[cfg(target_os = "linux")]
fn tcp_bytes_acked(fd: std::os::fd::RawFd) -> Option<u64> {
    let mut info = std::mem::MaybeUninit::<libc::tcp_info>::zeroed();
    let mut length = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` is writable for `length` bytes, and getsockopt writes
    // at most that many; a closed or reused descriptor only makes it fail
    // or read another socket's counter, never touch memory.
    let failed = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut length,
        )
    };
    let filled = std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + 8;
    if failed != 0 || (length as usize) < filled {
        return None;
    }
    // SAFETY: zeroed, then filled by the kernel: every field is an integer.
    Some(unsafe { info.assume_init() }.tcpi_bytes_acked)
}

/// One connection's pace. Cheap to clone; every request on the connection
/// shares it.
#[derive(Clone)]
pub struct Pace(Option<Arc<Shared>>);

struct Shared {
    rate: BodyRate,
    meter: Meter,
    waits: Mutex<Waits>,
    started_waiting: Notify,
    /// Request body bytes received.
    received: AtomicU64,
    /// Response body bytes hyper took.
    taken: AtomicU64,
}

/// How long the server has waited on the client since it last looked.
#[derive(Debug)]
struct Waits {
    /// Bodies waiting on the client now.
    waiting: u32,
    /// Since when they have (when `waiting` > 0).
    since: Instant,
    /// Waited before `since`, not yet looked at.
    waited: Duration,
}

impl Waits {
    fn begin(&mut self, now: Instant) -> bool {
        self.waiting += 1;
        if self.waiting == 1 {
            self.since = now;
        }
        self.waiting == 1
    }

    fn end(&mut self, now: Instant) {
        self.waiting -= 1;
        if self.waiting == 0 {
            self.waited += now - self.since;
        }
    }

    /// The time waited since the last look.
    fn take(&mut self, now: Instant) -> Duration {
        if self.waiting > 0 {
            self.waited += now - self.since;
            self.since = now;
        }
        std::mem::take(&mut self.waited)
    }
}

/// The credit a client has: seconds it may still be waited on.
#[derive(Debug)]
struct Credit {
    rate: BodyRate,
    seconds: f64,
    /// The bytes delivered when it was last looked at.
    delivered: u64,
}

impl Credit {
    fn new(rate: BodyRate) -> Credit {
        Credit {
            rate,
            seconds: rate.window.as_secs_f64(),
            delivered: 0,
        }
    }

    /// Takes `waited` off and adds what came since (`delivered` in all);
    /// whether any credit is left.
    fn settle(&mut self, waited: Duration, delivered: u64) -> bool {
        let moved = delivered.saturating_sub(self.delivered);
        self.delivered = self.delivered.max(delivered);
        let earned = moved as f64 / f64::from(self.rate.bytes_per_second);
        let window = self.rate.window.as_secs_f64();
        self.seconds = (self.seconds - waited.as_secs_f64() + earned).min(window);
        self.seconds > 0.0
    }

    /// When to look next: when the credit would run out if nothing came,
    /// but at least every quarter window (what was delivered meanwhile is
    /// only learnt by looking) and at most 4 times a second.
    fn next_look(&self) -> Duration {
        let quarter = self.rate.window / 4;
        Duration::from_secs_f64(self.seconds.max(0.25)).min(quarter.max(Duration::from_millis(250)))
    }
}

impl Pace {
    /// The pace of a connection whose delivered bytes `meter` reads; `None`:
    /// no floor.
    pub fn new(rate: Option<BodyRate>, meter: Meter) -> Pace {
        Pace(rate.filter(|rate| rate.bytes_per_second > 0).map(|rate| {
            Arc::new(Shared {
                rate,
                meter,
                waits: Mutex::new(Waits {
                    waiting: 0,
                    since: Instant::now(),
                    waited: Duration::ZERO,
                }),
                started_waiting: Notify::new(),
                received: AtomicU64::new(0),
                taken: AtomicU64::new(0),
            })
        }))
    }

    /// Completes when the client has fallen under the floor; never without
    /// one. Polled by the connection's task, while its stream is open.
    pub async fn breached(&self) {
        let Some(shared) = &self.0 else {
            return std::future::pending().await;
        };
        let mut credit = Credit::new(shared.rate);
        loop {
            if shared.waits.lock().expect("not poisoned").waiting == 0 {
                // `notify_one` keeps a wake-up for a wait begun meanwhile.
                shared.started_waiting.notified().await;
                continue;
            }
            tokio::time::sleep(credit.next_look()).await;
            let waited = shared
                .waits
                .lock()
                .expect("not poisoned")
                .take(Instant::now());
            let Some(delivered) = shared.delivered() else {
                continue;
            };
            if !credit.settle(waited, delivered) {
                return;
            }
        }
    }

    /// The server starts waiting on the client; until the returned guard is
    /// dropped.
    fn wait(&self) -> Option<Waiting> {
        let shared = self.0.as_ref()?;
        let first = (shared.waits.lock().expect("not poisoned")).begin(Instant::now());
        if first {
            shared.started_waiting.notify_one();
        }
        Some(Waiting(shared.clone()))
    }

    fn count(&self, counter: fn(&Shared) -> &AtomicU64, bytes: usize) {
        if let Some(shared) = &self.0 {
            counter(shared).fetch_add(bytes as u64, Ordering::Relaxed);
        }
    }
}

impl Shared {
    /// The body bytes the client moved so far, both ways.
    fn delivered(&self) -> Option<u64> {
        let sent = match self.meter {
            #[cfg(target_os = "linux")]
            Meter::Tcp(fd) => tcp_bytes_acked(fd)?,
            Meter::Taken => self.taken.load(Ordering::Relaxed),
        };
        Some(sent + self.received.load(Ordering::Relaxed))
    }
}

/// The server waiting on the client, until dropped.
struct Waiting(Arc<Shared>);

impl Drop for Waiting {
    fn drop(&mut self) {
        (self.0.waits.lock().expect("not poisoned")).end(Instant::now());
    }
}

/// Which way a body goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// From the client: waited on while a poll finds nothing.
    Request,
    /// To the client: waited on from each piece handed over to the next
    /// poll (hyper polls when it has room again).
    Response,
}

pin_project! {
    /// A body whose waits on the client count against its connection's pace.
    pub struct Paced<B> {
        #[pin]
        inner: B,
        pace: Pace,
        direction: Direction,
        waiting: Option<Waiting>,
    }
}

impl<B> Paced<B> {
    /// A request body from the client.
    pub fn request(inner: B, pace: &Pace) -> Paced<B> {
        Paced {
            inner,
            pace: pace.clone(),
            direction: Direction::Request,
            waiting: None,
        }
    }

    /// A response body for the client: waited on from the start, until
    /// hyper first polls it.
    pub fn response(inner: B, pace: &Pace) -> Paced<B> {
        Paced {
            inner,
            waiting: pace.wait(),
            pace: pace.clone(),
            direction: Direction::Response,
        }
    }
}

impl<B: Body<Data = Bytes>> Body for Paced<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        if *this.direction == Direction::Response {
            *this.waiting = None;
        }
        let polled = this.inner.poll_frame(cx);
        match (&polled, *this.direction) {
            (Poll::Pending, Direction::Request) => {
                if this.waiting.is_none() {
                    *this.waiting = this.pace.wait();
                }
            }
            (Poll::Pending, Direction::Response) => {}
            (Poll::Ready(frame), direction) => {
                *this.waiting = None;
                let length = match frame {
                    Some(Ok(frame)) => frame.data_ref().map_or(0, Bytes::len),
                    _ => return polled,
                };
                match direction {
                    Direction::Request => this.pace.count(|s| &s.received, length),
                    Direction::Response => {
                        this.pace.count(|s| &s.taken, length);
                        *this.waiting = this.pace.wait();
                    }
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[path = "pace_tests.rs"]
mod tests;
