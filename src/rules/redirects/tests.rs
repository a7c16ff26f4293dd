use super::*;

fn one(line: &str) -> Result<Rule<'_>, String> {
    let mut all = rules(line);
    let (number, rule) = all.next().expect("a rule line");
    assert_eq!(number, 1);
    assert!(all.next().is_none());
    rule
}

fn action(line: &str) -> (Action, bool) {
    let rule = one(line).unwrap();
    (rule.action, rule.force)
}

#[test]
fn a_rule_is_from_to_and_a_status() {
    let rule = one("/old   /new").unwrap();
    assert_eq!(rule.to, "/new");
    assert_eq!(rule.from, Pattern::parse("/old").unwrap());
    let moved = Action::Redirect(StatusCode::MOVED_PERMANENTLY);
    assert_eq!((rule.action, rule.force), (moved, false), "301 by default");
    for code in [301, 302, 303, 307, 308] {
        let status = StatusCode::from_u16(code).unwrap();
        assert_eq!(
            action(&format!("/a /b {code}")),
            (Action::Redirect(status), false)
        );
        assert_eq!(
            action(&format!("/a /b {code}!")),
            (Action::Redirect(status), true)
        );
    }
    assert_eq!(action("/* /index.html 200"), (Action::Rewrite, false));
    assert_eq!(
        action("/shop/* /shop/404.html 404!"),
        (Action::NotFound, true)
    );
    assert_eq!(
        action("/a https://example.com/b 302"),
        (Action::Redirect(StatusCode::FOUND), false)
    );
    assert_eq!(action("/a /b 301 # moved in 2024").0, moved);
    assert_eq!(one("/a /b#top").unwrap().to, "/b#top");
}

#[test]
fn comments_and_blank_lines_are_skipped_and_lines_keep_their_numbers() {
    let text = "# redirects\n\n/a /b\n   # indented comment\n\t/c /d 302\r\n";
    let lines: Vec<(usize, &str)> = rules(text).map(|(n, r)| (n, r.unwrap().to)).collect();
    assert_eq!(lines, [(3, "/b"), (5, "/d")]);
}

#[test]
fn malformed_rules_say_why() {
    for (line, needle) in [
        ("/only-from", "TO is missing"),
        ("/a /b 418", "not a status"),
        ("/a /b 200 extra", "after the status"),
        ("/a /b 302 Country=us", "conditions"),
        ("/store id=:id /blog/:id 301", "query parameters"),
        ("/a https://example.com/ 200", "must start with /"),
        ("/a http://example.com/ 404", "must start with /"),
        ("/a //evil.example/ 301", "not //"),
        ("/a b 301", "TO is a path"),
        ("/a ftp://x/ 301", "TO is a path"),
        ("/a /b/../c 200", "."),
        ("/a /%zz 301", "escape"),
        ("/a /café", "percent-encoded"),
        ("/a /b#x 200", "fragment"),
        ("/a /:id", "not a placeholder"),
        ("/a /:splat", "needs a *"),
        ("a /b", "starts with /"),
        ("/u/:id /people/<id 200", "not a valid URL"),
        ("/a https://exa mple.com/ 301", "not a status"),
        ("/a https://exa<mple.com/ 302", "not a valid URL"),
    ] {
        let error = one(line).unwrap_err();
        assert!(error.contains(needle), "{line}: {error}");
    }
    let long = format!("/a /{}", "b".repeat(MAX_LINE));
    assert!(one(&long).unwrap_err().contains("longer than"));
}

const MAX_LINE: usize = super::super::MAX_LINE_BYTES;

#[test]
fn targets_refer_to_what_from_binds() {
    assert!(one("/u/:id/* /people/:id/:splat").is_ok());
    assert!(
        one("/a https://example.com:8443/x").is_ok(),
        "a port is no placeholder"
    );
    assert!(one("/a/:x /b?q=:x 302").is_ok());
}

#[test]
fn rules_past_the_limit_are_reported_once_and_ignored() {
    let text: String = (0..MAX_RULES + 5)
        .map(|i| format!("/a{i} /b{i}\n"))
        .collect();
    let all: Vec<_> = rules(&text).collect();
    assert_eq!(all.len(), MAX_RULES + 1);
    assert!(all[..MAX_RULES].iter().all(|(_, rule)| rule.is_ok()));
    let (line, last) = all.last().unwrap();
    assert_eq!(*line, MAX_RULES + 1);
    assert!(last.as_ref().unwrap_err().contains("more than"));
}
