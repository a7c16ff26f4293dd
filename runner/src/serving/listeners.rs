//! Where the site is served: TCP addresses (IPv4 or IPv6) and Unix socket
//! paths (`--listen`, repeatable), or the sockets systemd hands over (socket
//! activation: `LISTEN_FDS`). Bound at start, so a taken address fails it.

use anyhow::{Context, Result, bail};
use socket2::{Domain, SockAddr, Socket, Type};
use std::net::SocketAddr;
use std::path::PathBuf;

/// One `--listen`: an address, or a Unix socket's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenOn {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::str::FromStr for ListenOn {
    type Err = String;

    /// `127.0.0.1:8080`, `[::]:8080`, or a path (`/run/sitebox.sock`,
    /// `./s.sock`, `unix:s.sock`).
    fn from_str(text: &str) -> Result<ListenOn, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            return Ok(ListenOn::Unix(path.into()));
        }
        if text.contains('/') {
            return Ok(ListenOn::Unix(text.into()));
        }
        text.parse().map(ListenOn::Tcp).map_err(|_| {
            format!("{text:?}: expected IP:PORT ([::]:8080 for IPv6) or a Unix socket's path")
        })
    }
}

impl std::fmt::Display for ListenOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenOn::Tcp(addr) => write!(f, "{addr}"),
            ListenOn::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A bound listener, not yet on the async runtime.
#[derive(Debug)]
pub enum Listener {
    Tcp(std::net::TcpListener),
    Unix {
        listener: std::os::unix::net::UnixListener,
        /// `None` when systemd made it (and owns the file).
        file: Option<SocketFile>,
    },
}

/// The file of a Unix socket this process made, removed when dropped.
#[derive(Debug)]
pub struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Listener {
    /// Binds `on`. A Unix socket left behind by a process that is gone is
    /// replaced; one that still answers is "in use".
    pub fn bind(on: &ListenOn) -> Result<Listener> {
        let listener = match on {
            ListenOn::Tcp(addr) => {
                let listener =
                    bind_tcp(*addr).with_context(|| format!("cannot listen on {addr}"))?;
                Listener::Tcp(listener)
            }
            ListenOn::Unix(path) => {
                if std::os::unix::net::UnixStream::connect(path).is_ok() {
                    bail!("cannot listen on {on}: address in use");
                }
                if std::fs::symlink_metadata(path).is_ok_and(|meta| is_socket(&meta)) {
                    std::fs::remove_file(path)
                        .with_context(|| format!("cannot replace the stale socket {on}"))?;
                }
                let listener = SockAddr::unix(path)
                    .and_then(|path| listen(Domain::UNIX, &path))
                    .with_context(|| format!("cannot listen on {on}"))?;
                let listener = listener.into();
                Listener::Unix {
                    listener,
                    file: Some(SocketFile(path.clone())),
                }
            }
        };
        listener.set_nonblocking()?;
        Ok(listener)
    }

    /// The sockets systemd passed (`LISTEN_FDS`, for this process by
    /// `LISTEN_PID`), in order; `None` when there are none.
    pub fn from_systemd() -> Result<Option<Vec<Listener>>> {
        let mut passed = listenfd::ListenFd::from_env();
        if passed.len() == 0 {
            return Ok(None);
        }
        let mut listeners = Vec::new();
        for index in 0..passed.len() {
            let listener = match passed.take_tcp_listener(index) {
                Ok(Some(tcp)) => Listener::Tcp(tcp),
                _ => match passed.take_unix_listener(index) {
                    Ok(Some(listener)) => Listener::Unix {
                        listener,
                        file: None,
                    },
                    _ => bail!(
                        "socket {index} from systemd (fd {}) is neither a TCP nor a Unix stream listener",
                        index + 3
                    ),
                },
            };
            listener.set_nonblocking()?;
            listeners.push(listener);
        }
        Ok(Some(listeners))
    }

    fn set_nonblocking(&self) -> Result<()> {
        match self {
            Listener::Tcp(listener) => listener.set_nonblocking(true),
            Listener::Unix { listener, .. } => listener.set_nonblocking(true),
        }
        .context("cannot make a listener non-blocking")
    }

    /// How the start-up log names it.
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(listener) => match listener.local_addr() {
                Ok(addr) => addr.to_string(),
                Err(_) => "a TCP socket".to_owned(),
            },
            Listener::Unix { listener, .. } => match listener.local_addr() {
                Ok(addr) => match addr.as_pathname() {
                    Some(path) => format!("unix:{}", path.display()),
                    None => "an unnamed Unix socket".to_owned(),
                },
                Err(_) => "a Unix socket".to_owned(),
            },
        }
    }

    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix { .. } => None,
        }
    }
}

fn is_socket(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_socket()
}

/// Connections the kernel may hold for the server to accept: std's 128
/// overflows when a couple of hundred clients connect at once, and a client
/// whose SYN is dropped waits a second to send it again (`listen(2)` caps it
/// at `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// A TCP listener on `addr`, with room for a burst of connections.
pub(crate) fn bind_tcp(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    listen(Domain::for_address(addr), &addr.into()).map(Into::into)
}

/// A stream socket of `domain` bound to `addr` and listening, as std's
/// `bind` makes one (`SO_REUSEADDR` for TCP, close-on-exec) but with room
/// for a burst of connections.
fn listen(domain: Domain, addr: &SockAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(domain, Type::STREAM, None)?;
    if domain != Domain::UNIX {
        socket.set_reuse_address(true)?;
    }
    socket.bind(addr)?;
    socket.listen(BACKLOG)?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_paths() {
        let on = |text: &str| text.parse::<ListenOn>();
        assert_eq!(
            on("127.0.0.1:80"),
            Ok(ListenOn::Tcp("127.0.0.1:80".parse().unwrap()))
        );
        assert_eq!(
            on("[::]:8080"),
            Ok(ListenOn::Tcp("[::]:8080".parse().unwrap()))
        );
        assert_eq!(on("/run/s.sock"), Ok(ListenOn::Unix("/run/s.sock".into())));
        assert_eq!(on("unix:s.sock"), Ok(ListenOn::Unix("s.sock".into())));
        for bad in ["localhost:80", "8080", "::1:80", ""] {
            assert!(on(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_stale_unix_socket_is_replaced_and_a_live_one_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let on = ListenOn::Unix(dir.path().join("s.sock"));
        let first = Listener::bind(&on).unwrap();
        let error = Listener::bind(&on).unwrap_err();
        assert!(format!("{error:#}").contains("in use"), "{error:#}");
        // Gone without removing its file (as after a crash).
        let Listener::Unix { listener, file } = first else {
            panic!()
        };
        std::mem::forget(file);
        drop(listener);
        assert!(dir.path().join("s.sock").exists());
        let again = Listener::bind(&on).unwrap();
        assert_eq!(
            again.describe(),
            format!("unix:{}", dir.path().join("s.sock").display())
        );
        drop(again);
        assert!(!dir.path().join("s.sock").exists(), "removed at the end");
        // A file that is not a socket is never removed.
        std::fs::write(dir.path().join("s.sock"), "data").unwrap();
        assert!(Listener::bind(&on).is_err());
        assert_eq!(std::fs::read(dir.path().join("s.sock")).unwrap(), b"data");
    }

    #[test]
    fn a_burst_of_connections_waits_to_be_accepted() {
        use std::time::Duration;
        let on = ListenOn::Tcp("127.0.0.1:0".parse().unwrap());
        let Listener::Tcp(listener) = Listener::bind(&on).unwrap() else {
            panic!()
        };
        let addr = listener.local_addr().unwrap();
        // None is accepted: all wait in the backlog, none is dropped.
        let waiting: Vec<_> = (0..300)
            .map(|i| {
                std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                    .unwrap_or_else(|error| panic!("connection {i}: {error}"))
            })
            .collect();
        assert_eq!(waiting.len(), 300);
    }
}
