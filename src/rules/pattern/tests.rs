use super::*;
use proptest::prelude::*;

/// What a match bound, owned: the placeholders by name, and the splat.
type Bound = (Vec<(String, String)>, Option<String>);

fn captures(pattern: &str, path: &str) -> Option<Bound> {
    let pattern = Pattern::parse(pattern).unwrap();
    let found = pattern.matches(path)?;
    let mut placeholders: Vec<(String, String)> = found
        .placeholders
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    placeholders.sort();
    Some((placeholders, found.splat.map(str::to_owned)))
}

fn matches(pattern: &str, path: &str) -> bool {
    captures(pattern, path).is_some()
}

#[test]
fn literals_match_exactly_and_ignore_a_trailing_slash() {
    assert!(matches("/about", "/about"));
    assert!(matches("/about/", "/about"));
    assert!(matches("/", "/"));
    assert!(!matches("/about", "/about-us"));
    assert!(!matches("/about", "/"));
    assert!(!matches("/about", "/About"));
    assert!(!matches("/", "/about"));
}

#[test]
fn placeholders_bind_one_whole_segment() {
    let bound = captures("/users/:id/posts/:post", "/users/42/posts/hello");
    assert_eq!(
        bound,
        Some((
            vec![
                ("id".to_owned(), "42".to_owned()),
                ("post".to_owned(), "hello".to_owned())
            ],
            None
        ))
    );
    assert!(!matches("/users/:id", "/users"));
    assert!(!matches("/users/:id", "/users/1/2"));
    assert!(matches("/a:b", "/a:b"), "a colon inside a segment is text");
    assert!(matches("/x/:8080", "/x/:8080"), "so is one before a digit");
}

#[test]
fn the_splat_takes_any_run_of_characters() {
    let splat = |pattern, path| captures(pattern, path).and_then(|(_, splat)| splat);
    assert_eq!(
        splat("/blog/*", "/blog/2024/01/post").as_deref(),
        Some("2024/01/post")
    );
    assert_eq!(splat("/blog/*", "/blog").as_deref(), Some(""));
    assert_eq!(splat("/*", "/").as_deref(), Some(""));
    assert_eq!(splat("/*", "/any/thing").as_deref(), Some("any/thing"));
    assert_eq!(splat("/*.jpg", "/img/cat.jpg").as_deref(), Some("img/cat"));
    assert_eq!(splat("/img-*", "/img-1").as_deref(), Some("1"));
    assert!(!matches("/blog/*", "/blogs"));
    assert!(!matches("/blog/*", "/"));
    assert!(!matches("/*.jpg", "/cat.png"));
    let both = captures("/*/:file", "/a/b/c.txt");
    assert_eq!(
        both,
        Some((
            vec![("file".to_owned(), "c.txt".to_owned())],
            Some("a/b".to_owned())
        ))
    );
    assert!(
        !matches("/*/:file", "/c.txt"),
        "prefix and suffix may not overlap"
    );
    assert!(!matches("/a/*/a", "/a"), "nor here");
    assert!(matches("/a/*/a", "/a//a"));
}

#[test]
fn escapes_in_patterns_are_decoded_like_paths() {
    assert!(matches("/caf%C3%A9", "/café"));
    assert!(matches("/café", "/café"));
    assert!(Pattern::parse("/a%2Fb").is_err());
    assert!(Pattern::parse("/100%").is_err());
}

#[test]
fn malformed_patterns_say_why() {
    for (pattern, needle) in [
        ("about", "starts with /"),
        ("/a/*/b/*", "one *"),
        ("/u/:id.json", "whole segment"),
        ("/u/:id/:id", "twice"),
        ("/u/:splat", "splat"),
        ("/search?q=1", "query"),
        ("/a\u{7}", "control"),
    ] {
        let error = Pattern::parse(pattern).unwrap_err();
        assert!(error.contains(needle), "{pattern}: {error}");
    }
    let long = format!("/{}", "a".repeat(MAX_LEN));
    assert!(Pattern::parse(&long).is_err());
    let many: String = (0..=MAX_PLACEHOLDERS).map(|i| format!("/:p{i}")).collect();
    assert!(Pattern::parse(&many).unwrap_err().contains("at most"));
}

#[test]
fn targets_get_their_values_encoded() {
    let pattern = Pattern::parse("/u/:name/*").unwrap();
    let found = pattern.matches("/u/a b/x y/é").unwrap();
    assert_eq!(
        expand("/people/:name/:splat", &found),
        "/people/a%20b/x%20y/%C3%A9"
    );
    assert_eq!(
        expand("https://example.com:8080/:name?x=:nope", &found),
        "https://example.com:8080/a%20b?x=:nope"
    );
    assert_eq!(
        references("https://h:8080/:name/:splat?:q").collect::<Vec<_>>(),
        ["name", "splat", "q"]
    );
    assert!(pattern.binds("name") && pattern.binds("splat") && !pattern.binds("q"));
}

/// A pattern as pieces, and a path made by filling it in.
#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Placeholder(String),
    Splat,
}

fn pieces() -> impl Strategy<Value = Vec<Piece>> {
    let piece = prop_oneof![
        4 => "[a-c.]{1,3}".prop_map(Piece::Literal),
        2 => "[a-c]{1,2}".prop_map(Piece::Placeholder),
        1 => Just(Piece::Splat),
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|pieces| {
        // At most one splat; placeholder names made unique.
        let mut seen_splat = false;
        let mut out = Vec::new();
        for (i, piece) in pieces.into_iter().enumerate() {
            match piece {
                Piece::Splat if seen_splat => continue,
                Piece::Splat => seen_splat = true,
                Piece::Placeholder(name) => {
                    out.push(Piece::Placeholder(format!("{name}{i}")));
                    continue;
                }
                Piece::Literal(_) => {}
            }
            out.push(piece);
        }
        out
    })
}

/// Every piece is one segment (`/a/:b/*`), so placeholders sit alone.
fn pattern_text(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|piece| match piece {
            Piece::Literal(text) => format!("/{text}"),
            Piece::Placeholder(name) => format!("/:{name}"),
            Piece::Splat => "/*".to_owned(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Whatever a pattern matches is the pattern filled in with what it
    /// bound: a match never strays outside what the pattern says.
    #[test]
    fn a_match_is_the_pattern_filled_in(pieces in pieces(), path in "(/[a-c.]{0,3}){0,6}") {
        let text = pattern_text(&pieces);
        let pattern = Pattern::parse(&text).unwrap();
        let path = if path.is_empty() { "/".to_owned() } else { path };
        if let Some(found) = pattern.matches(&path) {
            let mut rebuilt = String::new();
            for piece in &pieces {
                match piece {
                    Piece::Literal(text) => { rebuilt.push('/'); rebuilt.push_str(text) }
                    Piece::Placeholder(name) => {
                        let value = found.get(name).unwrap();
                        prop_assert!(!value.is_empty() && !value.contains('/'));
                        rebuilt.push('/');
                        rebuilt.push_str(value);
                    }
                    Piece::Splat => {
                        let splat = found.splat.unwrap();
                        // An empty splat at the end also matches without its slash.
                        if !(splat.is_empty() && rebuilt.len() + 1 > path.len()) {
                            rebuilt.push('/');
                        }
                        rebuilt.push_str(splat);
                    }
                }
            }
            prop_assert_eq!(rebuilt, path, "{}", text);
        }
    }

    /// And every filling-in matches, binding what was filled in.
    #[test]
    fn a_filled_in_pattern_matches(pieces in pieces(), values in proptest::collection::vec("[a-c.]{1,3}(/[a-c]{1,2}){0,2}", 6)) {
        let text = pattern_text(&pieces);
        let pattern = Pattern::parse(&text).unwrap();
        let mut path = String::new();
        for (piece, value) in pieces.iter().zip(&values) {
            path.push('/');
            match piece {
                Piece::Literal(text) => path.push_str(text),
                Piece::Placeholder(_) => path.push_str(value.split('/').next().unwrap()),
                Piece::Splat => path.push_str(value),
            }
        }
        let found = pattern.matches(&path);
        prop_assert!(found.is_some(), "{} should match {}", text, path);
        let found = found.unwrap();
        for (piece, value) in pieces.iter().zip(&values) {
            match piece {
                Piece::Placeholder(name) => prop_assert_eq!(found.get(name), value.split('/').next()),
                Piece::Splat => prop_assert_eq!(found.splat, Some(value.as_str())),
                Piece::Literal(_) => {}
            }
        }
    }
}
