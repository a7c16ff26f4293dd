//! Validators and caching, conditional requests, ranges, precompressed
//! sidecars and content types.

use super::*;

#[test]
fn validators_and_cache_control() {
    let css = get_path(&site(), "/index.css").unwrap();
    assert_eq!(header(&css, "etag"), format!("\"18-{MODIFIED_SECS}-0\""));
    assert_eq!(
        header(&css, "last-modified"),
        "Tue, 14 Nov 2023 22:13:20 GMT"
    );
    assert_eq!(header(&css, "cache-control"), "max-age=3600");
    assert_eq!(header(&css, "accept-ranges"), "bytes");
    assert!(css.headers().get(VARY).is_none(), "no sidecars, no Vary");
    let html = get_path(&site(), "/").unwrap();
    assert_eq!(header(&html, "cache-control"), "no-cache");
    let short = Settings {
        max_age: 60,
        ..settings()
    };
    assert_eq!(
        header(
            &get_with(&site(), "/index.css", &[], &short).unwrap(),
            "cache-control"
        ),
        "max-age=60"
    );
}

#[test]
fn conditional_requests() {
    let etag = header(&get_path(&site(), "/index.css").unwrap(), "etag").to_owned();
    let not_modified = get_with(
        &site(),
        "/index.css",
        &[("if-none-match", &etag)],
        &settings(),
    )
    .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert!(matches!(not_modified.body(), Body::Empty));
    assert_eq!(header(&not_modified, "etag"), etag);
    assert!(not_modified.headers().get(LAST_MODIFIED).is_some());
    assert!(not_modified.headers().get(CONTENT_LENGTH).is_none());
    let date = "Tue, 14 Nov 2023 22:13:20 GMT";
    let by_date = get_with(
        &site(),
        "/index.css",
        &[("if-modified-since", date)],
        &settings(),
    )
    .unwrap();
    assert_eq!(by_date.status(), StatusCode::NOT_MODIFIED);
    let failed = get_with(
        &site(),
        "/index.css",
        &[("if-match", "\"other\"")],
        &settings(),
    );
    assert_eq!(failed.unwrap_err(), Error::PreconditionFailed);
    let changed = get_with(
        &site(),
        "/index.css",
        &[("if-none-match", "\"old\"")],
        &settings(),
    )
    .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
}

#[test]
fn single_ranges() {
    let cases = [
        ("bytes=0-0", "0", "bytes 0-0/10"),
        ("bytes=9-9", "9", "bytes 9-9/10"),
        ("bytes=-3", "789", "bytes 7-9/10"),
        ("bytes=7-", "789", "bytes 7-9/10"),
        ("bytes=-500", "0123456789", "bytes 0-9/10"),
        ("bytes=8-100", "89", "bytes 8-9/10"),
    ];
    for (range, expected, content_range) in cases {
        let response = get_with(&site(), "/digits.txt", &[("range", range)], &settings()).unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(body(&response), expected.as_bytes(), "{range}");
        assert_eq!(header(&response, "content-range"), content_range, "{range}");
        assert_eq!(
            header(&response, "content-length"),
            expected.len().to_string(),
            "{range}"
        );
        assert_eq!(
            header(&response, "content-type"),
            "text/plain; charset=utf-8"
        );
    }
}

#[test]
fn unsatisfiable_and_ignored_ranges() {
    let response = get_with(
        &site(),
        "/digits.txt",
        &[("range", "bytes=10-")],
        &settings(),
    )
    .unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&response, "content-range"), "bytes */10");
    for ignored in ["bytes=5-1", "lines=1-2", "bytes=x"] {
        let response =
            get_with(&site(), "/digits.txt", &[("range", ignored)], &settings()).unwrap();
        assert_eq!(
            (response.status(), body(&response)),
            (StatusCode::OK, b"0123456789".to_vec()),
            "{ignored}"
        );
    }
    let head = get(
        &site(),
        &request(Method::HEAD, "/digits.txt", &[("range", "bytes=0-1")]),
        context(&settings()),
    )
    .unwrap();
    assert_eq!(head.status(), StatusCode::OK, "Range applies to GET only");
}

#[test]
fn if_range_decides_between_part_and_whole() {
    let etag = header(&get_path(&site(), "/digits.txt").unwrap(), "etag").to_owned();
    let current = get_with(
        &site(),
        "/digits.txt",
        &[("range", "bytes=0-1"), ("if-range", &etag)],
        &settings(),
    )
    .unwrap();
    assert_eq!(current.status(), StatusCode::PARTIAL_CONTENT);
    let stale = get_with(
        &site(),
        "/digits.txt",
        &[("range", "bytes=0-1"), ("if-range", "\"old\"")],
        &settings(),
    )
    .unwrap();
    assert_eq!((stale.status(), body(&stale).len()), (StatusCode::OK, 10));
}

#[test]
fn several_ranges_are_multipart() {
    let response = get_with(
        &site(),
        "/digits.txt",
        &[("range", "bytes=0-1,-2")],
        &settings(),
    )
    .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    let content_type = header(&response, "content-type").to_owned();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    let text = String::from_utf8(body(&response)).unwrap();
    let expected = format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
         \r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 8-9/10\r\n\r\n89\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(text, expected);
    assert_eq!(
        header(&response, "content-length"),
        expected.len().to_string()
    );
}

#[test]
fn sidecars_follow_accept_encoding() {
    let with = |accept: &str| {
        get_with(
            &site(),
            "/app.js",
            &[("accept-encoding", accept)],
            &settings(),
        )
    };
    let br = with("gzip, br").unwrap();
    assert_eq!(body(&br), b"BR");
    assert_eq!(header(&br, "content-encoding"), "br");
    assert_eq!(
        header(&br, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&br, "content-length"), "2");
    assert_eq!(header(&br, "vary"), "Accept-Encoding");
    assert!(header(&br, "etag").ends_with("-br\""));
    let gzip = with("gzip").unwrap();
    assert_eq!(
        (body(&gzip), header(&gzip, "content-encoding")),
        (b"GZIP!".to_vec(), "gzip")
    );
    assert_ne!(header(&gzip, "etag"), header(&br, "etag"));
    let plain = get_path(&site(), "/app.js").unwrap();
    assert_eq!(body(&plain), b"console.log('plain');");
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(
        header(&plain, "vary"),
        "Accept-Encoding",
        "Vary on every response of a file with sidecars"
    );
    let refused = with("zstd, identity;q=0");
    assert_eq!(refused.unwrap_err(), Error::NotAcceptable);
    let etag = header(&br, "etag").to_owned();
    let not_modified = get_with(
        &site(),
        "/app.js",
        &[("accept-encoding", "br"), ("if-none-match", &etag)],
        &settings(),
    )
    .unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&not_modified, "vary"), "Accept-Encoding");
    let ranged = get_with(
        &site(),
        "/app.js",
        &[("accept-encoding", "gzip"), ("range", "bytes=1-2")],
        &settings(),
    )
    .unwrap();
    assert_eq!(
        (body(&ranged), header(&ranged, "content-range")),
        (b"ZI".to_vec(), "bytes 1-2/5")
    );
}

#[test]
fn a_416_of_a_sidecar_carries_no_representation() {
    let headers = [("accept-encoding", "gzip"), ("range", "bytes=50-")];
    let response = get_with(&site(), "/app.js", &headers, &settings()).unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        header(&response, "content-range"),
        "bytes */5",
        "the sidecar's length"
    );
    assert_eq!(header(&response, "vary"), "Accept-Encoding");
    for name in [CONTENT_ENCODING, ETAG, LAST_MODIFIED, CACHE_CONTROL] {
        assert!(response.headers().get(&name).is_none(), "{name}");
    }
}

#[test]
fn several_ranges_of_a_sidecar_are_of_the_plain_file() {
    let several = |accept: &str| {
        let headers = [("accept-encoding", accept), ("range", "bytes=0-0,2-3")];
        get_with(&site(), "/app.js", &headers, &settings()).unwrap()
    };
    let multipart = several("gzip");
    assert_eq!(multipart.status(), StatusCode::PARTIAL_CONTENT);
    assert!(multipart.headers().get(CONTENT_ENCODING).is_none());
    let plain = get_path(&site(), "/app.js").unwrap();
    assert_eq!(header(&multipart, "etag"), header(&plain, "etag"));
    let text = String::from_utf8(body(&multipart)).unwrap();
    assert!(
        text.contains("Content-Range: bytes 2-3/21\r\n\r\nns\r\n"),
        "{text}"
    );
    let refusing = several("gzip, identity;q=0");
    assert_eq!(
        (refusing.status(), body(&refusing)),
        (StatusCode::OK, b"GZIP!".to_vec()),
        "the sidecar whole"
    );
    assert_eq!(header(&refusing, "content-encoding"), "gzip");
}

#[test]
fn a_refused_plain_file_goes_to_a_compressing_host() {
    let host = Settings {
        host_compression: Some(crate::compression::Compression::default()),
        ..settings()
    };
    let refusing = [
        ("accept-encoding", "gzip, identity;q=0"),
        ("range", "bytes=0-1"),
    ];
    let response = get_with(&site(), "/index.css", &refusing, &host).unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "whole: the host codes it"
    );
    assert!(response.extensions().get::<ForTheHost>().is_some());
    assert!(response.headers().get(CONTENT_ENCODING).is_none());
    let plain = get_with(&site(), "/index.css", &refusing, &settings()).unwrap_err();
    assert_eq!(plain, Error::NotAcceptable, "no compressing host");
    let deflate = [("accept-encoding", "deflate, identity;q=0")];
    let none_in_common = get_with(&site(), "/index.css", &deflate, &host).unwrap_err();
    assert_eq!(none_in_common, Error::NotAcceptable);
    let accepted = get_with(&site(), "/index.css", &[("accept-encoding", "gzip")], &host);
    assert!(accepted.unwrap().extensions().get::<ForTheHost>().is_none());
}

#[test]
fn content_types() {
    let cases = [
        (Some("a.html"), "text/html; charset=utf-8"),
        (Some("a.css"), "text/css; charset=utf-8"),
        (Some("a.js"), "text/javascript; charset=utf-8"),
        (Some("a.svg"), "image/svg+xml; charset=utf-8"),
        (Some("logo.png"), "image/png"),
        (Some("a.wasm"), "application/wasm"),
        (Some("a.json"), "application/json"),
        (Some("archive.unknownext"), "application/octet-stream"),
        (Some("Makefile"), "application/octet-stream"),
        (None, "application/octet-stream"),
    ];
    for (name, expected) in cases {
        assert_eq!(content_type(name), expected, "{name:?}");
    }
}
