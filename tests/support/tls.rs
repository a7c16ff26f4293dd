//! A TLS client for the tests: trusts one certificate (made for the test),
//! offers the ALPN protocols given, and names the server `localhost`.

use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Connects to `addr` over TLS, trusting `certificate` alone and offering `alpn`.
pub async fn connect(
    addr: SocketAddr,
    certificate: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(Arc::new(client_config(certificate, alpn)))
        .connect(localhost(), tcp)
        .await
        .unwrap()
}

/// Whether the TLS server on `addr` shows `certificate`: a handshake with
/// it, blocking, for at most a few seconds.
pub fn shows(addr: SocketAddr, certificate: &CertificateDer<'static>) -> bool {
    let Ok(mut tcp) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(5));
    tcp.set_read_timeout(timeout).unwrap();
    tcp.set_write_timeout(timeout).unwrap();
    let config = Arc::new(client_config(certificate, &[]));
    let mut tls = rustls::ClientConnection::new(config, localhost()).unwrap();
    while tls.is_handshaking() {
        if tls.complete_io(&mut tcp).is_err() {
            return false;
        }
    }
    true
}

/// A client that trusts `certificate` alone and offers `alpn`.
fn client_config(certificate: &CertificateDer<'static>, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certificate.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}
