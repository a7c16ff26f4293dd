//! A fault-injecting TCP proxy for the tests (what toxiproxy does, in a few
//! lines of tokio): it forwards a loopback port to an upstream (a Redis) and,
//! on the test's word, stalls the connections it holds (a failover or a
//! partition leaving half-open sockets), black-holes new ones too, delays the
//! upstream's replies (a write that lands but is answered late; also from a
//! chosen request on, to hit one write of several), cuts every
//! connection, or points new connections at another upstream. Shared by
//! `tests/` and `runner/tests/` (by `#[path]`), so it owns its runtime.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the bytes it carries now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Faults {
    /// Connections accepted up to this one (by number) forward nothing
    /// more, ever: their sockets stay open and silent.
    stalled_through: u64,
    /// Every connection, new ones included, forwards nothing while set.
    blackhole: bool,
    /// The upstream's bytes reach the client this much later.
    reply_delay: Duration,
    /// Connections accepted up to this one are closed.
    cut_through: u64,
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    /// Connections accepted so far.
    accepted: Mutex<u64>,
    faults: watch::Sender<Faults>,
    /// Replies are delayed this long from the first request carrying these
    /// bytes on.
    delay_from: Mutex<Option<(Vec<u8>, Duration)>>,
}

/// The proxy, stopped (every connection closed) when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_name("fault-proxy")
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            accepted: Mutex::new(0),
            faults: watch::channel(Faults {
                stalled_through: 0,
                blackhole: false,
                reply_delay: Duration::ZERO,
                cut_through: 0,
            })
            .0,
            delay_from: Mutex::new(None),
        });
        runtime.spawn(accept(listener, shared.clone()));
        FaultProxy {
            addr,
            shared,
            _runtime: runtime,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://` URL of the proxy, database `db`.
    pub fn redis_url(&self, db: u8) -> String {
        format!("redis://{}/{db}", self.addr)
    }

    /// Every connection open now goes silent for good (both ways), its
    /// socket left open: what a client sees of a server that failed over or
    /// of a partition, until its own timeouts. New connections work.
    pub fn stall_existing(&self) {
        let through = self.accepted();
        self.shared
            .faults
            .send_modify(|faults| faults.stalled_through = through);
    }

    /// While on, every connection, new ones too, is accepted and then
    /// forwards nothing (a network that drops every packet).
    pub fn blackhole(&self, on: bool) {
        self.shared
            .faults
            .send_modify(|faults| faults.blackhole = on);
    }

    /// The upstream's replies reach the client `delay` later (the requests
    /// go through at once, so a write lands and is acknowledged late).
    pub fn delay_replies(&self, delay: Duration) {
        self.shared
            .faults
            .send_modify(|faults| faults.reply_delay = delay);
    }

    /// From the first request that carries `pattern` (in one read) on, the
    /// upstream's replies reach the client `delay` later, as with
    /// `delay_replies`: that request lands, its answer is late (for Redis,
    /// say, a `SET` of one key among the calls of a request).
    pub fn delay_replies_from(&self, pattern: &[u8], delay: Duration) {
        *self.shared.delay_from.lock().unwrap() = Some((pattern.to_vec(), delay));
    }

    /// Closes every connection open now.
    pub fn cut_existing(&self) {
        let through = self.accepted();
        self.shared
            .faults
            .send_modify(|faults| faults.cut_through = through);
    }

    /// New connections go to `upstream` (a failover's new primary).
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *self.shared.upstream.lock().unwrap() = upstream;
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        *self.shared.accepted.lock().unwrap()
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let number = {
            let mut accepted = shared.accepted.lock().unwrap();
            *accepted += 1;
            *accepted
        };
        let upstream = *shared.upstream.lock().unwrap();
        let faults = shared.faults.subscribe();
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let requests = pump(
                client_read,
                server_write,
                number,
                faults.clone(),
                Some(&shared),
            );
            let replies = pump(server_read, client_write, number, faults, None);
            // Either side closing ends the connection.
            tokio::select! {
                () = requests => {}
                () = replies => {}
            }
        });
    }
}

/// Copies `from` to `to` under the faults for connection `number`: the
/// client's requests (with `shared`, to watch them for `delay_from`) or the
/// upstream's replies.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    number: u64,
    mut faults: watch::Receiver<Faults>,
    requests: Option<&Shared>,
) {
    let replies = requests.is_none();
    let mut buffer = vec![0; 64 << 10];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = faults.changed() => {
                if faults.borrow().cut_through >= number {
                    return;
                }
                continue;
            }
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some(shared) = requests {
            let mut delay_from = shared.delay_from.lock().unwrap();
            let seen = delay_from.as_ref().is_some_and(|(pattern, _)| {
                buffer[..n].windows(pattern.len()).any(|w| w == pattern)
            });
            if seen && let Some((_, delay)) = delay_from.take() {
                shared
                    .faults
                    .send_modify(|faults| faults.reply_delay = delay);
            }
        }
        let now = *faults.borrow();
        if now.cut_through >= number {
            return;
        }
        if replies && !now.reply_delay.is_zero() {
            tokio::time::sleep(now.reply_delay).await;
        }
        // Silent: hold the bytes (and the socket) until the fault ends, or
        // for good when this connection is stalled.
        loop {
            let now = *faults.borrow_and_update();
            if now.cut_through >= number {
                return;
            }
            if now.stalled_through < number && !now.blackhole {
                break;
            }
            if faults.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An upstream that echoes what it reads.
    fn echo_server() -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                std::thread::spawn(move || {
                    let mut buffer = [0; 1024];
                    while let Ok(n @ 1..) = stream.read(&mut buffer) {
                        if stream.write_all(&buffer[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(proxy: &FaultProxy) -> std::net::TcpStream {
        let stream = std::net::TcpStream::connect(proxy.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        stream
    }

    fn echoes(stream: &mut std::net::TcpStream) -> bool {
        stream.write_all(b"ping").unwrap();
        let mut reply = [0; 4];
        stream.read_exact(&mut reply).is_ok() && &reply == b"ping"
    }

    #[test]
    fn stalled_connections_stay_silent_and_new_ones_work() {
        let proxy = FaultProxy::start(echo_server());
        let mut old = connect(&proxy);
        assert!(echoes(&mut old));
        proxy.stall_existing();
        assert!(!echoes(&mut old));
        let mut new = connect(&proxy);
        assert!(echoes(&mut new));
    }

    #[test]
    fn a_blackhole_silences_everything_until_lifted() {
        let proxy = FaultProxy::start(echo_server());
        proxy.blackhole(true);
        let mut stream = connect(&proxy);
        assert!(!echoes(&mut stream));
        proxy.blackhole(false);
        // The held bytes go through once the fault ends.
        let mut reply = [0; 4];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"ping");
    }

    #[test]
    fn replies_can_be_delayed_and_connections_cut() {
        let proxy = FaultProxy::start(echo_server());
        proxy.delay_replies(Duration::from_millis(800));
        let mut stream = connect(&proxy);
        assert!(!echoes(&mut stream));
        std::thread::sleep(Duration::from_millis(500));
        let mut reply = [0; 4];
        stream.read_exact(&mut reply).unwrap();
        proxy.delay_replies(Duration::ZERO);
        // From a chosen request on.
        proxy.delay_replies_from(b"late", Duration::from_millis(800));
        assert!(echoes(&mut stream));
        stream.write_all(b"late").unwrap();
        let mut late = [0; 4];
        assert!(stream.read_exact(&mut late).is_err(), "not yet");
        std::thread::sleep(Duration::from_millis(500));
        stream.read_exact(&mut late).unwrap();
        assert_eq!(&late, b"late");
        proxy.delay_replies(Duration::ZERO);
        proxy.cut_existing();
        let mut closed = [0; 1];
        assert!(matches!(stream.read(&mut closed), Ok(0) | Err(_)));
        assert!(echoes(&mut connect(&proxy)));
    }
}
