//! The board on `rediss://`: the runner speaks TLS to Redis and checks its
//! certificate against the system's roots (here `SSL_CERT_FILE`, a CA made
//! for the test with rcgen); a Redis whose certificate it does not trust is
//! a 503 for the board, never a connection without TLS.

mod common;
#[path = "../../tests/support/redis.rs"]
mod redis;

use common::{Running, exchange, sitebox};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// Redis on a TLS port only, with a certificate for 127.0.0.1 signed by a
/// CA written to `dir/ca.pem`; killed when dropped.
struct TlsRedis {
    port: u16,
    child: Child,
}

impl TlsRedis {
    fn start(dir: &Path) -> TlsRedis {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("redis.pem"), server.pem()).unwrap();
        std::fs::write(dir.join("redis.key"), key.serialize_pem()).unwrap();
        let port = redis::free_port();
        // `--port 0` after the plain port: TLS only.
        let mut command = redis::command(dir, port);
        command
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(dir.join("redis.pem"))
            .arg("--tls-key-file")
            .arg(dir.join("redis.key"))
            .arg("--tls-ca-cert-file")
            .arg(dir.join("ca.pem"))
            .args(["--tls-auth-clients", "no"]);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork
        // and exec.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        TlsRedis {
            port,
            child: command.spawn().expect("redis-server starts"),
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runner(static_dir: &Path, port: u16, roots: Option<&Path>) -> Running {
    let mut command = sitebox();
    command
        .args(["--port", "0", "--quiet", "--static"])
        .arg(static_dir)
        .args(["--store", &format!("rediss://127.0.0.1:{port}/0")])
        .args(["--store-timeout", "500ms"])
        .env_remove("SSL_CERT_DIR");
    match roots {
        Some(file) => command.env("SSL_CERT_FILE", file),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    let mut runner = Running::start(command);
    runner.drain_log();
    runner
}

#[test]
fn the_board_on_rediss_checks_the_certificate() {
    if !redis::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let static_dir = common::static_site(dir.path());
    let redis = TlsRedis::start(dir.path());

    let trusting = runner(&static_dir, redis.port, Some(&dir.path().join("ca.pem")));
    let deadline = Instant::now() + Duration::from_secs(10);
    while exchange(&trusting.addr, "GET", "/api/messages", "").map(|r| r.0) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "the board on rediss:// never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = r#"{"text":"over TLS"}"#;
    let (status, _) = exchange(&trusting.addr, "POST", "/api/messages", body).unwrap();
    assert_eq!(status, 201);
    let (_, listed) = exchange(&trusting.addr, "GET", "/api/messages", "").unwrap();
    assert!(listed.contains("over TLS"), "{listed}");

    // The system's own roots do not include the test's CA.
    let doubting = runner(&static_dir, redis.port, None);
    for _ in 0..3 {
        let (status, _) = exchange(&doubting.addr, "GET", "/api/messages", "").unwrap();
        assert_eq!(status, 503, "an untrusted Redis certificate was accepted");
    }
    let (status, _) = exchange(&doubting.addr, "GET", "/", "").unwrap();
    assert_eq!(status, 200);
}
