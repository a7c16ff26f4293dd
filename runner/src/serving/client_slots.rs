//! Client slots: at most `--max-per-client` instances at once for one client
//! address (an IPv6 client is its /64, as for the write limit), and a
//! bounded number of its requests waiting for one — so one client's many
//! connections or HTTP/2 streams cannot take every instance. Beyond, its
//! requests are refused (429) at once. Its waiting ones are not in the
//! instances' queue, so they hold no one else up.

use crate::guest::admission::Refused;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most streams an HTTP/2 connection may have open at once (hyper's
/// default is 200): the least RFC 9113 advises; a client's streams beyond
/// its slots wait here or are refused anyway.
pub const MAX_STREAMS: u32 = 100;

pub struct ClientSlots {
    max: u32,
    /// How many of a client's requests may wait for one of its slots.
    max_waiting: u32,
    /// Only the clients with a request running or waiting.
    clients: Arc<Mutex<HashMap<IpAddr, Client>>>,
    /// Whether the first refusal was logged.
    told: AtomicBool,
}

struct Client {
    slots: Arc<Semaphore>,
    /// Its requests running or waiting.
    requests: u32,
}

/// One client's place among the running instances; dropped when its guest
/// is done.
pub struct ClientSlot {
    permit: Option<OwnedSemaphorePermit>,
    key: IpAddr,
    clients: Arc<Mutex<HashMap<IpAddr, Client>>>,
}

impl ClientSlots {
    /// `max` instances per client (0: no limit), and `max_waiting` of its
    /// requests waiting.
    pub fn new(max: u32, max_waiting: u32) -> ClientSlots {
        ClientSlots {
            max,
            max_waiting,
            clients: Arc::default(),
            told: AtomicBool::new(false),
        }
    }

    /// A slot for `client`, at once or after waiting at most `patience`
    /// behind its other requests; `None` without a limit.
    pub async fn admit(
        &self,
        client: IpAddr,
        patience: Duration,
    ) -> Result<Option<ClientSlot>, Refused> {
        if self.max == 0 {
            return Ok(None);
        }
        let key = crate::serving::write_limit::key(client);
        let slots = {
            let mut clients = self.clients.lock().expect("not poisoned");
            let entry = clients.entry(key).or_insert_with(|| Client {
                slots: Arc::new(Semaphore::new(self.max as usize)),
                requests: 0,
            });
            if entry.requests >= self.max.saturating_add(self.max_waiting) {
                drop(clients);
                self.tell_once(client);
                return Err(Refused::QueueFull);
            }
            entry.requests += 1;
            entry.slots.clone()
        };
        // From here the count is this request's until the slot is dropped.
        let mut slot = ClientSlot {
            permit: None,
            key,
            clients: self.clients.clone(),
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => tokio::time::timeout(patience, slots.acquire_owned())
                .await
                .map_err(|_| Refused::Waited)?
                .expect("never closed"),
        };
        slot.permit = Some(permit);
        Ok(Some(slot))
    }

    /// The first refusal is a warning: the one an operator behind a proxy
    /// it does not know of would see.
    fn tell_once(&self, client: IpAddr) {
        if !self.told.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{client} has {} requests running and waiting, as many as one client \
                 may (--max-per-client {}): refusing more with 429. If it is a proxy, \
                 name it with --trusted-proxies, or all its clients count as one \
                 (logged once)",
                self.max.saturating_add(self.max_waiting),
                self.max
            );
        }
    }

    /// Clients with a request running or waiting now.
    #[cfg(test)]
    fn known(&self) -> usize {
        self.clients.lock().expect("not poisoned").len()
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().expect("not poisoned");
        drop(self.permit.take());
        if let Some(client) = clients.get_mut(&self.key) {
            client.requests -= 1;
            if client.requests == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    const PATIENCE: Duration = Duration::from_secs(30);

    #[tokio::test(start_paused = true)]
    async fn a_client_runs_at_most_max_and_waits_beyond() {
        let slots = Arc::new(ClientSlots::new(2, 8));
        let client = ip("192.0.2.1");
        let first = slots.admit(client, PATIENCE).await.unwrap();
        let _second = slots.admit(client, PATIENCE).await.unwrap();
        let third = tokio::spawn({
            let slots = slots.clone();
            async move {
                slots
                    .admit(client, PATIENCE)
                    .await
                    .map(|slot| slot.is_some())
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!third.is_finished(), "the third waits");
        // Another client is not held up.
        let other = slots.admit(ip("192.0.2.2"), Duration::ZERO).await;
        assert!(other.unwrap().is_some());
        drop(first);
        assert!(third.await.unwrap().unwrap(), "and runs when one ends");
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_is_bounded_in_number_and_time() {
        let slots = Arc::new(ClientSlots::new(1, 4));
        let client = ip("2001:db8:1:2::1");
        let _running = slots.admit(client, PATIENCE).await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..4 {
            let slots = slots.clone();
            waiting.push(tokio::spawn(async move {
                slots.admit(client, PATIENCE).await.map(drop)
            }));
        }
        tokio::task::yield_now().await;
        // The same /64 is the same client.
        let refused = slots.admit(ip("2001:db8:1:2::ffff"), PATIENCE).await;
        assert!(matches!(refused, Err(Refused::QueueFull)));
        for waited in waiting {
            assert!(matches!(waited.await.unwrap(), Err(Refused::Waited)));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn clients_are_forgotten_when_done_and_zero_is_no_limit() {
        let slots = ClientSlots::new(1, 4);
        let held = slots.admit(ip("192.0.2.1"), PATIENCE).await.unwrap();
        let late = slots.admit(ip("192.0.2.1"), Duration::from_secs(1)).await;
        assert!(matches!(late, Err(Refused::Waited)));
        assert_eq!(slots.known(), 1);
        drop(held);
        assert_eq!(slots.known(), 0);

        let unlimited = ClientSlots::new(0, 0);
        let all: Vec<_> = futures_util::future::join_all(
            (0..100).map(|_| unlimited.admit(ip("192.0.2.1"), Duration::ZERO)),
        )
        .await;
        assert!(all.iter().all(|slot| matches!(slot, Ok(None))));
    }
}
