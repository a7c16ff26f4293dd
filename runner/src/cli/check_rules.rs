//! `sitebox check-rules [DIR]`: a site's rules files checked by the
//! component's own parser, as the server checks them at start — for sites
//! that `wasmtime serve` or an edge platform serves, where no runner logs
//! their problems (the component skips a bad line silently).

use crate::site_rules;
use std::path::Path;
use std::process::ExitCode;

/// Prints each problem on its own line; exits 1 if a line is skipped (or a
/// file cannot be read, or the directory), not for notes on lines that apply.
pub fn run(dir: &Path) -> ExitCode {
    let (present, problems) = match site_rules::problems_in(dir) {
        Ok(found) => found,
        Err(error) => {
            eprintln!("sitebox check-rules: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    for problem in &problems {
        println!("{problem}");
    }
    let skipped = problems.iter().filter(|problem| problem.skipped).count();
    let notes = problems.len() - skipped;
    let plural = |n: usize, what: &str| match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    match (present.as_slice(), skipped, notes) {
        ([], ..) => eprintln!("no _redirects or _headers in {}", dir.display()),
        (files, 0, 0) => eprintln!("{}: no problems", files.join(", ")),
        (_, 0, notes) => eprintln!("no problems, {}", plural(notes, "note")),
        (_, skipped, 0) => eprintln!("{}", plural(skipped, "problem")),
        (_, skipped, notes) => {
            eprintln!("{}, {}", plural(skipped, "problem"), plural(notes, "note"))
        }
    }
    if skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
