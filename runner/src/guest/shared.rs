//! Shared instances (`--instance-concurrency M`, a wasi:http 0.3 component
//! only): one instance serves up to M requests at once and
//! `--reuse-instances` in all, as `wasmtime serve` runs a 0.3 component. A
//! request goes to the first instance with room, or to a new one in a free
//! slot. Each request keeps its own deadline; one that runs out retires its
//! instance (no new requests), which is dropped, with whatever is stuck in
//! it, once the others in it are done.

use crate::guest::engine::RequestState;
use crate::guest::guest_thread;
use crate::guest::progress::Progress;
use crate::guest::severable::severable;
use crate::guest::worlds::{Answer, Call, Guest, Pre, answer_p3};
use crate::ops::metrics::{Metrics, Refused};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use http_body_util::BodyExt as _;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;
use wasmtime::Store;
use wasmtime::component::Accessor;
use wasmtime_wasi_http::p3::bindings::Service;

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
    running: Arc<AtomicU32>,
    accepted: u32,
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
    running: Arc<AtomicU32>,
    receiver: mpsc::UnboundedReceiver<Job>,
    slot: OwnedSemaphorePermit,
}

impl Opened {
    fn run(self, pool: &Arc<SharedPool>, start: Start) {
        let instance = Instance {
            id: self.id,
            pool: Arc::downgrade(pool),
            running: self.running,
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

    /// Sends `job` to the first instance with room, or opens one in a free
    /// slot; under one lock, so requests that come together fill an
    /// instance before they open another.
    fn place(&self, job: Job) -> Placed {
        let mut places = self.places.lock().expect("not poisoned");
        let with_room = (places.iter()).position(|place| {
            place.running.load(Ordering::Acquire) < self.per_instance && !place.jobs.is_closed()
        });
        let Some(index) = with_room else {
            return match self.slots.clone().try_acquire_owned() {
                Ok(slot) => Placed::InNew(self.open(&mut places, slot, job)),
                Err(_) => Placed::Nowhere(job),
            };
        };
        let place = &mut places[index];
        place.running.fetch_add(1, Ordering::AcqRel);
        place.accepted += 1;
        if let Err(mpsc::error::SendError(job)) = place.jobs.send(job) {
            place.running.fetch_sub(1, Ordering::AcqRel);
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
        let running = Arc::new(AtomicU32::new(1));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        jobs.send(job)
            .unwrap_or_else(|_| unreachable!("the receiver is here"));
        if self.reuse > 1 {
            places.push(Place {
                id,
                jobs,
                running: running.clone(),
                accepted: 1,
            });
        }
        Opened {
            id,
            running,
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

/// An instance's side: it runs on a guest thread of its own.
struct Instance {
    id: u32,
    pool: Weak<SharedPool>,
    running: Arc<AtomicU32>,
    timeout: Duration,
    metrics: Option<Arc<Metrics>>,
    /// The progress of each request in it, by a number of its own.
    in_flight: Mutex<BTreeMap<u64, Progress>>,
    next_request: AtomicU64,
    /// A request came in.
    started: Notify,
}

/// How long past its request timeout a request may go unanswered before the
/// instance is taken to be stalled (`Instance::stalled`).
const STALL_GRACE: Duration = Duration::from_secs(1);

/// How one request's time in the instance ended.
enum Served {
    Done,
    /// Given up on: the instance may hold a task that is stuck.
    Abandoned,
    /// Its guest trapped: the instance's memory is not to be trusted.
    Trapped,
}

impl Instance {
    async fn run(
        self,
        pre: Pre,
        mut store: Store<RequestState>,
        mut jobs: mpsc::UnboundedReceiver<Job>,
        slot: OwnedSemaphorePermit,
    ) {
        if let Some(metrics) = &self.metrics {
            metrics.instance_started();
        }
        let service = match pre.instantiate(&mut store).await {
            Ok(Guest::P3(service)) => Some(service),
            Ok(Guest::P2(_)) => None,
            Err(error) => {
                tracing::warn!("cannot instantiate the component: {error:?}");
                None
            }
        };
        let ended = match &service {
            Some(service) => {
                let this = &self;
                let taking = &mut jobs;
                let serving = store.run_concurrent(async move |accessor| {
                    this.serve(accessor, service, taking).await
                });
                tokio::select! {
                    ended = serving => ended,
                    in_flight = self.stalled() => {
                        // Every request in it ends for want of progress,
                        // those it had yet to take too.
                        (0..in_flight + jobs.len()).for_each(|_| self.timed_out());
                        Ok(())
                    }
                }
            }
            None => Ok(()),
        };
        if let Err(error) = ended {
            tracing::warn!("guest failed: {error:?}");
            if let Some(metrics) = &self.metrics {
                metrics.guest_trapped();
            }
        }
        // Requests still in its channel fail with it (their senders drop).
        jobs.close();
        if let Some(pool) = self.pool.upgrade() {
            pool.retire(self.id);
            drop(slot);
            pool.room.notify_waiters();
        }
    }

    /// Takes requests until no more come (it served its `--reuse-instances`,
    /// or one was abandoned and it was retired), and serves them to their end.
    async fn serve(
        &self,
        accessor: &Accessor<RequestState>,
        service: &Service,
        jobs: &mut mpsc::UnboundedReceiver<Job>,
    ) {
        let mut serving = FuturesUnordered::new();
        let mut taking = true;
        loop {
            tokio::select! {
                job = jobs.recv(), if taking => match job {
                    Some(job) => serving.push(self.serve_one(accessor, service, job)),
                    None => taking = false,
                },
                Some(served) = serving.next(), if !serving.is_empty() => {
                    self.running.fetch_sub(1, Ordering::AcqRel);
                    let pool = self.pool.upgrade();
                    match served {
                        Served::Done => {}
                        // Out of the list, its sender drops: what was sent
                        // before is still taken, then `recv` ends.
                        Served::Abandoned => pool.iter().for_each(|pool| pool.retire(self.id)),
                        // Ends the instance now: the requests still in it
                        // fail (their bodies cut, see `severable`).
                        Served::Trapped => return,
                    }
                    pool.iter().for_each(|pool| pool.room.notify_waiters());
                },
                else => break,
            }
        }
    }

    /// Until a request in the instance has gone its timeout and
    /// `STALL_GRACE` without progress. Its own deadline (`serve_one`) is
    /// checked inside the store's event loop, which a guest that spins can
    /// keep from running (wasmtime issues 11869, 11870); this is checked
    /// outside it, at each of the guest's epoch yields, and ends the
    /// instance and every request in it: how many there are.
    async fn stalled(&self) -> usize {
        loop {
            let started = self.started.notified();
            let (oldest, in_flight) = {
                let in_flight = self.in_flight.lock().expect("not poisoned");
                (
                    in_flight.values().map(Progress::last).min(),
                    in_flight.len(),
                )
            };
            match oldest {
                Some(last) => {
                    let deadline = last + self.timeout + STALL_GRACE;
                    if deadline <= Instant::now() {
                        return in_flight;
                    }
                    tokio::time::sleep_until(deadline).await;
                }
                None => started.await,
            }
        }
    }

    /// One request: its answer, then its body to the end, each within the
    /// request timeout of the last progress.
    async fn serve_one(
        &self,
        accessor: &Accessor<RequestState>,
        service: &Service,
        job: Job,
    ) -> Served {
        let Job {
            call,
            progress,
            unanswered,
            admitted: _admitted,
        } = job;
        let _in_flight = InFlight::new(self, &progress);
        let Call::P3 {
            request,
            request_io,
            respond,
        } = call
        else {
            unreachable!("a shared instance is a 0.3 instance");
        };
        let answered = answer_p3(service, accessor, request, request_io);
        let answer = match progress.watch(self.timeout, answered).await {
            Some(Ok(answer)) => answer,
            Some(Err(error)) => {
                tracing::warn!("guest failed: {error:?}");
                if let Some(metrics) = &self.metrics {
                    metrics.guest_trapped();
                }
                let _ = unanswered.send(Unanswered::Failed);
                return Served::Trapped;
            }
            None => {
                self.timed_out();
                let _ = unanswered.send(Unanswered::TimedOut);
                return Served::Abandoned;
            }
        };
        let Ok(response) = answer else {
            let _ = respond.send(answer);
            return Served::Done;
        };
        let (parts, body) = response.into_parts();
        let (body, severer) = severable(body);
        let response = Answer::from_parts(parts, body.boxed_unsync());
        if respond.send(Ok(response)).is_err() {
            return Served::Done;
        }
        match progress.watch(self.timeout, severer.ended()).await {
            Some(()) => Served::Done,
            None => {
                self.timed_out();
                severer.cut();
                Served::Abandoned
            }
        }
    }

    fn timed_out(&self) {
        tracing::warn!("guest stopped: no progress in {:?}", self.timeout);
        if let Some(metrics) = &self.metrics {
            metrics.guest_timed_out();
        }
    }
}

/// A request listed among the instance's in flight while it is.
struct InFlight<'a> {
    instance: &'a Instance,
    number: u64,
}

impl<'a> InFlight<'a> {
    fn new(instance: &'a Instance, progress: &Progress) -> InFlight<'a> {
        let number = instance.next_request.fetch_add(1, Ordering::Relaxed);
        let mut in_flight = instance.in_flight.lock().expect("not poisoned");
        in_flight.insert(number, progress.clone());
        instance.started.notify_waiters();
        InFlight { instance, number }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.instance.in_flight.lock().expect("not poisoned");
        in_flight.remove(&self.number);
    }
}
