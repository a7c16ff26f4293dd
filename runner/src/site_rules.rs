//! The site's rules files (`_redirects`, `_headers`) checked by the
//! component's own parser, so each problem is logged once, here, with its
//! line (the component skips such lines silently on every request).

use sitebox::rules::{self, HEADERS_FILE, Problem, REDIRECTS_FILE};
use std::path::Path;

/// The problems of the rules files in `static_dir`; a file that is missing
/// has none, one that cannot be read is one.
pub fn problems(static_dir: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    for file in [REDIRECTS_FILE, HEADERS_FILE] {
        match std::fs::read(static_dir.join(file)) {
            Ok(contents) => problems.extend(rules::check(file, &contents)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => problems.push(Problem {
                file,
                line: 0,
                message: format!("cannot be read ({error}): none of its rules apply"),
            }),
        }
    }
    problems
}

/// Logs each problem as a warning.
pub fn log_problems(static_dir: &Path) {
    for problem in problems(static_dir) {
        tracing::warn!("site rules: {problem}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_of_both_files_with_their_lines() {
        let site = tempfile::tempdir().unwrap();
        assert!(problems(site.path()).is_empty());
        std::fs::write(site.path().join(REDIRECTS_FILE), "/a /b\n/c /d 999\n").unwrap();
        std::fs::write(site.path().join(HEADERS_FILE), "/*\n  Connection: close\n").unwrap();
        let found: Vec<String> = problems(site.path())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("_redirects line 2: `999`"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with("_headers line 2: connection"),
            "{found:?}"
        );
    }
}
