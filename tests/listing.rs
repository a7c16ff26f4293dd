//! Directory listings (opt-in), dotfiles (hidden unless allowed), and the
//! directory redirect that must never lead off-site.

use sitebox_tests as support;

use http::StatusCode;
use sitebox_runner::SiteSettings;
use support::client;
use support::{Server, TestSite};

async fn listings_are_off_by_default(server: &Server) {
    assert_eq!(
        client::get(server.addr, "/noindex/").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn dotfiles_are_hidden_by_default(server: &Server) {
    for target in [
        "/.hidden",
        "/.git/config",
        "/.git/",
        "/sub/.env",
        "/%2Ehidden",
    ] {
        let reply = client::get(server.addr, target).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{target}");
        assert!(
            !reply.text().contains("SECRET") && !reply.text().contains("[core]"),
            "{target}"
        );
    }
    let reply = client::get(server.addr, "/.well-known/security.txt").await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "/.well-known/ is public (RFC 8615)"
    );
}

/// `/dir` → `/dir/` keeps the query and stays on this site, however the
/// path is dressed up.
async fn directory_redirects_stay_on_site(server: &Server) {
    let reply = client::get(server.addr, "/sub?next=//evil.example/").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.header("location"), "/sub/?next=//evil.example/");
    for target in [
        "//evil.example",
        "//evil.example/sub",
        "/%2F%2Fevil.example",
        "/%5C%5Cevil.example",
        "/\\\\evil.example",
    ] {
        let (status, head, _) =
            client::raw(server.addr, &format!("GET {target} HTTP/1.1\r\nHost: test"));
        let location = head.lines().find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("location:")
                .map(|l| l.trim().to_owned())
        });
        assert!(status != 200 && status / 100 != 3, "{target}: {status}");
        assert!(location.is_none(), "{target}: {location:?}");
    }
}

support::on_each_backend!(
    shared_server =>
    listings_are_off_by_default,
    dotfiles_are_hidden_by_default,
    directory_redirects_stay_on_site,
);

#[tokio::test]
async fn listings_when_enabled() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    site.write("files/b.txt", "bb");
    site.write("files/a <b>&.txt", "a");
    site.write("files/zdir/x.txt", "x");
    site.write("files/.secret", "s");
    site.write("files/ünï.txt", "u");
    let options = SiteSettings {
        listing: true,
        ..SiteSettings::default()
    };
    for (backend, addr) in support::start_servers(site, options) {
        let reply = client::get(addr, "/files/").await;
        assert_eq!(reply.status, StatusCode::OK, "{backend:?}");
        assert_eq!(reply.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(reply.header("cache-control"), "no-cache");
        let page = reply.text();
        assert!(
            page.contains("<title>Index of /files/</title>"),
            "{backend:?}"
        );
        assert!(
            page.contains("<a href=\"a%20%3Cb%3E%26.txt\">a &lt;b&gt;&amp;.txt</a>"),
            "{backend:?}: {page}"
        );
        assert!(
            page.contains("<a href=\"%C3%BCn%C3%AF.txt\">ünï.txt</a>"),
            "{backend:?}"
        );
        assert!(page.contains("<a href=\"zdir/\">zdir/</a>") && page.contains("<a href=\"../\">"));
        assert!(page.contains("<td>2 B</td>"), "sizes are shown");
        assert!(
            !page.contains(".secret"),
            "{backend:?}: dotfiles stay hidden in listings"
        );
        let order: Vec<usize> = ["zdir/", "a%20", "b.txt", "%C3%BC"]
            .iter()
            .map(|n| page.find(n).unwrap())
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "{backend:?}: directories first, then by name"
        );
        // The links work.
        assert_eq!(
            client::get(addr, "/files/a%20%3Cb%3E%26.txt").await.text(),
            "a"
        );
        let index = client::get(addr, "/sub/").await;
        assert_eq!(
            index.text(),
            "<p>sub index</p>",
            "{backend:?}: an index.html wins over the listing"
        );
        let root_site = client::get(addr, "/").await;
        assert!(root_site.text().contains("Welcome to sitebox"));
    }
}

#[tokio::test]
async fn dotfiles_when_allowed() {
    let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
    let options = SiteSettings {
        dotfiles: true,
        ..SiteSettings::default()
    };
    for (backend, addr) in support::start_servers(site, options) {
        assert_eq!(
            client::get(addr, "/.hidden").await.text(),
            "dotfile",
            "{backend:?}"
        );
        assert_eq!(
            client::get(addr, "/sub/.env").await.text(),
            "SECRET=1",
            "{backend:?}"
        );
    }
}
