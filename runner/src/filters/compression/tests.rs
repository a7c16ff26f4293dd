use super::*;
use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZstdDecoder};
use http::header::{ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_TYPE, VARY};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tokio::io::AsyncReadExt;

fn offered(accept: &str, codings: &[Coding]) -> Option<Coding> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
    super::chosen(&headers, codings)
}

fn chosen(accept: &str) -> Option<Coding> {
    offered(accept, &Compression::default().codings)
}

#[test]
fn the_clients_q_values_choose_and_ties_go_to_the_servers_order() {
    // Chromium's and Firefox's.
    assert_eq!(chosen("gzip, deflate, br, zstd"), Some(Coding::Zstd));
    assert_eq!(chosen("gzip, deflate, br"), Some(Coding::Brotli));
    assert_eq!(chosen("gzip"), Some(Coding::Gzip));
    assert_eq!(chosen("GZip;Q=0.5"), Some(Coding::Gzip));
    assert_eq!(chosen("br;q=0.5, gzip"), Some(Coding::Gzip));
    assert_eq!(
        chosen("zstd;q=0.2, br;q=0.9, gzip;q=0.9"),
        Some(Coding::Brotli)
    );
    assert_eq!(chosen("gzip, br"), Some(Coding::Brotli));
    assert_eq!(
        offered("gzip, br", &[Coding::Gzip, Coding::Brotli]),
        Some(Coding::Gzip)
    );
    assert_eq!(offered("br, zstd", &[Coding::Gzip]), None);
}

#[test]
fn wildcards_identity_and_refusals() {
    assert_eq!(chosen("*"), Some(Coding::Zstd));
    assert_eq!(chosen("zstd;q=0, *"), Some(Coding::Brotli));
    assert_eq!(chosen("*;q=0"), None);
    assert_eq!(chosen("identity"), None);
    assert_eq!(chosen(""), None);
    // The body as it is, when the client ranks it higher.
    assert_eq!(chosen("gzip;q=0.5, identity"), None);
    assert_eq!(chosen("gzip;q=0.5, identity;q=0.5"), Some(Coding::Gzip));
    // Unlisted, identity is acceptable but any named coding wins.
    assert_eq!(chosen("gzip;q=0.001"), Some(Coding::Gzip));
    assert_eq!(chosen("deflate, compress"), None);
    assert_eq!(
        super::chosen(&HeaderMap::new(), &Compression::default().codings),
        None
    );
}

#[test]
fn malformed_q_values_drop_their_item() {
    assert_eq!(chosen("gzip;q=1.5"), None);
    assert_eq!(chosen("gzip;q=0.1234"), None);
    assert_eq!(chosen("gzip;q=x, br"), Some(Coding::Brotli));
    assert_eq!(chosen("gzip;q=1.000"), Some(Coding::Gzip));
    assert_eq!(chosen("gzip;q=0.05, br;q=0.5"), Some(Coding::Brotli));
    assert_eq!(chosen("gzip;level=1;q=0.5"), Some(Coding::Gzip));
}

#[test]
fn the_flag_names_codings_or_none() {
    let parsed: Compression = "gzip, zstd,gzip".parse().unwrap();
    assert_eq!(parsed.codings, [Coding::Gzip, Coding::Zstd]);
    assert!("none".parse::<Compression>().unwrap().codings.is_empty());
    let error = "gzip,deflate".parse::<Compression>().unwrap_err();
    assert!(error.contains("\"deflate\""), "{error}");
}

fn request(accept: Option<&str>, if_none_match: Option<&str>) -> http::Request<()> {
    let mut request = http::Request::get("/page.html");
    if let Some(accept) = accept {
        request = request.header(ACCEPT_ENCODING, accept);
    }
    if let Some(tags) = if_none_match {
        request = request.header(IF_NONE_MATCH, tags);
    }
    request.body(()).unwrap()
}

fn negotiated(request: &mut http::Request<()>) -> Negotiated {
    Compression::default().negotiate(request).unwrap()
}

const TEXT: &str = "<p>sitebox compresses what is worth it</p>\n";

fn page(content_type: &str) -> http::Response<Full<Bytes>> {
    let body = TEXT.repeat(100);
    http::Response::builder()
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, body.len())
        .header(ETAG, "\"4300-1700000000-5\"")
        .header(ACCEPT_RANGES, "bytes")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// The HTML `page` with one header more (or one replaced).
fn with(name: http::HeaderName, value: &'static str) -> http::Response<Full<Bytes>> {
    let mut page = page("text/html");
    (page.headers_mut()).insert(name, HeaderValue::from_static(value));
    page
}

async fn bytes_of<B: Body<Data = Bytes>>(body: B) -> Vec<u8>
where
    B::Error: std::fmt::Debug,
{
    body.collect().await.unwrap().to_bytes().to_vec()
}

async fn decoded(coding: &str, bytes: &[u8]) -> String {
    let mut text = String::new();
    match coding {
        "zstd" => ZstdDecoder::new(bytes).read_to_string(&mut text).await,
        "br" => BrotliDecoder::new(bytes).read_to_string(&mut text).await,
        "gzip" => GzipDecoder::new(bytes).read_to_string(&mut text).await,
        other => panic!("not a coding: {other}"),
    }
    .unwrap();
    text
}

#[tokio::test]
async fn each_coding_round_trips_with_its_headers() {
    for coding in Coding::ALL {
        let mut request = request(Some(coding.token()), None);
        let response = negotiated(&mut request).apply(page("text/html; charset=utf-8"));
        let headers = response.headers();
        assert_eq!(headers[CONTENT_ENCODING], coding.token());
        assert_eq!(headers[VARY], "Accept-Encoding");
        let tag = format!("W/\"4300-1700000000-5-{}\"", coding.token());
        assert_eq!(headers[ETAG], tag.as_str());
        assert!(!headers.contains_key(CONTENT_LENGTH));
        assert!(!headers.contains_key(ACCEPT_RANGES));
        let body = bytes_of(response.into_body()).await;
        assert!(
            body.len() < TEXT.len() * 10,
            "{coding:?}: {} bytes",
            body.len()
        );
        assert_eq!(decoded(coding.token(), &body).await, TEXT.repeat(100));
    }
}

#[tokio::test]
async fn a_client_that_asks_for_none_gets_the_body_but_the_vary() {
    let mut request = request(None, None);
    let response = negotiated(&mut request).apply(page("text/css"));
    let headers = response.headers();
    assert!(!headers.contains_key(CONTENT_ENCODING));
    assert_eq!(headers[VARY], "Accept-Encoding");
    assert_eq!(headers[ETAG], "\"4300-1700000000-5\"");
    assert_eq!(
        headers[CONTENT_LENGTH],
        (TEXT.len() * 100).to_string().as_str()
    );
    assert_eq!(
        bytes_of(response.into_body()).await,
        TEXT.repeat(100).as_bytes()
    );
}

/// Sends `response` to a client that accepts every coding; whether the
/// runner compressed it (if not, the bytes are still those sent).
async fn compressed(response: http::Response<Full<Bytes>>, method: Method) -> bool {
    let mut request = request(Some("zstd, br, gzip"), None);
    *request.method_mut() = method;
    let sent = response.body().clone();
    let coding = response.headers().get(CONTENT_ENCODING).cloned();
    let response = negotiated(&mut request).apply(response);
    let coded = response.headers().get(CONTENT_ENCODING) != coding.as_ref();
    if !coded {
        let body = bytes_of(response.into_body()).await;
        assert_eq!(body, bytes_of(sent).await);
    }
    coded
}

#[tokio::test]
async fn what_is_not_compressed() {
    assert!(compressed(page("application/json"), Method::GET).await);
    assert!(compressed(page("Text/HTML; charset=UTF-8"), Method::GET).await);
    assert!(compressed(page("image/svg+xml"), Method::GET).await);
    assert!(compressed(page("application/manifest+json"), Method::GET).await);
    for kind in [
        "image/png",
        "video/mp4",
        "font/woff2",
        "application/zip",
        "text/event-stream",
    ] {
        assert!(!compressed(page(kind), Method::GET).await, "{kind}");
    }
    let mut untyped = page("text/html");
    untyped.headers_mut().remove(CONTENT_TYPE);
    assert!(!compressed(untyped, Method::GET).await);

    let sidecar = with(CONTENT_ENCODING, "br");
    assert!(!compressed(sidecar, Method::GET).await);
    let mut range = with(CONTENT_RANGE, "bytes 0-9/4400");
    *range.status_mut() = StatusCode::PARTIAL_CONTENT;
    assert!(!compressed(range, Method::GET).await);
    let no_transform = with(CACHE_CONTROL, "public, No-Transform");
    assert!(!compressed(no_transform, Method::GET).await);
    let small = with(CONTENT_LENGTH, "1023");
    assert!(!compressed(small, Method::GET).await);
    // Known small from the body itself.
    let short = http::Response::builder()
        .header(CONTENT_TYPE, "text/html")
        .body(Full::new(Bytes::from(TEXT)))
        .unwrap();
    assert!(!compressed(short, Method::GET).await);

    // An error page is compressed like any other.
    let mut missing = page("text/html");
    *missing.status_mut() = StatusCode::NOT_FOUND;
    assert!(compressed(missing, Method::GET).await);
}

#[tokio::test]
async fn head_gets_the_headers_get_would_and_no_body() {
    let mut request = request(Some("gzip"), None);
    *request.method_mut() = Method::HEAD;
    let response = http::Response::builder()
        .header(CONTENT_TYPE, "text/html")
        .header(CONTENT_LENGTH, "4400")
        .header(ETAG, "\"1\"")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = negotiated(&mut request).apply(response);
    assert_eq!(response.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(response.headers()[ETAG], "W/\"1-gzip\"");
    assert!(!response.headers().contains_key(CONTENT_LENGTH));
    assert!(bytes_of(response.into_body()).await.is_empty());
}

#[test]
fn a_revalidation_asks_the_component_with_its_own_tag() {
    let tags = "W/\"12-34-5-zstd\", \"12-34-5-br\", W/\"9-9-9-gzip\"";
    let mut zstd = request(Some("zstd"), Some(tags));
    let outcome = negotiated(&mut zstd);
    assert_eq!(outcome.revalidating, ["12-34-5"]);
    assert_eq!(
        zstd.headers()[IF_NONE_MATCH],
        format!("{tags}, W/\"12-34-5\"").as_str()
    );

    // A strong tag is the component's own (a precompressed file): as it is.
    let mut br = request(Some("br"), Some(tags));
    assert!(negotiated(&mut br).revalidating.is_empty());
    assert_eq!(br.headers()[IF_NONE_MATCH], tags);

    // Held in one coding, asked in another: the component sees no match.
    let mut identity = request(None, Some(tags));
    assert!(negotiated(&mut identity).revalidating.is_empty());
    assert_eq!(identity.headers()[IF_NONE_MATCH], tags);
}

fn not_modified(tag: &str) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .header(ETAG, tag)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[test]
fn a_304_names_the_representation_the_client_holds() {
    let mut held = request(Some("zstd"), Some("W/\"12-34-5-zstd\""));
    let response = negotiated(&mut held).apply(not_modified("\"12-34-5\""));
    assert_eq!(response.headers()[ETAG], "W/\"12-34-5-zstd\"");
    assert_eq!(response.headers()[VARY], "Accept-Encoding");

    // The component's own tag matched (a precompressed file): untouched.
    let mut sidecar = request(Some("br"), Some("\"12-34-5-br\""));
    let response = negotiated(&mut sidecar).apply(not_modified("\"12-34-5-br\""));
    assert_eq!(response.headers()[ETAG], "\"12-34-5-br\"");
    // Every 304 says Vary, as its 200 may have (it has no type to tell).
    assert_eq!(response.headers()[VARY], "Accept-Encoding");
}

#[test]
fn a_part_varies_as_its_whole_would() {
    let part = |content_type: &str, range: &str| {
        let response = http::Response::builder()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(CONTENT_TYPE, content_type)
            .header(CONTENT_RANGE, range)
            .body(Full::new(Bytes::from_static(b"0123456789")))
            .unwrap();
        let mut request = request(Some("gzip"), None);
        let response = negotiated(&mut request).apply(response);
        assert!(!response.headers().contains_key(CONTENT_ENCODING));
        response.headers().get(VARY).cloned()
    };
    assert_eq!(
        part("text/html", "bytes 0-9/4400").unwrap(),
        "Accept-Encoding"
    );
    assert_eq!(part("text/html", "bytes 0-9/500"), None);
    assert_eq!(part("image/png", "bytes 0-9/4400"), None);
}

#[test]
fn vary_is_said_once() {
    let mut headers = HeaderMap::new();
    headers.insert(VARY, HeaderValue::from_static("Origin, Accept-Encoding"));
    add_vary(&mut headers);
    assert_eq!(headers.get_all(VARY).iter().count(), 1);
    let mut star = HeaderMap::new();
    star.insert(VARY, HeaderValue::from_static("*"));
    add_vary(&mut star);
    assert_eq!(star.get_all(VARY).iter().count(), 1);
    let mut origin = HeaderMap::new();
    origin.insert(VARY, HeaderValue::from_static("Origin"));
    add_vary(&mut origin);
    assert_eq!(origin.get_all(VARY).iter().count(), 2);
}

#[tokio::test]
async fn the_body_streams_through_the_encoder() {
    // Text that compresses poorly, so output is due long before the end.
    let mut state = 0x2545_f491_u32;
    let mut piece = || -> Bytes {
        (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                b'a' + (state % 26) as u8
            })
            .collect::<Vec<u8>>()
            .into()
    };
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(1);
    let body = StreamBody::new(tokio_stream_of(receiver));
    let response = http::Response::builder()
        .header(CONTENT_TYPE, "text/plain")
        .body(body)
        .unwrap();
    let mut request = request(Some("gzip"), None);
    let mut body = negotiated(&mut request).apply(response).into_body();
    let mut sent = 0;
    let first = loop {
        tokio::select! {
            frame = body.frame() => break frame,
            permit = sender.reserve() => {
                permit.unwrap().send(Ok(Frame::data(piece())));
                sent += 1;
                assert!(sent < 256, "1 MiB in and nothing out: the encoder holds the body");
            }
        }
    };
    let first = first.unwrap().unwrap().into_data().unwrap();
    assert!(!first.is_empty());
    assert!(!sender.is_closed(), "output came before the body's end");
}

fn tokio_stream_of<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}
