//! A renewed certificate is served after SIGHUP, without a restart; a
//! broken renewal keeps the certificate in use.

mod common;

use common::{Running, sitebox};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

/// A self-signed certificate for localhost, written over `dir`'s pair.
fn issue(dir: &Path) -> CertificateDer<'static> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
    certified.cert.der().clone()
}

/// The certificate the server at `addr` presents, trusting any of `known`,
/// after a GET over it.
fn presented(addr: &str, known: &[CertificateDer<'static>]) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in known {
        roots.add(cert.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, TcpStream::connect(addr).unwrap());
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = tls.read_to_end(&mut reply);
    assert!(reply.starts_with(b"HTTP/1.1 "), "{reply:?}");
    tls.conn.peer_certificates().unwrap()[0].clone()
}

/// Waits for the log line that says how the certificate's reload went.
fn reload_line(server: &mut Running) -> String {
    loop {
        let line = server.next_log_line();
        assert!(!line.is_empty(), "the server's log ended");
        if line.contains("SIGHUP: TLS") {
            return line;
        }
    }
}

#[test]
fn sighup_serves_the_renewed_certificate_and_a_broken_one_is_not_taken() {
    let site = tempfile::tempdir().unwrap();
    let tls = tempfile::tempdir().unwrap();
    let first = issue(tls.path());
    let mut command = sitebox();
    command
        .args(["--port", "0", "--static"])
        .arg(site.path())
        .arg("--tls-cert")
        .arg(tls.path().join("cert.pem"))
        .arg("--tls-key")
        .arg(tls.path().join("key.pem"));
    let mut server = Running::start(command);
    let renewed = issue(tls.path());
    let known = [first.clone(), renewed.clone()];
    assert_eq!(presented(&server.addr, &known), first, "until SIGHUP");

    server.signal(libc::SIGHUP);
    assert!(reload_line(&mut server).contains("TLS certificate reloaded"));
    assert_eq!(presented(&server.addr, &known), renewed);

    // A renewal caught halfway: a key that is not the certificate's.
    let other = tempfile::tempdir().unwrap();
    issue(other.path());
    std::fs::copy(other.path().join("key.pem"), tls.path().join("key.pem")).unwrap();
    server.signal(libc::SIGHUP);
    let line = reload_line(&mut server);
    assert!(
        line.contains("not reloaded, keeping the one in use"),
        "{line}"
    );
    assert_eq!(presented(&server.addr, &known), renewed);
}
