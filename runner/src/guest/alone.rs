//! A request on an instance of its own: fresh, or warm from earlier requests
//! (`--reuse-instances`), run on a thread of its own (`guest_thread`: a
//! filesystem call that hangs stalls no other request), and put back among
//! the warm ones while it may serve more.

use crate::guest::admission::Refused;
use crate::guest::engine::RequestState;
use crate::guest::guest_thread::{self, GuestThread};
use crate::guest::progress::Progress;
use crate::guest::worlds::{Call, Guest, Pre};
use crate::ops::metrics::Metrics;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use wasmtime::Store;

/// How a guest's run ended.
pub(crate) enum Outcome {
    Done,
    Trapped,
    TimedOut,
}

/// An instance to run a request on, and what it comes with.
pub(crate) struct Instance {
    pub store: Store<RequestState>,
    /// Set for a warm instance; a fresh one is instantiated in the guest's
    /// task.
    pub proxy: Option<Guest>,
    /// Requests it has served before.
    pub served: u32,
    /// Its place in the pooling allocator, held while the instance lives.
    pub slot: OwnedSemaphorePermit,
    /// The request's place among those admitted, held while it runs.
    pub admitted: OwnedSemaphorePermit,
}

/// An instance that served `served` requests and may serve more.
pub(crate) struct Warm {
    pub store: Store<RequestState>,
    pub proxy: Guest,
    pub served: u32,
    pub slot: OwnedSemaphorePermit,
}

/// What `WarmInstances::take` found for a request.
pub(crate) enum Taken {
    Warm(Warm),
    /// A free slot for a fresh instance.
    Slot(OwnedSemaphorePermit),
}

/// The warm instances of one component. A warm instance keeps its slot but
/// not an admitted request's place: one that held both kept requests waiting
/// in the queue, until they timed out, beside idle instances.
#[derive(Default)]
pub(crate) struct WarmInstances {
    list: Mutex<Vec<Warm>>,
    put_back: Notify,
}

impl WarmInstances {
    /// A warm instance, else a free slot among `slots`, waiting until
    /// `deadline` for either: every slot may be held for a moment by an
    /// instance being dropped or put back (or, after `--watch` swapped the
    /// component, by the old one's).
    pub async fn take(&self, slots: &Arc<Semaphore>, deadline: Instant) -> Result<Taken, Refused> {
        loop {
            let put_back = self.put_back.notified();
            let mut put_back = std::pin::pin!(put_back);
            put_back.as_mut().enable();
            if let Some(warm) = self.list.lock().expect("not poisoned").pop() {
                return Ok(Taken::Warm(warm));
            }
            tokio::select! {
                slot = slots.clone().acquire_owned() => {
                    return Ok(Taken::Slot(slot.expect("never closed")));
                }
                () = put_back => {}
                () = tokio::time::sleep_until(deadline) => return Err(Refused::Waited),
            }
        }
    }

    fn put_back(&self, warm: Warm) {
        self.list.lock().expect("not poisoned").push(warm);
        self.put_back.notify_waiters();
    }

    /// Drops every warm instance (their component is no longer served).
    pub fn clear(&self) {
        self.list.lock().expect("not poisoned").clear();
    }
}

/// What a run needs besides its instance and request.
pub(crate) struct Alone {
    pub pre: Pre,
    pub warm: Arc<WarmInstances>,
    /// Requests one instance may serve.
    pub reuse: u32,
    /// The request timeout: the longest the guest may go without progress.
    pub idle: Duration,
    pub metrics: Option<Arc<Metrics>>,
}

impl Alone {
    /// Runs `call` on `instance` on a thread of its own, which owns the slot
    /// and the store until the guest is done: it keeps running after it has
    /// sent the headers (it streams the body).
    pub fn spawn(self, instance: Instance, call: Call, progress: Progress) -> GuestThread<Outcome> {
        let Alone {
            pre,
            warm,
            reuse,
            idle,
            metrics,
        } = self;
        let Instance {
            mut store,
            proxy,
            served,
            slot,
            admitted,
        } = instance;
        guest_thread::spawn(async move {
            let run = async {
                let proxy = match proxy {
                    Some(proxy) => proxy,
                    None => {
                        if let Some(metrics) = &metrics {
                            metrics.instance_started();
                        }
                        pre.instantiate(&mut store).await?
                    }
                };
                proxy.run(&mut store, call).await
            };
            let (outcome, proxy) = match progress.watch(idle, run).await {
                None => {
                    tracing::warn!("guest stopped: no progress in {idle:?}");
                    if let Some(metrics) = &metrics {
                        metrics.guest_timed_out();
                    }
                    (Outcome::TimedOut, None)
                }
                // A trapped instance is never reused.
                Some(Err(error)) => {
                    tracing::warn!("guest failed: {error:?}");
                    if let Some(metrics) = &metrics {
                        metrics.guest_trapped();
                    }
                    (Outcome::Trapped, None)
                }
                Some(Ok(proxy)) => (Outcome::Done, Some(proxy)),
            };
            match proxy {
                Some(proxy) if served + 1 < reuse => {
                    let next = Warm {
                        store,
                        proxy,
                        served: served + 1,
                        slot,
                    };
                    warm.put_back(next);
                }
                // The pooling allocator's slot is free only once the store
                // is gone: a new instance in `slot` before that would find
                // the pool full.
                _ => {
                    drop(store);
                    drop(slot);
                }
            }
            // Last: a request admitted in its place finds the instance put
            // back, or its slot free.
            drop(admitted);
            outcome
        })
    }
}
