//! Validators, conditional requests and Cache-Control over real HTTP: strong
//! `ETag` and `Last-Modified` on every file; 304 for `If-None-Match` (lists,
//! `*`, weak comparison) and `If-Modified-Since`; 412 for failing `If-Match`
//! and `If-Unmodified-Since`; HTML `no-cache`, other files a max-age.

use sitebox_tests as support;

use http::{Method, StatusCode};
use sitebox_runner::SiteSettings;
use support::client::{self, Reply};
use support::{Server, TestSite};

async fn get_with(server: &Server, target: &str, headers: &[(&str, &str)]) -> Reply {
    client::request(server.addr, Method::GET, target, headers).await
}

async fn every_file_has_validators(server: &Server) {
    for target in ["/", "/index.css", "/logo.png", "/page.html"] {
        let reply = client::get(server.addr, target).await;
        let etag = reply.header("etag");
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
            "{target}: strong, quoted: {etag}"
        );
        let modified = httpdate::parse_http_date(reply.header("last-modified")).unwrap();
        assert!(modified <= std::time::SystemTime::now(), "{target}");
        let head = client::head(server.addr, target).await;
        assert_eq!(
            head.header("etag"),
            etag,
            "{target}: HEAD has the same validators"
        );
        assert_eq!(head.header("last-modified"), reply.header("last-modified"));
    }
}

async fn if_none_match_gives_304(server: &Server) {
    let first = client::get(server.addr, "/index.css").await;
    let etag = first.header("etag").to_owned();
    let weak = format!("W/{etag}");
    let list = format!("\"nope\", {etag}, \"other\"");
    for value in [etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        for method in [Method::GET, Method::HEAD] {
            let reply = client::request(
                server.addr,
                method.clone(),
                "/index.css",
                &[("if-none-match", value)],
            )
            .await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_MODIFIED,
                "{method} If-None-Match: {value}"
            );
            assert!(reply.body.is_empty());
            assert_eq!(reply.header("etag"), etag);
            assert_eq!(reply.header("last-modified"), first.header("last-modified"));
            assert_eq!(reply.header("cache-control"), first.header("cache-control"));
        }
    }
    let other = get_with(
        server,
        "/index.css",
        &[("if-none-match", "\"nope\", W/\"other\"")],
    )
    .await;
    assert_eq!(
        (other.status, other.body.len()),
        (StatusCode::OK, first.body.len())
    );
}

async fn if_modified_since_only_without_if_none_match(server: &Server) {
    let first = client::get(server.addr, "/logo.png").await;
    let modified = first.header("last-modified").to_owned();
    let reply = get_with(server, "/logo.png", &[("if-modified-since", &modified)]).await;
    assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
    let earlier = httpdate::fmt_http_date(
        httpdate::parse_http_date(&modified).unwrap() - std::time::Duration::from_secs(1),
    );
    assert_eq!(
        get_with(server, "/logo.png", &[("if-modified-since", &earlier)])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get_with(server, "/logo.png", &[("if-modified-since", "yesterday")])
            .await
            .status,
        StatusCode::OK
    );
    let both = [
        ("if-none-match", "\"stale\""),
        ("if-modified-since", modified.as_str()),
    ];
    assert_eq!(
        get_with(server, "/logo.png", &both).await.status,
        StatusCode::OK,
        "If-None-Match wins"
    );
}

async fn failing_preconditions_give_412(server: &Server) {
    let etag = client::get(server.addr, "/page.html")
        .await
        .header("etag")
        .to_owned();
    assert_eq!(
        get_with(server, "/page.html", &[("if-match", &etag)])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        get_with(server, "/page.html", &[("if-match", "*")])
            .await
            .status,
        StatusCode::OK
    );
    let weak = format!("W/{etag}");
    for header in [
        ("if-match", "\"stale\""),
        ("if-match", weak.as_str()),
        ("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT"),
    ] {
        let reply = get_with(server, "/page.html", &[header]).await;
        assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED, "{header:?}");
    }
}

async fn cache_control_by_type(server: &Server) {
    for (target, expected) in [
        ("/", "no-cache"),
        ("/page.html", "no-cache"),
        ("/index.css", "max-age=3600"),
        ("/logo.png", "max-age=3600"),
        ("/no-such-page", "no-cache"),
        ("/board", "no-store"),
        ("/api/messages", "no-store"),
    ] {
        assert_eq!(
            client::get(server.addr, target)
                .await
                .header("cache-control"),
            expected,
            "{target}"
        );
    }
}

/// A file whose modification time lies in the future: its `Last-Modified`
/// is the answer's `Date` (RFC 9110 §8.8.2.1), so never a strong validator
/// for `If-Range`; its `ETag` stays the one of its bytes (issue 32: it said
/// a date a day ahead, and `If-Range` with that date gave a 206).
async fn a_future_modification_time_is_clamped_to_the_date(server: &Server) {
    static WRITTEN: std::sync::Once = std::sync::Once::new();
    WRITTEN.call_once(|| {
        server.site.write("future.txt", "written tomorrow");
        let path = server.site.static_dir.join("future.txt");
        let file = std::fs::File::options().write(true).open(path).unwrap();
        let tomorrow = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
        file.set_modified(tomorrow).unwrap();
    });
    let first = client::get(server.addr, "/future.txt").await;
    let date = httpdate::parse_http_date(first.header("date")).unwrap();
    let modified = httpdate::parse_http_date(first.header("last-modified")).unwrap();
    assert!(
        modified <= date,
        "Last-Modified {modified:?} after Date {date:?}"
    );
    let last_modified = first.header("last-modified").to_owned();
    let etag = first.header("etag").to_owned();
    let ranged = [("range", "bytes=0-6"), ("if-range", last_modified.as_str())];
    let reply = get_with(server, "/future.txt", &ranged).await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (StatusCode::OK, "written tomorrow"),
        "a date no earlier than the Date is weak"
    );
    assert_eq!(
        reply.header("etag"),
        etag,
        "the ETag does not move with the clock"
    );
    let revalidated = get_with(server, "/future.txt", &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, StatusCode::NOT_MODIFIED);
    let date = httpdate::parse_http_date(revalidated.header("date")).unwrap();
    let modified = httpdate::parse_http_date(revalidated.header("last-modified")).unwrap();
    assert!(modified <= date, "on the 304 too");
}

support::on_each_backend!(
    shared_server =>
    every_file_has_validators,
    if_none_match_gives_304,
    if_modified_since_only_without_if_none_match,
    failing_preconditions_give_412,
    cache_control_by_type,
    a_future_modification_time_is_clamped_to_the_date,
);

/// The max-age comes from the runner's flag (the environment under
/// `wasmtime serve`).
#[tokio::test]
async fn max_age_is_configurable() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    let options = SiteSettings {
        max_age: 60,
        ..SiteSettings::default()
    };
    for (backend, addr) in support::start_servers(site, options) {
        assert_eq!(
            client::get(addr, "/index.css")
                .await
                .header("cache-control"),
            "max-age=60",
            "{backend:?}"
        );
        assert_eq!(
            client::get(addr, "/").await.header("cache-control"),
            "no-cache",
            "{backend:?}"
        );
    }
}

/// A changed file gets a new ETag: the old one no longer yields 304.
#[tokio::test]
async fn a_changed_file_has_a_new_etag() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    for (backend, addr) in support::start_servers(site, SiteSettings::default()) {
        site.write("changing.txt", format!("version one for {backend:?}"));
        let old = client::get(addr, "/changing.txt")
            .await
            .header("etag")
            .to_owned();
        site.write(
            "changing.txt",
            format!("version two, longer, for {backend:?}"),
        );
        let reply = client::request(
            addr,
            Method::GET,
            "/changing.txt",
            &[("if-none-match", &old)],
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{backend:?}");
        assert_ne!(reply.header("etag"), old);
        assert!(reply.text().starts_with("version two"));
    }
}
