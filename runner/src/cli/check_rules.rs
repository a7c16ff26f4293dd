//! `sitebox check-rules [DIR]`: a site's rules files checked by the
//! component's own parser, as the server checks them at start — for sites
//! that `wasmtime serve` or an edge platform serves, where no runner logs
//! their problems (the component skips a bad line silently).

use crate::site_rules;
use std::path::Path;
use std::process::ExitCode;

/// Prints each problem on its own line; exits 1 if there is any, or if the
/// directory cannot be read.
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
    match (present.as_slice(), problems.len()) {
        ([], _) => eprintln!("no _redirects or _headers in {}", dir.display()),
        (files, 0) => eprintln!("{}: no problems", files.join(", ")),
        (_, 1) => eprintln!("1 problem"),
        (_, n) => eprintln!("{n} problems"),
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
