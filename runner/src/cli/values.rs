//! How the flags' values are read: networks, probe paths, durations and
//! the board's store.

use std::net::IpAddr;
use std::time::Duration;

/// `--trusted-proxies`: a network, or one address.
pub fn network(text: &str) -> Result<ipnet::IpNet, String> {
    match (text.parse::<ipnet::IpNet>(), text.parse::<IpAddr>()) {
        (Ok(net), _) => Ok(net.trunc()),
        (_, Ok(ip)) => Ok(ip.into()),
        _ => Err("expected an address or a network such as 10.0.0.0/8".to_owned()),
    }
}

/// A health path: absolute, without a query; "" for none.
pub fn probe_path(text: &str) -> Result<String, String> {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#');
    if text.is_empty() || (text.starts_with('/') && plain) {
        Ok(text.to_owned())
    } else {
        Err("expected a path such as /healthz (or \"\" for none)".to_owned())
    }
}

pub fn duration(text: &str) -> Result<Duration, humantime::DurationError> {
    humantime::parse_duration(text)
}

/// `--store`: files, or a Redis URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Files,
    Redis(String),
}

// By hand, so a password in the URL is never printed.
impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Files => f.write_str("Files"),
            StoreLocation::Redis(url) => write!(f, "Redis({})", crate::redact_url(url)),
        }
    }
}

pub fn store_location(text: &str) -> Result<StoreLocation, String> {
    if text == "files" {
        return Ok(StoreLocation::Files);
    }
    match url::Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "redis" | "rediss") && url.has_host() => {
            Ok(StoreLocation::Redis(text.to_owned()))
        }
        _ => Err("expected `files`, or a redis:// or rediss:// URL with a host".to_owned()),
    }
}
