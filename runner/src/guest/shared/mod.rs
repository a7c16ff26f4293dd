//! Shared instances (`--instance-concurrency M`, a wasi:http 0.3 component
//! only): one instance serves up to M requests at once and
//! `--reuse-instances` in all, as `wasmtime serve` runs a 0.3 component. A
//! request goes where `SharedPool::place` finds room for it. Each request
//! keeps its own deadline; one that runs out retires its
//! instance (no new requests), which is dropped, with whatever is stuck in
//! it, once the others in it are done.

mod instance;

use crate::guest::engine::RequestState;
use crate::guest::guest_thread;
use crate::guest::progress::Progress;
use crate::guest::worlds::{Call, Pre};
use crate::ops::metrics::{Metrics, Refused};
use instance::Instance;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use wasmtime::Store;

/// How a request in a shared instance ended, when it got no answer.
#[derive(Debug)]
pub(crate) enum Unanswered {
    /// No progress within the request timeout.
    TimedOut,
    /// The instance trapped, or could not be made.
    Failed,
}

/// A request for a shared instance.
pub(crate) struct Job {
    pub call: Call,
    pub progress: Progress,
    /// Why it got no answer (dropped unsent: the instance failed).
    pub unanswered: oneshot::Sender<Unanswered>,
    /// The request's place among those admitted, held until it is done.
    pub admitted: OwnedSemaphorePermit,
}

/// The shared instances of one component.
pub(crate) struct SharedPool {
    places: Mutex<Vec<Place>>,
    /// A request left an instance (or an instance ended).
    room: Notify,
    /// Instances, at most `--max-concurrent` (the pooling allocator's size).
    slots: Arc<Semaphore>,
    per_instance: u32,
    reuse: u32,
    next_id: AtomicU32,
}

/// An instance that takes requests.
struct Place {
    id: u32,
    jobs: mpsc::UnboundedSender<Job>,
    load: Arc<Load>,
    accepted: u32,
}

/// How busy an instance is: the pool reads it to place requests, the
/// instance's thread keeps it.
pub(super) struct Load {
    /// Requests in it, taken or not.
    pub running: AtomicU32,
    /// Its thread is running it now (the guest's code or its host calls),
    /// rather than waiting.
    pub executing: AtomicBool,
    /// Requests sent to it that it has not taken yet: until it takes them
    /// and they wait too, it is not waiting (else a burst of requests would
    /// all go to the instance that looked idle when the first came).
    pub untaken: AtomicU32,
}

impl Load {
    /// Whether it waits for the network with all it was sent.
    fn waiting(&self) -> bool {
        !self.executing.load(Ordering::Acquire) && self.untaken.load(Ordering::Acquire) == 0
    }
}

/// Where `place` put a request.
enum Placed {
    InRoom,
    InNew(Opened),
    Nowhere(Job),
}

/// An instance listed, to be started on its thread.
struct Opened {
    id: u32,
    load: Arc<Load>,
    receiver: mpsc::UnboundedReceiver<Job>,
    slot: OwnedSemaphorePermit,
}

impl Opened {
    fn run(self, pool: &Arc<SharedPool>, start: Start) {
        let instance = Instance {
            id: self.id,
            pool: Arc::downgrade(pool),
            load: self.load,
            timeout: start.request_timeout,
            metrics: start.metrics,
            in_flight: Mutex::default(),
            next_request: AtomicU64::new(0),
            started: Notify::new(),
        };
        guest_thread::spawn(instance.run(start.pre, start.store, self.receiver, self.slot));
    }
}

/// What a new instance needs from the host.
pub(crate) struct Start {
    pub pre: Pre,
    pub store: Store<RequestState>,
    pub request_timeout: Duration,
    pub metrics: Option<Arc<Metrics>>,
}

impl SharedPool {
    pub fn new(slots: Arc<Semaphore>, per_instance: u32, reuse: u32) -> Arc<SharedPool> {
        Arc::new(SharedPool {
            places: Mutex::new(Vec::new()),
            room: Notify::new(),
            slots,
            per_instance,
            reuse,
            next_id: AtomicU32::new(0),
        })
    }

    /// Hands `job` to an instance with room, or to a new one in a free slot
    /// (`start` makes its store), waiting until `deadline` for either.
    pub async fn dispatch(
        self: &Arc<Self>,
        mut job: Job,
        deadline: Instant,
        start: impl FnOnce() -> Start,
    ) -> Result<(), Refused> {
        loop {
            let room = self.room.notified();
            let mut room = std::pin::pin!(room);
            room.as_mut().enable();
            job = match self.place(job) {
                Placed::InRoom => return Ok(()),
                Placed::InNew(opened) => {
                    opened.run(self, start());
                    return Ok(());
                }
                Placed::Nowhere(job) => job,
            };
            tokio::select! {
                () = room => {}
                slot = self.slots.clone().acquire_owned() => {
                    let mut places = self.places.lock().expect("not poisoned");
                    let opened = self.open(&mut places, slot.expect("never closed"), job);
                    drop(places);
                    opened.run(self, start());
                    return Ok(());
                }
                () = tokio::time::sleep_until(deadline) => return Err(Refused::Waited),
            }
        }
    }

    /// Sends `job` to an instance with room that is waiting (`Load::waiting`),
    /// else to a new one in a free slot, else to the instance with room that
    /// has the fewest requests. So waiting requests
    /// share an instance, while work for the CPU spreads over instances and
    /// threads, as `wasmtime serve` spreads it. Under one lock: requests
    /// that come together never open more instances than they need.
    fn place(&self, job: Job) -> Placed {
        let mut places = self.places.lock().expect("not poisoned");
        let has_room = |place: &Place| {
            place.load.running.load(Ordering::Acquire) < self.per_instance
                && !place.jobs.is_closed()
        };
        let waiting = (places.iter()).position(|place| has_room(place) && place.load.waiting());
        let index = match waiting {
            Some(index) => index,
            None => match self.slots.clone().try_acquire_owned() {
                Ok(slot) => return Placed::InNew(self.open(&mut places, slot, job)),
                Err(_) => {
                    let least_busy = (places.iter().enumerate())
                        .filter(|(_, place)| has_room(place))
                        .min_by_key(|(_, place)| place.load.running.load(Ordering::Acquire));
                    match least_busy {
                        Some((index, _)) => index,
                        None => return Placed::Nowhere(job),
                    }
                }
            },
        };
        let place = &mut places[index];
        place.load.running.fetch_add(1, Ordering::AcqRel);
        place.load.untaken.fetch_add(1, Ordering::AcqRel);
        place.accepted += 1;
        if let Err(mpsc::error::SendError(job)) = place.jobs.send(job) {
            place.load.running.fetch_sub(1, Ordering::AcqRel);
            place.load.untaken.fetch_sub(1, Ordering::AcqRel);
            return Placed::Nowhere(job);
        }
        // Its last request: dropping its sender lets it end once done.
        if place.accepted >= self.reuse {
            places.remove(index);
        }
        Placed::InRoom
    }

    /// A new instance in `slot` with `job` as its first request, listed
    /// (while it may take more) before it runs.
    fn open(&self, places: &mut Vec<Place>, slot: OwnedSemaphorePermit, job: Job) -> Opened {
        let (jobs, receiver) = mpsc::unbounded_channel();
        // Its first request: sent, not yet taken, and it is about to run.
        let load = Arc::new(Load {
            running: AtomicU32::new(1),
            executing: AtomicBool::new(true),
            untaken: AtomicU32::new(1),
        });
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        jobs.send(job)
            .unwrap_or_else(|_| unreachable!("the receiver is here"));
        // Shared, an instance serves at least two (`Host::new`): it is listed.
        places.push(Place {
            id,
            jobs,
            load: load.clone(),
            accepted: 1,
        });
        Opened {
            id,
            load,
            receiver,
            slot,
        }
    }

    /// Takes instance `id` out of the list: it gets no more requests.
    fn retire(&self, id: u32) {
        self.places
            .lock()
            .expect("not poisoned")
            .retain(|place| place.id != id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest::worlds::prepare_p3;
    use http_body_util::{BodyExt as _, Empty};
    use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

    fn job() -> Job {
        let body = Empty::new().map_err(|never| match never {});
        let request = hyper::Request::get("http://test/").body(body).unwrap();
        let (call, _answered) = prepare_p3(Scheme::Http, request).unwrap();
        Job {
            call,
            progress: Progress::new(),
            unanswered: oneshot::channel().0,
            admitted: Arc::new(Semaphore::new(1)).try_acquire_owned().unwrap(),
        }
    }

    /// Requests that come together do not all go to the instance that was
    /// waiting when the first came: until it takes that one (and waits
    /// again), the next goes to another instance.
    #[tokio::test]
    async fn a_waiting_instance_takes_one_request_of_a_burst() {
        let pool = SharedPool::new(Arc::new(Semaphore::new(4)), 16, 128);
        let Placed::InNew(first) = pool.place(job()) else {
            panic!("the first request opens an instance");
        };
        // Its thread took the request, which now waits for the network.
        first.load.untaken.store(0, Ordering::Release);
        first.load.executing.store(false, Ordering::Release);
        assert!(matches!(pool.place(job()), Placed::InRoom));
        assert!(matches!(pool.place(job()), Placed::InNew(_)));
        assert_eq!(first.load.running.load(Ordering::Acquire), 2);
    }
}
