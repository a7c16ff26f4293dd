//! The only module that touches WASI: turns a `wasi:http` request into an
//! `http::Request`, gives the router the preopens (`dir`: the site as a
//! `StaticFs`, the data as the board's `Dir`), and writes the
//! `http::Response` back (`send`), streaming file bodies.
//!
//! May use: every area (it builds the router's `Site` from the host's
//! parts); nothing uses it.

mod bindings;
mod bucket;
mod dir;
#[cfg(feature = "p3")]
mod p3;
#[cfg(not(feature = "p3"))]
mod send;

#[cfg(not(feature = "p3"))]
use crate::http::body::{BodyError, RequestBody};
use crate::http::html;
use crate::http::{response, security_headers};
#[cfg(not(feature = "p3"))]
use crate::router;
use crate::router::Site;
use crate::rules::HandedRules;
use crate::settings::{self, Settings};
use crate::store::file_store::FileStore;
use crate::store::idempotency::{Once, Submission};
use crate::store::kv_store::KvStore;
use crate::store::{Message, Page, Store, StoreError};
use bucket::WasiBucket;
use dir::WasiDir;
use http::StatusCode;
use jiff::Timestamp;
#[cfg(not(feature = "p3"))]
use send::{send, stream_error};
use wasi::filesystem::types::DescriptorFlags;
#[cfg(not(feature = "p3"))]
use wasi::http::types::{IncomingBody, IncomingRequest, Method, ResponseOutparam, Scheme};
#[cfg(not(feature = "p3"))]
use wasi::io::streams::StreamError;

// The guest's heap: 256 KiB of bump allocation in the initial memory (a file
// request uses a few pages of it), then wasi-libc's malloc.
crate::global_arena!(HEAP, 256 << 10);

/// What one request is served with: the preopens, the settings and rules
/// from the environment, and the board's store — the same for both worlds.
fn site() -> Site<WasiDir, BoardStore> {
    let mut preopens = wasi::filesystem::preopens::get_directories();
    let mut take = |guest_path, flags| WasiDir::take(&mut preopens, guest_path, flags);
    // The environment in one host call; `std::env::var` would have
    // wasi-libc build `environ` and scan it per variable.
    let mut environment = wasi::cli::environment::get_environment();
    let (settings, warnings) = Settings::from_env(|name| {
        let found = environment.iter().find(|(key, _)| key == name);
        found.map(|(_, value)| value.clone())
    });
    for warning in warnings {
        eprintln!("sitebox: {warning}; using the default");
    }
    let handed_rules = HandedRules {
        redirects: take_var(&mut environment, settings::REDIRECTS_VAR),
        headers: take_var(&mut environment, settings::HEADERS_VAR),
    };
    let static_root = take(settings::STATIC_DIR, DescriptorFlags::READ);
    let data = take(
        settings::DATA_DIR,
        DescriptorFlags::READ | DescriptorFlags::MUTATE_DIRECTORY,
    );
    let store = if data.is_preopened() {
        BoardStore::Files(FileStore::new(data, wall_clock, wasi_random))
    } else {
        BoardStore::KeyValue(KvStore::new(
            WasiBucket::new(&settings.bucket),
            wall_clock,
            wasi_random,
        ))
    };
    Site {
        static_root,
        store,
        settings,
        clock: wall_clock,
        random: wasi_random,
        handed_rules,
    }
}

/// The answer to a request whose target or headers `http` cannot hold.
fn bad_request() -> response::Response<wasi::filesystem::types::Descriptor> {
    let status = StatusCode::BAD_REQUEST;
    let page = html::error_page(status, "Bad request: malformed request target or header.");
    let mut response = response::html(status, page);
    security_headers::for_every_answer(response.headers_mut());
    response
}

#[cfg(not(feature = "p3"))]
struct Component;

#[cfg(not(feature = "p3"))]
impl bindings::exports::wasi::http::incoming_handler::Guest for Component {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let response = match to_http_request(request) {
            Ok(request) => router::handle(request, &site()),
            Err(()) => bad_request(),
        };
        send(response, response_out);
    }
}

#[cfg(not(feature = "p3"))]
bindings::export!(Component with_types_in bindings);

/// The value of the variable `name`, moved out (a rules file's text is
/// kilobytes: not copied again).
fn take_var(environment: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let index = environment.iter().position(|(key, _)| key == name)?;
    Some(environment.swap_remove(index).1)
}

/// The host's wall clock: the only place the component reads the time.
fn wall_clock() -> Timestamp {
    let now = wasi::clocks::wall_clock::now();
    let seconds = i64::try_from(now.seconds).unwrap_or(i64::MAX);
    let nanoseconds = i32::try_from(now.nanoseconds).unwrap_or(0);
    Timestamp::new(seconds, nanoseconds).unwrap_or(Timestamp::MAX)
}

/// The host's randomness (`wasi:random/random`): the only place the
/// component reads it.
fn wasi_random(bytes: &mut [u8]) -> Result<(), String> {
    let len = u64::try_from(bytes.len()).map_err(|_| "too many bytes asked for".to_owned())?;
    let random = wasi::random::random::get_random_bytes(len);
    if random.len() != bytes.len() {
        return Err(format!(
            "the host gave {} random bytes, not {}",
            random.len(),
            bytes.len()
        ));
    }
    bytes.copy_from_slice(&random);
    Ok(())
}

/// The board's storage, chosen per request: the data directory when the
/// host preopens `/data`, else the key-value bucket named by the settings.
/// The bucket is opened on first use, so a static file makes no key-value
/// call.
enum BoardStore {
    Files(FileStore<WasiDir>),
    KeyValue(KvStore<WasiBucket>),
}

impl Store for BoardStore {
    fn append(&self, text: &str, posted_at: Timestamp) -> Result<Message, StoreError> {
        match self {
            BoardStore::Files(store) => store.append(text, posted_at),
            BoardStore::KeyValue(store) => store.append(text, posted_at),
        }
    }

    fn append_once(
        &self,
        submission: &Submission,
        text: &str,
        posted_at: Timestamp,
    ) -> Result<Once<Message>, StoreError> {
        match self {
            BoardStore::Files(store) => store.append_once(submission, text, posted_at),
            BoardStore::KeyValue(store) => store.append_once(submission, text, posted_at),
        }
    }

    fn page(&self, before: Option<u64>, limit: usize) -> Result<Page, StoreError> {
        match self {
            BoardStore::Files(store) => store.page(before, limit),
            BoardStore::KeyValue(store) => store.page(before, limit),
        }
    }

    fn get(&self, id: u64) -> Result<Option<Message>, StoreError> {
        match self {
            BoardStore::Files(store) => store.get(id),
            BoardStore::KeyValue(store) => store.get(id),
        }
    }

    fn delete(&self, id: u64, now: Timestamp) -> Result<bool, StoreError> {
        match self {
            BoardStore::Files(store) => store.delete(id, now),
            BoardStore::KeyValue(store) => store.delete(id, now),
        }
    }

    fn clear(&self) -> Result<(), StoreError> {
        match self {
            BoardStore::Files(store) => store.clear(),
            BoardStore::KeyValue(store) => store.clear(),
        }
    }
}

#[cfg(not(feature = "p3"))]
fn to_http_request(request: IncomingRequest) -> Result<http::Request<WasiBody>, ()> {
    let method = match request.method() {
        Method::Get => http::Method::GET,
        Method::Head => http::Method::HEAD,
        Method::Post => http::Method::POST,
        Method::Put => http::Method::PUT,
        Method::Delete => http::Method::DELETE,
        Method::Connect => http::Method::CONNECT,
        Method::Options => http::Method::OPTIONS,
        Method::Trace => http::Method::TRACE,
        Method::Patch => http::Method::PATCH,
        Method::Other(name) => http::Method::from_bytes(name.as_bytes()).map_err(|_| ())?,
    };
    let target = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    // An absolute URI for unsafe methods, so the core knows its own origin
    // for their same-origin check; GET and HEAD need no origin and skip two
    // host calls. `OPTIONS *` stays as it is.
    let origin = if method.is_safe() {
        None
    } else {
        request.scheme().zip(request.authority())
    };
    // Built from its typed parts: the core reads the scheme, host and port
    // back as such (no string to format here and parse apart there).
    let uri = match origin {
        Some((scheme, authority)) if target.starts_with('/') => {
            let scheme = match scheme {
                Scheme::Http => http::uri::Scheme::HTTP,
                Scheme::Https => http::uri::Scheme::HTTPS,
                Scheme::Other(other) => other.parse().map_err(|_| ())?,
            };
            http::Uri::builder()
                .scheme(scheme)
                .authority(authority)
                .path_and_query(target)
                .build()
                .map_err(|_| ())?
        }
        _ => target.parse().map_err(|_| ())?,
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    builder.body(WasiBody(request)).map_err(|_| ())
}

/// The request body, read only when a handler asks for it.
#[cfg(not(feature = "p3"))]
struct WasiBody(IncomingRequest);

#[cfg(not(feature = "p3"))]
impl RequestBody for WasiBody {
    fn read_to_end(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let body = self
            .0
            .consume()
            .map_err(|()| BodyError::Io("body already taken".into()))?;
        let stream = body
            .stream()
            .map_err(|()| BodyError::Io("body stream taken".into()))?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(error) => return Err(BodyError::Io(stream_error(error))),
            }
            if bytes.len() > limit {
                return Err(BodyError::TooLarge);
            }
        }
        drop(stream);
        drop(IncomingBody::finish(body));
        Ok(bytes)
    }
}
