//! `wasmtime serve` runs up to 16 requests at once in one instance of a
//! wasi:http 0.3 component and reuses it for 128 (a 0.2 component gets a
//! fresh instance per request): requests that share an instance, and are in
//! it at the same time, each keep their own data (issue 34).

use sitebox_tests as support;

use std::collections::BTreeSet;
use std::time::Duration;
use support::TestSite;
use support::client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Posts `message=<text>` to the board in two halves, `pause` apart, and
/// returns the answer's status line.
async fn post_in_two_halves(addr: std::net::SocketAddr, text: &str, pause: Duration) -> String {
    let body = format!("message={text}");
    let (first, second) = body.split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /board HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    stream.write_all(second.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_sharing_a_p3_instance_keep_their_own_data() {
    let site = TestSite::new();
    for n in 0..8 {
        site.write(
            &format!("file-{n}.txt"),
            format!("the contents of file {n}\n").repeat(n + 1),
        );
    }
    // A setting the component cannot read: it warns once per request, and
    // `wasmtime serve` prefixes the line with the instance's number.
    let Some((addr, log)) = support::start_wasmtime_serve_logged(
        &site,
        support::p3_component(),
        &[("SITEBOX_HOST_COMPRESSION", "not-a-coding")],
    ) else {
        return;
    };

    // A's body arrives in two halves; B, C and D come and go in between.
    let a = tokio::spawn(post_in_two_halves(
        addr,
        "from-a",
        Duration::from_millis(500),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let others: Vec<_> = ["from-b", "from-c", "from-d"]
        .into_iter()
        .map(|text| tokio::spawn(post_in_two_halves(addr, text, Duration::ZERO)))
        .collect();
    for other in others {
        assert!(other.await.unwrap().starts_with("HTTP/1.1 303"));
    }
    let reads: Vec<_> = (0..32)
        .map(|i| {
            tokio::spawn(async move {
                let n = i % 8;
                let reply = client::get(addr, &format!("/file-{n}.txt")).await;
                assert_eq!(
                    reply.text(),
                    format!("the contents of file {n}\n").repeat(n + 1)
                );
            })
        })
        .collect();
    for read in reads {
        read.await.unwrap();
    }
    assert!(a.await.unwrap().starts_with("HTTP/1.1 303"));
    let mut shown = support::board::shown(addr).await;
    shown.sort();
    assert_eq!(shown, ["from-a", "from-b", "from-c", "from-d"]);

    // Every request above warned once, its line prefixed with its
    // instance's number; the component writes nothing else. Lines of
    // instances running at once may interleave (`stderr [3] :: stderr [4]
    // :: sitebox: …`), so the prefixes are counted wherever they are.
    let mut prefixes = Vec::new();
    for _ in 0..50 {
        let text = log.lines().join("\n");
        prefixes = text
            .split("stderr [")
            .skip(1)
            .filter_map(|rest| rest.split_once("] :: "))
            .map(|(instance, _)| instance.to_owned())
            .collect();
        if prefixes.len() >= 37 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let instances: BTreeSet<&String> = prefixes.iter().collect();
    eprintln!(
        "{} requests in {} instances",
        prefixes.len(),
        instances.len()
    );
    assert_eq!(prefixes.len(), 37, "{:?}", log.lines());
    // Fewer instances than requests: instances served several, some at once
    // (A's stayed open for half a second while the others came and went).
    assert!(
        instances.len() * 2 < prefixes.len(),
        "{} instances for {} requests",
        instances.len(),
        prefixes.len()
    );
}
