//! The per-client limit on requests that change something (`--write-rate`):
//! every method but GET, HEAD, OPTIONS and TRACE. A token bucket per client
//! address (governor's GCRA); an IPv6 client is its /64, since one host
//! commonly holds a whole /64.

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::Method;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// `COUNT/UNIT`, with the bucket's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRate {
    pub count: NonZeroU32,
    pub per: Duration,
    /// How many may come at once (the default: `count`).
    pub burst: NonZeroU32,
}

impl std::str::FromStr for WriteRate {
    type Err = String;

    /// `10/min`, `1/s`, `500/hour`, `3/10s`.
    fn from_str(text: &str) -> Result<WriteRate, String> {
        let wrong = || format!("{text:?}: expected COUNT/PERIOD, e.g. 10/min, 1/s, 100/hour");
        let (count, per) = text.split_once('/').ok_or_else(wrong)?;
        let count: NonZeroU32 = count.trim().parse().map_err(|_| wrong())?;
        let per = match per.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            other => humantime::parse_duration(other).map_err(|_| wrong())?,
        };
        if per.is_zero() {
            return Err(wrong());
        }
        Ok(WriteRate {
            count,
            per,
            burst: count,
        })
    }
}

impl std::fmt::Display for WriteRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per = humantime::format_duration(self.per);
        write!(f, "{}/{per} (burst {})", self.count, self.burst)
    }
}

pub struct WriteLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl WriteLimit {
    pub fn new(rate: WriteRate) -> WriteLimit {
        let interval = rate.per / rate.count.get();
        let quota = Quota::with_period(interval.max(Duration::from_nanos(1)))
            .expect("a period above zero")
            .allow_burst(rate.burst);
        WriteLimit {
            limiter: RateLimiter::dashmap(quota),
        }
    }

    /// `Err(wait)` when `client` may not make this request before `wait`.
    pub fn check(&self, method: &Method, client: IpAddr) -> Result<(), Duration> {
        if matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return Ok(());
        }
        self.limiter
            .check_key(&key(client))
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Forgets the clients whose buckets are full again, so the map holds
    /// only recent writers.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The bucket a client's requests go to (the login back-off's too, and its
/// key in `client_slots`).
pub(crate) fn key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(ip) => {
            let prefix = u128::from(ip) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn rates_are_written_count_per_period() {
        let rate: WriteRate = "10/min".parse().unwrap();
        assert_eq!(rate.count.get(), 10);
        assert_eq!(rate.per, Duration::from_secs(60));
        assert_eq!(rate.burst.get(), 10);
        assert_eq!(
            "3/10s".parse::<WriteRate>().unwrap().per,
            Duration::from_secs(10)
        );
        assert_eq!(
            "1/hour".parse::<WriteRate>().unwrap().per,
            Duration::from_secs(3600)
        );
        for bad in ["10", "0/min", "x/min", "10/fortnight", "10/0s", "-1/s", ""] {
            assert!(bad.parse::<WriteRate>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_beyond_the_burst_wait_and_reads_never_do() {
        let mut rate: WriteRate = "2/min".parse().unwrap();
        rate.burst = NonZeroU32::new(3).unwrap();
        let limit = WriteLimit::new(rate);
        let client = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(limit.check(&Method::POST, client), Ok(()));
        }
        let wait = limit.check(&Method::DELETE, client).unwrap_err();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        for _ in 0..10 {
            assert_eq!(limit.check(&Method::GET, client), Ok(()));
        }
        // Another client has its own bucket.
        assert_eq!(limit.check(&Method::POST, ip("192.0.2.2")), Ok(()));
        limit.forget_idle();
        assert!(limit.check(&Method::PUT, client).is_err(), "still recent");
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let limit = WriteLimit::new("1/min".parse().unwrap());
        assert!(limit.check(&Method::POST, ip("2001:db8:1:2::1")).is_ok());
        assert!(
            limit
                .check(&Method::POST, ip("2001:db8:1:2::ffff"))
                .is_err()
        );
        assert!(limit.check(&Method::POST, ip("2001:db8:1:3::1")).is_ok());
        assert_eq!(key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }
}
