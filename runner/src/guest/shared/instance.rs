//! A shared instance's side, on a guest thread of its own: it takes the
//! requests the pool sends it into the store's event loop, keeps each one's
//! deadline, and ends when no more come, when one traps, or when it stalls.

use super::{Job, Load, SharedPool, Unanswered};
use crate::guest::engine::RequestState;
use crate::guest::progress::Progress;
use crate::guest::severable::severable;
use crate::guest::worlds::{Answer, Call, Guest, Pre, answer_p3};
use crate::ops::metrics::Metrics;
use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use http_body_util::BodyExt as _;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use wasmtime::Store;
use wasmtime::component::Accessor;
use wasmtime_wasi_http::p3::bindings::Service;

/// An instance's side: it runs on a guest thread of its own.
pub(super) struct Instance {
    pub id: u32,
    pub pool: Weak<SharedPool>,
    pub load: Arc<Load>,
    pub timeout: Duration,
    pub metrics: Option<Arc<Metrics>>,
    /// The progress of each request in it, by a number of its own.
    pub in_flight: Mutex<BTreeMap<u64, Progress>>,
    pub next_request: AtomicU64,
    /// A request came in.
    pub started: Notify,
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
    pub async fn run(
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
                self.serve_until_stalled(&mut store, service, &mut jobs)
                    .await
            }
            None => Ok(Ok(())),
        };
        let ended = ended.unwrap_or_else(|in_flight| {
            // Every request in it ends for want of progress, those it had
            // yet to take too.
            (0..in_flight + jobs.len()).for_each(|_| self.timed_out());
            Ok(())
        });
        if let Err(error) = ended {
            tracing::warn!("guest failed: {error:?}");
            if let Some(metrics) = &self.metrics {
                metrics.guest_trapped();
            }
        }
        // Requests still in its channel fail with it (their senders drop).
        jobs.close();
        // The pooling allocator's slot is free only once the store is gone:
        // a new instance in `slot` before that would find the pool full.
        drop(store);
        if let Some(pool) = self.pool.upgrade() {
            pool.retire(self.id);
        }
        drop(slot);
        if let Some(pool) = self.pool.upgrade() {
            pool.room.notify_waiters();
        }
    }

    /// `serve` in the store's event loop; `Err` with the requests in flight
    /// if it stalled.
    async fn serve_until_stalled(
        &self,
        store: &mut Store<RequestState>,
        service: &Service,
        jobs: &mut mpsc::UnboundedReceiver<Job>,
    ) -> Result<wasmtime::Result<()>, usize> {
        let serving =
            store.run_concurrent(async move |accessor| self.serve(accessor, service, jobs).await);
        let mut serving = std::pin::pin!(serving);
        // Seen by `SharedPool::place`.
        let serving = std::future::poll_fn(|cx| {
            self.load.executing.store(true, Ordering::Release);
            let polled = serving.as_mut().poll(cx);
            self.load.executing.store(false, Ordering::Release);
            polled
        });
        tokio::select! {
            ended = serving => Ok(ended),
            in_flight = self.stalled() => Err(in_flight),
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
                    Some(job) => {
                        self.load.untaken.fetch_sub(1, Ordering::AcqRel);
                        serving.push(self.serve_one(accessor, service, job));
                    }
                    None => taking = false,
                },
                Some(served) = serving.next(), if !serving.is_empty() => {
                    self.load.running.fetch_sub(1, Ordering::AcqRel);
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
