//! Real reverse proxies in front of a runner, as operators deploy them:
//! Debian's nginx and HAProxy, each terminating TLS (a certificate made for
//! the test) on a free loopback port and passing requests on over plain
//! HTTP, in a temporary directory, stopped when dropped. They connect to the
//! runner from `PROXY_ADDR`, so a runner can trust the proxy alone while
//! clients connecting to it directly (from 127.0.0.1) stay untrusted.

use super::client::Reply;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The address the proxies connect to the runner from (any 127/8 address
/// is this host's on Linux).
pub const PROXY_ADDR: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

pub const INSTALL: &str = "sudo apt-get install nginx-light haproxy";

/// Which proxy, and which forwarding header it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// nginx as its documentation sets it up: `X-Forwarded-For`
    /// (`$proxy_add_x_forwarded_for` appends), `X-Forwarded-Proto`, the
    /// client's `Host`. A client's own `Forwarded` passes through untouched.
    Nginx,
    /// nginx appending an RFC 7239 `Forwarded` element instead (its
    /// documentation's `map`), with `for`, `proto` and `host`.
    NginxForwarded,
    /// HAProxy with `option forwardfor` (a new `X-Forwarded-For` line) and
    /// `X-Forwarded-Proto` set; `Host` passes through.
    Haproxy,
}

/// A proxy serving HTTPS on `addr` in front of a runner.
pub struct Proxy {
    pub addr: SocketAddr,
    pub kind: Kind,
    certificate: CertificateDer<'static>,
    child: Child,
    _dir: TempDir,
}

impl Proxy {
    /// Starts `kind` in front of `upstream`; `None` (with a notice, a
    /// failure under CI) when it is not installed.
    pub fn start(kind: Kind, upstream: SocketAddr) -> Option<Proxy> {
        let program = match kind {
            Kind::Nginx | Kind::NginxForwarded => "nginx",
            Kind::Haproxy => "haproxy",
        };
        if Command::new(program).arg("-v").output().is_err() {
            super::skipped(&format!("the tests behind {program}"), INSTALL);
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (certified.cert.pem(), certified.signing_key.serialize_pem());
        std::fs::write(dir.path().join("cert.pem"), &cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), &key).unwrap();
        // HAProxy takes the chain and the key in one file.
        std::fs::write(dir.path().join("both.pem"), format!("{cert}{key}")).unwrap();
        // Another process may take the free port first: try a few.
        for _ in 0..5 {
            let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), super::redis::free_port());
            let mut command = match kind {
                Kind::Nginx | Kind::NginxForwarded => nginx(dir.path(), kind, addr, upstream),
                Kind::Haproxy => haproxy(dir.path(), addr, upstream),
            };
            super::die_with_the_test(&mut command);
            let mut child = command.spawn().unwrap();
            // The port may be another test's proxy's (free ports are
            // handed out again): ours is the one with our certificate.
            if listening(addr, &mut child) && super::tls::shows(addr, certified.cert.der()) {
                return Some(Proxy {
                    addr,
                    kind,
                    certificate: certified.cert.der().clone(),
                    child,
                    _dir: dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "{program} did not start (its log: {})",
            dir.path().display()
        );
    }

    /// One request over HTTPS through the proxy, as a browser at
    /// `https://localhost:PORT` sends it (`Host` is that).
    pub async fn request(
        &self,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let stream = super::tls::connect(self.addr, &self.certificate, &[b"http/1.1"]).await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut builder = Request::builder()
            .method(method)
            .uri(target)
            .header("host", self.origin_host());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(body.into())).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }

    /// `localhost:PORT`, the host a browser names.
    pub fn origin_host(&self) -> String {
        format!("localhost:{}", self.addr.port())
    }

    /// The site's origin, as a browser's `Origin` header says it.
    pub fn origin(&self) -> String {
        format!("https://{}", self.origin_host())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the proxy accepts connections on `addr`; false if it exits
/// or 10 s pass.
fn listening(addr: SocketAddr, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return true;
        }
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn nginx(dir: &Path, kind: Kind, addr: SocketAddr, upstream: SocketAddr) -> Command {
    let d = dir.display();
    // As root, nginx's workers would become `nobody`, who cannot read the
    // temporary directory.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root root;"
    } else {
        ""
    };
    let forwarding = match kind {
        Kind::NginxForwarded => r#"proxy_set_header Forwarded $proxy_add_forwarded;"#,
        _ => {
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;"
        }
    };
    let config = format!(
        r#"{user}
daemon off;
# One process, so killing it stops it all.
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    # nginx's documentation's way of appending to Forwarded.
    map $http_forwarded $proxy_add_forwarded {{
        "" "for=\"$remote_addr:$remote_port\";proto=$scheme;host=\"$http_host\"";
        default "$http_forwarded, for=\"$remote_addr:$remote_port\";proto=$scheme;host=\"$http_host\"";
    }}
    server {{
        listen {addr} ssl;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        location / {{
            proxy_pass http://{upstream};
            proxy_bind {PROXY_ADDR};
            proxy_set_header Host $http_host;
            {forwarding}
        }}
    }}
}}
"#
    );
    std::fs::write(dir.join("nginx.conf"), config).unwrap();
    let mut command = Command::new("nginx");
    command
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn haproxy(dir: &Path, addr: SocketAddr, upstream: SocketAddr) -> Command {
    let d = dir.display();
    let config = format!(
        r#"global
    maxconn 512
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend site
    bind {addr} ssl crt {d}/both.pem
    option forwardfor
    http-request set-header X-Forwarded-Proto https
    default_backend runner
backend runner
    source {PROXY_ADDR}
    server runner {upstream}
"#
    );
    std::fs::write(dir.join("haproxy.cfg"), config).unwrap();
    let mut command = Command::new("haproxy");
    command
        .arg("-db")
        .arg("-f")
        .arg(dir.join("haproxy.cfg"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}
