//! `sitebox check-rules [DIR]`: a site's rules files checked by the
//! component's own parser, as the server checks them at start — for sites
//! that `wasmtime serve` or an edge platform serves, where no runner logs
//! their problems (the component skips a bad line silently).

use crate::guest::site_rules;
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

/// What `sitebox check-rules DIR` prints: one line per problem (stdout),
/// the summary (stderr), and whether it passes (exit 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub problems: Vec<String>,
    pub summary: String,
    pub passed: bool,
}

/// Prints each problem on its own line; exits 1 if a line is skipped (or a
/// file cannot be read, or the directory), not for notes on lines that apply.
pub fn run(dir: &Path) -> ExitCode {
    match report(dir) {
        Ok(report) => {
            for problem in &report.problems {
                println!("{problem}");
            }
            eprintln!("{}", report.summary);
            if report.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("sitebox check-rules: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The report on the rules files in `dir`, as `run` prints it (tests read
/// it whole).
pub fn report(dir: &Path) -> Result<Report> {
    let (present, problems) = site_rules::problems_in(dir)?;
    let skipped = problems.iter().filter(|problem| problem.skipped).count();
    let notes = problems.len() - skipped;
    let plural = |n: usize, what: &str| match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    };
    let summary = match (present.as_slice(), skipped, notes) {
        ([], ..) => format!("no _redirects or _headers in {}", dir.display()),
        (files, 0, 0) => format!("{}: no problems", files.join(", ")),
        (_, 0, notes) => format!("no problems, {}", plural(notes, "note")),
        (_, skipped, 0) => plural(skipped, "problem"),
        (_, skipped, notes) => format!("{}, {}", plural(skipped, "problem"), plural(notes, "note")),
    };
    Ok(Report {
        problems: problems.iter().map(ToString::to_string).collect(),
        summary,
        passed: skipped == 0,
    })
}
