//! The host side of `wasi:keyvalue` (store, atomics, batch; versions
//! 0.2.0-draft and Spin's 0.2.0-draft2, the same calls behind each) on
//! Redis, for the board of a fleet of runners: every runner pointed at one
//! Redis shares one board. The component may open only the configured
//! bucket; its keys live in Redis as `BUCKET:KEY`, with `%` and `:` in the
//! bucket's name percent-encoded so no bucket sees another's keys. Every
//! call has a timeout and runs on the async runtime, so a slow or absent
//! Redis only fails the board's requests (the component answers them 503)
//! and never holds up other work; `link` keeps the connection usable.

use anyhow::{Context as _, Result};
use prometheus_client::metrics::counter::Counter;
use redis::IntoConnectionInfo as _;
use redis::io::tcp::{TcpSettings, socket2::TcpKeepalive};
use std::sync::Arc;
use std::time::Duration;

mod calls;
mod draft;
mod draft2;
mod link;
mod same_calls;

pub use calls::{KvView, add_to_linker};
use link::Link;

/// The longest key the component may use, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// The largest value the component may store, in bytes (a board message is
/// at most ~24 KiB of JSON).
pub const MAX_VALUE_BYTES: usize = 1 << 20;
/// The most keys one batch call may name.
pub const MAX_BATCH_KEYS: usize = 1000;

/// Idle time before the kernel probes a quiet connection, the time between
/// probes, and how many unanswered probes end it: a peer gone without a
/// word (a partition, a failed-over host) is noticed in ~25 s even when no
/// call is waiting.
const KEEPALIVE: (Duration, Duration, u32) = (Duration::from_secs(10), Duration::from_secs(5), 3);
/// How long sent bytes may stay unacknowledged before the kernel gives the
/// connection up (`TCP_USER_TIMEOUT`; by default that is ~15 minutes).
const USER_TIMEOUT: Duration = Duration::from_secs(10);

/// An open bucket (only the configured one can be opened).
pub struct Bucket;

/// A failed call, as the guest sees it.
pub enum KvError {
    NoSuchStore,
    Other(String),
}

impl From<wasmtime::component::ResourceTableError> for KvError {
    fn from(error: wasmtime::component::ResourceTableError) -> Self {
        KvError::Other(error.to_string())
    }
}

/// What the runner's key-value host serves: a bucket on Redis, or nothing
/// (the board is on files, and every `open` is `no-such-store`).
pub struct KeyValue {
    redis: Option<Redis>,
}

struct Redis {
    link: Arc<Link>,
    /// Prefix of every Redis key: the bucket's escaped name and a colon.
    prefix: String,
    bucket: String,
    timeout: Duration,
    /// Calls that failed or timed out (the metrics' board store errors).
    errors: Counter,
}

impl KeyValue {
    pub fn none() -> Arc<KeyValue> {
        Arc::new(KeyValue { redis: None })
    }

    /// The bucket `bucket` on the Redis at `url`, counting failed calls in
    /// `errors`. Connects lazily: a Redis that is down at start only makes
    /// board requests fail until it is up.
    pub fn redis(
        url: &str,
        bucket: &str,
        timeout: Duration,
        errors: Counter,
    ) -> Result<Arc<KeyValue>> {
        let (idle, interval, probes) = KEEPALIVE;
        let tcp = TcpSettings::default()
            .set_nodelay(true)
            .set_keepalive(
                TcpKeepalive::new()
                    .with_time(idle)
                    .with_interval(interval)
                    .with_retries(probes),
            )
            .set_user_timeout(USER_TIMEOUT);
        let info = url
            .into_connection_info()
            .with_context(|| format!("bad Redis URL {}", redact(url)))?
            .set_tcp_settings(tcp);
        let client =
            redis::Client::open(info).with_context(|| format!("bad Redis URL {}", redact(url)))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        Ok(Arc::new(KeyValue {
            redis: Some(Redis {
                link: Arc::new(Link::new(client, config, timeout)),
                prefix: format!("{}:", escape_bucket(bucket)),
                bucket: bucket.to_owned(),
                timeout,
                errors,
            }),
        }))
    }

    /// Whether Redis answers a PING, for the start-up log and readiness.
    pub async fn ping(&self) -> Result<(), String> {
        match &self.redis {
            Some(redis) => redis
                .query(&mut redis::cmd("PING"))
                .await
                .map(|_: String| ()),
            None => Ok(()),
        }
        .map_err(|error| match error {
            KvError::NoSuchStore => "no such store".to_owned(),
            KvError::Other(detail) => detail,
        })
    }
}

impl Redis {
    /// `command` on the shared connection, all within the timeout; a
    /// failure that breaks the connection has it replaced.
    async fn query<T: redis::FromRedisValue>(
        &self,
        command: &mut redis::Cmd,
    ) -> Result<T, KvError> {
        let result = self.try_query(command).await;
        if let Err(error) = &result {
            self.errors.inc();
            tracing::debug!("{error}");
        }
        result.map_err(KvError::Other)
    }

    async fn try_query<T: redis::FromRedisValue>(
        &self,
        command: &mut redis::Cmd,
    ) -> Result<T, String> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let no_answer = || format!("redis: no answer in {:?}", self.timeout);
        // Waiting for a connection attempt under way (itself bounded).
        let (mut connection, number) = tokio::time::timeout_at(deadline, self.link.connection())
            .await
            .map_err(|_| no_answer())??;
        let call = tokio::time::timeout_at(deadline, command.query_async(&mut connection));
        let (broken, error) = match call.await {
            Ok(Ok(value)) => {
                self.link.worked();
                return Ok(value);
            }
            Ok(Err(error)) => (link::breaks_connection(&error), format!("redis: {error}")),
            Err(_) => (true, no_answer()),
        };
        self.link.failed(number, broken, &error);
        Err(error)
    }

    fn key(&self, key: &str) -> Result<String, KvError> {
        if key.len() > MAX_KEY_BYTES {
            return Err(KvError::Other(format!(
                "a key may have at most {MAX_KEY_BYTES} bytes"
            )));
        }
        Ok(format!("{}{key}", self.prefix))
    }

    fn keys(&self, keys: &[String]) -> Result<Vec<String>, KvError> {
        if keys.len() > MAX_BATCH_KEYS {
            return Err(KvError::Other(format!(
                "a batch may name at most {MAX_BATCH_KEYS} keys"
            )));
        }
        keys.iter().map(|key| self.key(key)).collect()
    }
}

fn check_value(value: &[u8]) -> Result<(), KvError> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(KvError::Other(format!(
            "a value may have at most {MAX_VALUE_BYTES} bytes"
        )));
    }
    Ok(())
}

/// `bucket` as its keys' prefix: `%` and `:` percent-encoded, so a prefix
/// never holds another bucket's (`a:` never sees bucket `a:b`'s keys) and
/// a bucket without either keeps the prefix it always had (its keys stay
/// where they are). Only these two: the prefix ends at the first `:`.
fn escape_bucket(bucket: &str) -> String {
    bucket.replace('%', "%25").replace(':', "%3A")
}

/// A Redis URL for logs: the password, if any, replaced.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

/// `text` matched literally in a Redis glob pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
#[path = "../../../../tests/support/redis.rs"]
mod redis_server;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod draft2_tests;
