//! Site rules as the convention's owners test them: the rule lines of
//! Netlify's parsers' fixtures and tests (`netlify/build`) and of Cloudflare
//! Pages' (`cloudflare/workers-sdk`), each served over real HTTP by the
//! runner and `wasmtime serve`, with what sitebox answers, and
//! `sitebox check-rules` naming every line sitebox skips (and no other).
//! Where sitebox answers differently from an owner, the case says so; each
//! difference is in docs/site-rules.md's table. The owners' code is not
//! copied: the rule lines are data, the checks are sitebox's.
//!
//! Each owner's cases are in a file of their own (`site_rules_conformance/`);
//! the limits are here.

use sitebox_tests as support;

use http::StatusCode;
use sitebox_runner::SiteSettings;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::OnceLock;
use support::client::{self, Reply};
use support::{Backend, TestSite};

#[path = "site_rules_conformance/cloudflare.rs"]
mod cloudflare;
#[path = "site_rules_conformance/netlify.rs"]
mod netlify;

/// A rules file as a test writes it: each line sitebox skips marked by a
/// leading `S| ` (not part of the file).
pub struct Marked {
    pub text: &'static str,
    pub skipped: BTreeSet<usize>,
}

impl Marked {
    pub fn new(marked: &str) -> Marked {
        let mut text = String::new();
        let mut skipped = BTreeSet::new();
        for (index, line) in marked.lines().enumerate() {
            let line = match line.strip_prefix(SKIP) {
                Some(line) => {
                    skipped.insert(index + 1);
                    line
                }
                None => line,
            };
            text.push_str(line);
            text.push('\n');
        }
        Marked {
            text: Box::leak(text.into_boxed_str()),
            skipped,
        }
    }
}

/// Marks a line sitebox skips in a `Marked` file.
const SKIP: &str = "S| ";

/// A site whose rules files hold an owner's cases, served by both hosts.
pub struct Owned {
    pub site: &'static TestSite,
    pub servers: Vec<(Backend, SocketAddr)>,
    pub redirects: Marked,
    pub headers: Marked,
}

impl Owned {
    /// Serves the test site plus `files` with these rules files.
    pub fn serve(redirects: &str, headers: &str, files: &[(&str, &str)]) -> Owned {
        let site: &'static TestSite = Box::leak(Box::new(TestSite::new()));
        let (redirects, headers) = (Marked::new(redirects), Marked::new(headers));
        site.write("_redirects", redirects.text);
        site.write("_headers", headers.text);
        for (path, contents) in files {
            site.write(path, contents);
        }
        let servers = support::start_servers(site, SiteSettings::default());
        Owned {
            site,
            servers,
            redirects,
            headers,
        }
    }

    /// `sitebox check-rules` on the site reports as skipped exactly the
    /// lines marked so, and fails.
    pub fn assert_skipped_lines(&self) {
        let report = sitebox_runner::cli::check_rules(&self.site.static_dir).unwrap();
        for (file, marked) in [("_redirects", &self.redirects), ("_headers", &self.headers)] {
            let reported = skipped_in(&report.problems, file);
            assert_eq!(
                reported,
                marked.skipped,
                "{file}: the lines check-rules reports skipped; its report:\n{}",
                report.problems.join("\n")
            );
        }
        assert!(!report.passed, "a skipped line fails check-rules");
    }
}

/// The lines of `file` that a check-rules report says are skipped.
fn skipped_in(problems: &[String], file: &str) -> BTreeSet<usize> {
    problems
        .iter()
        .filter(|problem| problem.ends_with("(skipped)"))
        .filter_map(|problem| {
            let rest = problem.strip_prefix(file)?.strip_prefix(" line ")?;
            rest.split_once(':')?.0.parse().ok()
        })
        .collect()
}

pub async fn get(addr: SocketAddr, target: &str) -> Reply {
    client::get(addr, target).await
}

/// `GET target` answers `status` with `Location: location`.
pub async fn assert_redirect(
    (backend, addr): (Backend, SocketAddr),
    target: &str,
    status: u16,
    location: &str,
) {
    let reply = get(addr, target).await;
    assert_eq!(reply.status.as_u16(), status, "{backend:?} GET {target}");
    assert_eq!(
        reply.header("location"),
        location,
        "{backend:?} GET {target}"
    );
}

/// `GET target` answers `status` and no redirect: the rules did not apply.
pub async fn assert_no_rule(
    (backend, addr): (Backend, SocketAddr),
    target: &str,
    status: StatusCode,
) -> Reply {
    let reply = get(addr, target).await;
    assert_eq!(reply.status, status, "{backend:?} GET {target}");
    assert!(
        reply.headers.get("location").is_none(),
        "{backend:?} GET {target}: {:?}",
        reply.headers
    );
    reply
}

/// Every value of the header `name`, in order.
pub fn values<'r>(reply: &'r Reply, name: &str) -> Vec<&'r str> {
    let all = reply.headers.get_all(name).iter();
    all.map(|value| value.to_str().unwrap()).collect()
}

/// sitebox's limits, where Cloudflare's are lower (100 header rules, 100
/// dynamic and 2,000 static redirects, both owners 2,000 characters a line:
/// `packages/workers-shared/utils/configuration/constants.ts`) and Netlify
/// documents none: the rule past the limit is reported and does not apply,
/// the one at it does.
fn limits_site() -> &'static Owned {
    static SITE: OnceLock<Owned> = OnceLock::new();
    SITE.get_or_init(|| {
        let mut redirects = String::new();
        for i in 0..=1000 {
            redirects.push_str(&format!("/r/{i} /t/{i} 302\n"));
        }
        let mut headers = String::new();
        for i in 0..=200 {
            headers.push_str(&format!("/h/{i}\n  X-Index: {i}\n"));
        }
        Owned::serve(&redirects, &headers, &[])
    })
}

#[tokio::test]
async fn limits_past_which_lines_are_skipped_and_reported() {
    let owned = limits_site();
    let report = sitebox_runner::cli::check_rules(&owned.site.static_dir).unwrap();
    assert_eq!(
        report.problems,
        [
            "_redirects line 1001: more than 1000 rules: this line and those after it are ignored (skipped)",
            "_headers line 401: more than 200 blocks: this line and those after it are ignored (skipped)",
        ],
    );
    for &(backend, addr) in &owned.servers {
        assert_redirect((backend, addr), "/r/999", 302, "/t/999").await;
        assert_no_rule((backend, addr), "/r/1000", StatusCode::NOT_FOUND).await;
        let at_limit = get(addr, "/h/199").await;
        assert_eq!(at_limit.header("x-index"), "199", "{backend:?}");
        let past = get(addr, "/h/200").await;
        assert!(past.headers.get("x-index").is_none(), "{backend:?}");
    }
}

#[test]
fn a_line_longer_than_2000_bytes_is_reported() {
    let site = tempfile::tempdir().unwrap();
    let long = format!("/long /{} 302\n", "x".repeat(2000));
    std::fs::write(site.path().join("_redirects"), format!("/a /b\n{long}")).unwrap();
    let report = sitebox_runner::cli::check_rules(site.path()).unwrap();
    assert_eq!(
        report.problems,
        ["_redirects line 2: the line is longer than 2000 bytes (skipped)"]
    );
}
