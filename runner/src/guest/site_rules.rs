//! The site's rules files (`_redirects`, `_headers`) on the host: read as the
//! component would read them, prepared by the component's own code for the
//! scope of each request (its first path segment: `sitebox::rules::prepared`)
//! and handed in with the request's environment (`settings::REDIRECTS_VAR`,
//! `HEADERS_VAR`). A file is read again only when it changes, each scope
//! prepared once per change; and the file is checked by the component's own
//! parser whenever it changes, so each problem is logged once, with its line.

use anyhow::{Context, Result};
use cap_std::fs::{Dir, MetadataExt};
use sitebox::rules::prepared::{self, Scope};
use sitebox::rules::{self, HEADERS_FILE, MAX_FILE_BYTES, Problem, REDIRECTS_FILE};
use sitebox::settings::{HEADERS_VAR, REDIRECTS_VAR};
use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// A file changed this recently may change again within the same timestamp
/// (and keep its size): until it has been quiet this long, it is read on
/// every request, not trusted by its stamp (git's "racy" rule).
const SETTLE_SECONDS: i64 = 2;

/// Preparations of one file kept at most (bytes): a file of many rules, each
/// naming its own first segment, would otherwise keep a near copy of itself
/// per segment. Past this, a scope is prepared for each request anew.
const MAX_PREPARED_BYTES: usize = 8 << 20;

pub struct RulesFiles {
    /// The site directory: files are opened beneath it, and a symlink that
    /// leaves it is refused, as in the component's sandbox.
    dir: Dir,
    files: [Mutex<Cached>; 2],
    /// What a request meets no rules by, shared: no allocation per request.
    none: Arc<str>,
}

/// What was last read of one rules file.
struct Cached {
    name: &'static str,
    var: &'static str,
    /// `None` until the first read.
    seen: Option<Seen>,
    /// What that read found: the bytes, or why there were none.
    contents: Result<Vec<u8>, String>,
    /// The rules as the component takes them; "" stands for none.
    text: String,
    /// The scopes the file's patterns name: any other is `Scope::Other`.
    named: HashSet<Scope>,
    /// What was prepared for each scope so far, and its size in all.
    prepared: HashMap<Scope, Arc<str>>,
    prepared_bytes: usize,
}

impl Cached {
    /// The rules prepared for the requests of `scope`.
    fn prepared_for(&mut self, scope: &Scope) -> Arc<str> {
        let key = if self.named.contains(scope) {
            scope
        } else {
            &Scope::Other
        };
        if let Some(prepared) = self.prepared.get(key) {
            return prepared.clone();
        }
        let prepared: Arc<str> = prepared::prepare(self.name, &self.text, key).into();
        if self.prepared_bytes + prepared.len() <= MAX_PREPARED_BYTES {
            self.prepared_bytes += prepared.len();
            self.prepared.insert(key.clone(), prepared.clone());
        }
        prepared
    }
}

/// What a look at a rules file shows, to tell whether it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// Something with this stamp; not `settled` when it changed too shortly
    /// before it was read.
    Stamp { stamp: Stamp, settled: bool },
    /// Missing, or not readable.
    Error(io::ErrorKind),
}

impl Seen {
    /// Whether what was read at `self` still holds at `now`.
    fn still(&self, now: &Seen) -> bool {
        match (self, now) {
            (Seen::Stamp { stamp, settled }, Seen::Stamp { stamp: now, .. }) => {
                *settled && stamp == now
            }
            (Seen::Error(kind), Seen::Error(now)) => kind == now,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl RulesFiles {
    pub fn open(static_dir: &Path) -> Result<RulesFiles> {
        let dir = Dir::open_ambient_dir(static_dir, cap_std::ambient_authority())
            .with_context(|| format!("cannot open {}", static_dir.display()))?;
        let cached = |name, var| {
            Mutex::new(Cached {
                name,
                var,
                seen: None,
                contents: Ok(Vec::new()),
                text: String::new(),
                named: HashSet::new(),
                prepared: HashMap::new(),
                prepared_bytes: 0,
            })
        };
        Ok(RulesFiles {
            dir,
            files: [
                cached(REDIRECTS_FILE, REDIRECTS_VAR),
                cached(HEADERS_FILE, HEADERS_VAR),
            ],
            none: Arc::from(""),
        })
    }

    /// The rules as of now, prepared for a request for `path` (the path of
    /// its target), as environment variables for the component: each file is
    /// looked at (one `stat`) and read only if it changed. A path the
    /// component refuses meets no rules: none are handed in.
    pub fn environment(&self, path: &str) -> [(&'static str, Arc<str>); 2] {
        let mut files = self.files.each_ref().map(|file| {
            let mut cached = file.lock().expect("not poisoned");
            self.refresh(&mut cached);
            cached
        });
        // A site without rules pays no path parsing for them.
        let scope = match files.iter().any(|cached| !cached.text.is_empty()) {
            true => Scope::of_request(path),
            false => None,
        };
        files.each_mut().map(|cached| {
            let prepared = match &scope {
                Some(scope) if !cached.text.is_empty() => cached.prepared_for(scope),
                _ => self.none.clone(),
            };
            (cached.var, prepared)
        })
    }

    /// Reads the files again if they changed, logging what changed and the
    /// problems of the new contents (everything, the first time).
    pub fn check(&self) {
        for file in &self.files {
            self.refresh(&mut file.lock().expect("not poisoned"));
        }
    }

    fn refresh(&self, cached: &mut Cached) {
        let now = seen(self.look_at(cached.name));
        if cached.seen.as_ref().is_some_and(|seen| seen.still(&now)) {
            return;
        }
        let (seen, contents) = self.read(cached.name);
        let first = cached.seen.is_none();
        if first || contents != cached.contents {
            if !first {
                tracing::info!("site rules: {} changed", cached.name);
            }
            log_problems(cached.name, &contents);
            let text = contents.as_ref().ok().cloned().and_then(rules::usable_text);
            cached.text = text.unwrap_or_default();
            cached.named = prepared::named_scopes(cached.name, &cached.text);
            cached.prepared.clear();
            cached.prepared_bytes = 0;
            cached.contents = contents;
        }
        // A file that cannot be opened keeps the stamp it showed, so it is
        // not tried again on every request while it stays as it is.
        cached.seen = Some(if cached.contents.is_err() { now } else { seen });
    }

    /// What `name` is now, through a symlink: the entry itself unless it is
    /// one (a third of the cost of cap-std's checked walk, and this runs
    /// twice per request).
    fn look_at(&self, name: &str) -> io::Result<cap_std::fs::Metadata> {
        match self.dir.symlink_metadata(name) {
            Ok(metadata) if metadata.is_symlink() => self.dir.metadata(name),
            looked => looked,
        }
    }

    /// The file's contents (at most one byte past the limit, which is enough
    /// to tell it is too large), with the stamp they belong to.
    fn read(&self, name: &'static str) -> (Seen, Result<Vec<u8>, String>) {
        let file = match self.dir.open(name) {
            Ok(file) => file,
            // Missing: no rules, as for an empty file.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return (Seen::Error(error.kind()), Ok(Vec::new()));
            }
            Err(error) => return (Seen::Error(error.kind()), Err(error.to_string())),
        };
        let metadata = match file.metadata() {
            Ok(metadata) => metadata,
            Err(error) => return (Seen::Error(error.kind()), Err(error.to_string())),
        };
        let seen = stamped(&metadata);
        if !metadata.is_file() {
            // A directory of that name is no rules file: as absent.
            return (seen, Ok(Vec::new()));
        }
        let mut contents = Vec::new();
        let read = (&file).take(MAX_FILE_BYTES + 1).read_to_end(&mut contents);
        (
            seen,
            read.map(|_| contents).map_err(|error| error.to_string()),
        )
    }
}

fn seen(metadata: io::Result<cap_std::fs::Metadata>) -> Seen {
    match metadata {
        Ok(metadata) => stamped(&metadata),
        Err(error) => Seen::Error(error.kind()),
    }
}

fn stamped(metadata: &cap_std::fs::Metadata) -> Seen {
    let stamp = Stamp {
        dev: metadata.dev(),
        ino: metadata.ino(),
        len: metadata.len(),
        modified: (metadata.mtime(), metadata.mtime_nsec()),
        changed: (metadata.ctime(), metadata.ctime_nsec()),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    let latest = stamp.modified.0.max(stamp.changed.0);
    Seen::Stamp {
        stamp,
        settled: now - latest >= SETTLE_SECONDS,
    }
}

/// Every problem of the rules files in `static_dir`, as the log says each
/// (`sitebox check-rules`), with the files that are there.
pub fn problems_in(static_dir: &Path) -> Result<(Vec<&'static str>, Vec<Problem>)> {
    let files = RulesFiles::open(static_dir)?;
    let mut present = Vec::new();
    let mut problems = Vec::new();
    for name in [REDIRECTS_FILE, HEADERS_FILE] {
        let (seen, contents) = files.read(name);
        if !matches!(seen, Seen::Error(io::ErrorKind::NotFound)) {
            present.push(name);
        }
        problems.extend(problems_of(name, &contents));
    }
    Ok((present, problems))
}

/// What `rules::check` finds in a file's `contents`, or that it cannot be read.
fn problems_of(file: &'static str, contents: &Result<Vec<u8>, String>) -> Vec<Problem> {
    match contents {
        Ok(contents) => rules::check(file, contents),
        Err(error) => vec![Problem {
            file,
            line: 0,
            message: format!("cannot be read ({error}): none of its rules apply"),
            skipped: true,
        }],
    }
}

fn log_problems(file: &'static str, contents: &Result<Vec<u8>, String>) {
    for problem in problems_of(file, contents) {
        tracing::warn!("site rules: {problem}");
    }
}

#[cfg(test)]
mod tests;
