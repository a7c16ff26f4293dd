//! The two wasi:http worlds the runner hosts: which one a component exports
//! (decided as `wasmtime serve` decides it: 0.3's `wasi:http/handler` first,
//! then 0.2's `incoming-handler`), and how one request is handed to an
//! instance of either and its answer taken back.

use crate::guest::engine::{DenyOutgoing, RequestState};
use anyhow::Context as _;
use bytes::Bytes;
use futures_util::FutureExt as _;
use std::future::Future;
use std::pin::Pin;
use wasmtime::Store;
use wasmtime::component::{Accessor, InstancePre, Resource};
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};
use wasmtime_wasi_http::p3::bindings::{Service, ServicePre};

/// A compiled component, ready to instantiate, in the world it exports.
#[derive(Clone)]
pub(crate) enum Pre {
    P2(ProxyPre<RequestState>),
    P3(ServicePre<RequestState>),
}

/// An instance of either world.
pub(crate) enum Guest {
    P2(Proxy),
    P3(Service),
}

pub(crate) type Answer = hyper::Response<HyperOutgoingBody>;

/// What the guest answers: a response, or the error code it returned (as
/// text: the worlds' codes are different types); `Err` when it ended
/// without either.
pub(crate) type Answered = Pin<Box<dyn Future<Output = Result<Result<Answer, String>, ()>> + Send>>;

/// A 0.3 request body's transfer, which the response's waits for.
pub(crate) type RequestIo =
    Pin<Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>>;

/// A request made ready for the guest, in its store.
pub(crate) enum Call {
    P2 {
        request: Resource<HostIncomingRequest>,
        response_out: Resource<HostResponseOutparam>,
    },
    P3 {
        request: wasmtime_wasi_http::p3::Request,
        request_io: RequestIo,
        respond: tokio::sync::oneshot::Sender<Result<Answer, String>>,
    },
}

/// Why a request could not be handed over.
pub(crate) enum PrepareError {
    /// The client's fault (400).
    Unconvertible(anyhow::Error),
    Failed(anyhow::Error),
}

impl Pre {
    pub(crate) fn new(pre: InstancePre<RequestState>) -> wasmtime::Result<Pre> {
        if let Ok(p3) = ServicePre::new(pre.clone()) {
            return Ok(Pre::P3(p3));
        }
        ProxyPre::new(pre).map(Pre::P2)
    }

    pub(crate) async fn instantiate(
        &self,
        store: &mut Store<RequestState>,
    ) -> wasmtime::Result<Guest> {
        Ok(match self {
            Pre::P2(pre) => Guest::P2(pre.instantiate_async(store).await?),
            Pre::P3(pre) => Guest::P3(pre.instantiate_async(store).await?),
        })
    }

    /// `request`, received over `scheme`, as this world's guest takes it.
    pub(crate) fn prepare<B>(
        &self,
        store: &mut Store<RequestState>,
        scheme: Scheme,
        request: hyper::Request<B>,
    ) -> Result<(Call, Answered), PrepareError>
    where
        B: http_body::Body<Data = Bytes, Error = wasmtime_wasi_http::Error> + Send + 'static,
    {
        match self {
            Pre::P2(_) => {
                let (sender, receiver) = tokio::sync::oneshot::channel();
                let http = store.data_mut();
                let request = (http.http().new_incoming_request(scheme, request))
                    .map_err(|error| PrepareError::Unconvertible(error.into()))?;
                let response_out = (http.http().new_response_outparam(sender))
                    .map_err(|error| PrepareError::Failed(error.into()))?;
                let answered = receiver.map(|answer| {
                    let answer = answer.map_err(|_| ())?;
                    Ok(answer.map_err(|code| format!("{code:?}")))
                });
                let call = Call::P2 {
                    request,
                    response_out,
                };
                Ok((call, Box::pin(answered)))
            }
            Pre::P3(_) => prepare_p3(scheme, request).map_err(PrepareError::Unconvertible),
        }
    }
}

/// `request` as a 0.3 guest takes it; it needs no store, so a request for a
/// shared instance is made ready before it goes to the instance's thread.
pub(crate) fn prepare_p3<B>(
    scheme: Scheme,
    request: hyper::Request<B>,
) -> anyhow::Result<(Call, Answered)>
where
    B: http_body::Body<Data = Bytes, Error = wasmtime_wasi_http::Error> + Send + 'static,
{
    // wasmtime's 0.3 host takes the authority from the target only and
    // drops `Host` (a forbidden header): the target is made absolute here,
    // as the 0.2 host does it.
    let request = absolute(scheme, request)?;
    let (request, request_io) =
        wasmtime_wasi_http::p3::Request::from_http(&mut DenyOutgoing, request);
    let (respond, receiver) = tokio::sync::oneshot::channel();
    let call = Call::P3 {
        request,
        request_io: Box::pin(request_io),
        respond,
    };
    Ok((
        call,
        Box::pin(receiver.map(|answer| answer.map_err(|_| ()))),
    ))
}

/// The guest's answer to a 0.3 `request`: its response (the body still to
/// come, moved by the store's event loop) or the error code it returned.
pub(crate) async fn answer_p3(
    service: &Service,
    accessor: &Accessor<RequestState>,
    request: wasmtime_wasi_http::p3::Request,
    request_io: RequestIo,
) -> wasmtime::Result<Result<Answer, String>> {
    Ok(match service.handle(accessor, request).await? {
        Ok(response) => {
            Ok(accessor.with(|mut access| response.into_http(&mut access, request_io))?)
        }
        Err(code) => Err(format!("{code:?}")),
    })
}

impl Guest {
    /// Runs `call` to its end; for 0.3, until no task is left in the store
    /// (its event loop is what moves the response body).
    pub(crate) async fn run(
        self,
        store: &mut Store<RequestState>,
        call: Call,
    ) -> wasmtime::Result<Guest> {
        match (self, call) {
            (
                Guest::P2(proxy),
                Call::P2 {
                    request,
                    response_out,
                },
            ) => {
                (proxy.wasi_http_incoming_handler())
                    .call_handle(&mut *store, request, response_out)
                    .await?;
                Ok(Guest::P2(proxy))
            }
            (
                Guest::P3(service),
                Call::P3 {
                    request,
                    request_io,
                    respond,
                },
            ) => {
                let guest = &service;
                store
                    .run_concurrent(async move |accessor| {
                        let answer = answer_p3(guest, accessor, request, request_io).await?;
                        let _ = respond.send(answer);
                        std::future::poll_fn(|cx| accessor.poll_no_interesting_tasks(cx)).await;
                        wasmtime::Result::<()>::Ok(())
                    })
                    .await??;
                Ok(Guest::P3(service))
            }
            _ => Err(wasmtime::format_err!(
                "a request made ready for the other world"
            )),
        }
    }
}

/// `request` with an absolute target: the connection's scheme, and the
/// target's authority or else `Host`'s (neither: the client's fault).
fn absolute<B>(scheme: Scheme, request: hyper::Request<B>) -> anyhow::Result<hyper::Request<B>> {
    let (mut parts, body) = request.into_parts();
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    if uri.authority.is_none() {
        let host = (parts.headers.get(http::header::HOST))
            .context("the request has neither an authority nor a Host header")?;
        uri.authority = Some(http::uri::Authority::try_from(host.as_bytes())?);
    }
    uri.scheme = Some(match scheme {
        Scheme::Http => http::uri::Scheme::HTTP,
        Scheme::Https => http::uri::Scheme::HTTPS,
        Scheme::Other(other) => other.parse()?,
    });
    if uri.path_and_query.is_none() {
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    parts.uri = http::Uri::from_parts(uri)?;
    Ok(hyper::Request::from_parts(parts, body))
}
