//! The gate before an instance: a request's body is read ahead (all of a
//! small one) and its client takes one of its slots, so neither a client
//! that trickles its body nor one with many requests at once can hold the
//! instances everyone shares. Then the host runs the guest (a request with
//! credentials when `logins` lets it).

use crate::Limits;
use crate::filters::observed::FrameObserver;
use crate::guest::host::{Failure, GuestResponse, Host};
use crate::serving::client_slots::{ClientSlot, ClientSlots};
use crate::serving::host_pages::{answer_failure, refusal_page, try_again_soon};
use crate::serving::logins::Logins;
use crate::serving::pace::{Pace, Paced};
use crate::serving::read_ahead::{Unread, read_ahead};
use crate::serving::request_rules::Refusal;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Frame;
use std::net::IpAddr;
use std::time::Duration;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;

pub struct Gate {
    slots: ClientSlots,
    max_body: u64,
    /// How long a request may wait: for each piece of its body, and for its
    /// client's slot.
    patience: Duration,
}

impl Gate {
    pub fn new(limits: &Limits) -> Gate {
        Gate {
            // A client's waiting requests are not in the instances' queue;
            // as many as a quarter of it may wait.
            slots: ClientSlots::new(limits.max_per_client, limits.max_queue / 4),
            max_body: limits.max_body,
            patience: limits.request_timeout,
        }
    }

    /// Runs `request` from `client`, whose connection keeps `pace`, through
    /// the host: the guest's response with the client's slot, which the
    /// response's body is to hold until it ends; or the runner's own answer.
    pub async fn pass<B>(
        &self,
        host: &Host,
        logins: &Logins,
        scheme: Scheme,
        client: IpAddr,
        pace: &Pace,
        request: Request<B>,
    ) -> Result<(GuestResponse, Option<ClientSlot>), GuestResponse>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let credentialed = crate::serving::logins::carries_credentials(request.headers());
        let (parts, body) = request.into_parts();
        let body = match read_ahead(Paced::request(body, pace), self.max_body, self.patience).await
        {
            Ok(body) => body,
            Err(unread) => return Err(self.unread(&unread, parts.version)),
        };
        let slot = (self.slots.admit(client, self.patience).await).map_err(|_| too_many())?;
        let request = Request::from_parts(parts, body);
        match logins
            .guard(client, credentialed, host.handle(scheme, request))
            .await
        {
            Ok(Ok(response)) => Ok((response, slot)),
            Ok(Err(failure)) => Err(answer_failure(failure, self.max_body)),
            Err(refused) => Err(refused.page()),
        }
    }

    fn unread<E>(&self, unread: &Unread<E>, version: http::Version) -> GuestResponse {
        let refusal = |status, message| refusal_page(&Refusal { status, message }, version);
        match unread {
            Unread::TooLarge => answer_failure(Failure::BodyTooLarge, self.max_body),
            Unread::TimedOut => refusal(
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not come in time.",
            ),
            Unread::Broken(_) => refusal(StatusCode::BAD_REQUEST, "The request body broke off."),
        }
    }
}

/// 429 for a client with as many requests running and waiting as it may.
fn too_many() -> GuestResponse {
    try_again_soon(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests at once from your address; try again in a moment.",
    )
}

/// A response body holds its client's slot until it ends.
impl FrameObserver for Option<ClientSlot> {
    fn observe<E>(&mut self, frame: &Option<Result<Frame<Bytes>, E>>) {
        if !matches!(frame, Some(Ok(_))) {
            self.take();
        }
    }
}
