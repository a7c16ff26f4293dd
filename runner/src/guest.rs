//! One request through one instance: a slot (or a place in the queue), a
//! fresh instance (or a warm one with `--reuse-instances`), a bounded request
//! body, and a guest that must keep making progress.

use crate::admission::Refused;
use crate::host::{Host, Warm};
use crate::limited_body::LimitedBody;
use crate::observed::Observed;
use crate::progress::{Progress, ProgressBody};
use anyhow::anyhow;
use hyper::body::Incoming;
use std::sync::Arc;
use tokio::sync::Notify;
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::Proxy;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

pub type GuestResponse = hyper::Response<ProgressBody<HyperOutgoingBody>>;

/// Why the host answers a request itself.
#[derive(Debug)]
pub enum Failure {
    /// The guest trapped, or ended without answering (500).
    Failed(anyhow::Error),
    /// The guest went `request_timeout` without progress before answering (504).
    TimedOut,
    /// The host cannot turn the request into `wasi:http` for the guest: the
    /// client's fault (400).
    Unconvertible(anyhow::Error),
    /// The request body is larger than `max_body` (413).
    BodyTooLarge,
    /// No instance free and the queue full, or waited too long (503).
    Busy(Refused),
}

/// How a guest's run ended.
enum Outcome {
    Done,
    Trapped,
    TimedOut,
}

impl Host {
    /// Runs `request` through an instance. The guest decides the response;
    /// a `Failure` means it could not (and the details are logged).
    pub async fn handle(
        &self,
        scheme: Scheme,
        request: hyper::Request<Incoming>,
    ) -> Result<GuestResponse, Failure> {
        let generation = self.current();
        let warm = if self.reuse > 1 {
            generation.warm.lock().expect("not poisoned").pop()
        } else {
            None
        };
        let (mut store, proxy, served, slot) = match warm {
            Some(warm) => (warm.store, Some(warm.proxy), warm.served, warm.slot),
            None => {
                let slot = (self.admission)
                    .admit(self.limits.request_timeout)
                    .await
                    .map_err(Failure::Busy)?;
                let store = Store::new(self.engine(), self.new_request_state());
                (store, None, 0, slot)
            }
        };
        // A guest yields to other requests at every epoch tick.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);

        let progress = Progress::new();
        let too_large = Arc::new(Notify::new());
        let request = request.map(|body| {
            LimitedBody::new(
                body,
                self.limits.max_body,
                progress.clone(),
                too_large.clone(),
            )
        });
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let wasi_request = store
            .data_mut()
            .http()
            .new_incoming_request(scheme, request);
        let response_out = store.data_mut().http().new_response_outparam(sender);
        let (wasi_request, response_out) = match (wasi_request, response_out) {
            (Ok(request), Ok(out)) => (request, out),
            (Err(error), _) => return Err(Failure::Unconvertible(error.into())),
            (_, Err(error)) => return Err(Failure::Failed(error.into())),
        };

        // The guest keeps running after it has sent the headers (it streams
        // the body), so it runs in its own task, which owns the slot and the
        // store until it is done.
        let (reuse, idle, watched) = (self.reuse, self.limits.request_timeout, progress.clone());
        let guest = tokio::spawn(async move {
            let run = async {
                let proxy = match proxy {
                    Some(proxy) => proxy,
                    None => generation.pre.instantiate_async(&mut store).await?,
                };
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, wasi_request, response_out)
                    .await?;
                wasmtime::Result::<Proxy>::Ok(proxy)
            };
            match watched.watch(idle, run).await {
                None => {
                    tracing::warn!("guest stopped: no progress in {idle:?}");
                    Outcome::TimedOut
                }
                // A trapped instance is never reused.
                Some(Err(error)) => {
                    tracing::warn!("guest failed: {error:?}");
                    Outcome::Trapped
                }
                Some(Ok(proxy)) => {
                    if served + 1 < reuse {
                        let served = served + 1;
                        let next = Warm {
                            store,
                            proxy,
                            served,
                            slot,
                        };
                        generation.warm.lock().expect("not poisoned").push(next);
                    }
                    Outcome::Done
                }
            }
        });

        // A guest that hit the body limit may still answer (it saw an error
        // reading): the 413 wins.
        let answer = tokio::select! {
            biased;
            () = too_large.notified() => {
                guest.abort();
                return Err(Failure::BodyTooLarge);
            }
            answer = receiver => answer,
        };
        match answer {
            Ok(Ok(response)) => {
                progress.mark();
                Ok(response.map(|body| Observed::new(body, progress)))
            }
            Ok(Err(code)) => Err(Failure::Failed(anyhow!(
                "guest answered with error {code:?}"
            ))),
            // The guest is gone without answering: learn why.
            Err(_) => match guest.await {
                Ok(Outcome::TimedOut) => Err(Failure::TimedOut),
                Ok(Outcome::Trapped) => Err(Failure::Failed(anyhow!("the guest trapped"))),
                Ok(Outcome::Done) => {
                    Err(Failure::Failed(anyhow!("guest ended without a response")))
                }
                Err(error) => Err(Failure::Failed(error.into())),
            },
        }
    }
}
