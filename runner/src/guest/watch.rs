//! `--watch`: reload the component when its file changes (new requests go
//! to the new component; requests in flight finish on the old one, and no
//! connection is dropped), and check the site's rules files again when they
//! change.

use crate::guest::host::Host;
use crate::{ComponentSource, Config};
use anyhow::{Context, Result, bail};
use notify::{RecursiveMode, Watcher};
use sitebox::rules::{HEADERS_FILE, REDIRECTS_FILE};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Editors and compilers write a file in several steps (truncate, write,
/// rename): wait this long after the last change before reloading.
const SETTLE: Duration = Duration::from_millis(200);

/// Watches the component file of `config` and reloads `host` on changes,
/// and the site's rules files, checked again when they change; as long as
/// the current tokio runtime runs.
pub fn spawn(host: &Arc<Host>, config: &Config) -> Result<()> {
    let ComponentSource::File(path) = &config.component else {
        bail!("--watch needs --component FILE");
    };
    let path = std::path::absolute(path)?;
    let (reloading, reload_path) = (host.clone(), path.clone());
    on_change(&path, move || match reloading.reload(&reload_path) {
        Ok(()) => tracing::info!("reloaded the component"),
        Err(error) => tracing::warn!("kept the old component: {error:#}"),
    })?;
    // The rules files are checked again when requests find them changed;
    // watched, their problems are logged without waiting for one.
    for file in [REDIRECTS_FILE, HEADERS_FILE] {
        let host = host.clone();
        on_change(&config.static_dir.join(file), move || {
            host.rules_files().check()
        })?;
    }
    Ok(())
}

/// Runs `changed` (on a blocking thread, once the writes have settled)
/// whenever the file at `path` is written, replaced or removed.
fn on_change(path: &Path, changed: impl Fn() + Send + Sync + 'static) -> Result<()> {
    // Watch the directory: a file replaced by a rename is a new inode, which a
    // watch on the file itself would miss.
    let dir = path
        .parent()
        .map(PathBuf::from)
        .context("the file has no directory")?;
    let (changes, mut changes_seen) = tokio::sync::mpsc::unbounded_channel();
    let name = path.file_name().map(ToOwned::to_owned);
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let ours = event.is_ok_and(|event| {
            !event.kind.is_access()
                && event
                    .paths
                    .iter()
                    .any(|changed| changed.file_name() == name.as_deref())
        });
        if ours {
            let _ = changes.send(());
        }
    })
    .context("cannot watch files")?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    let changed = Arc::new(changed);
    tokio::spawn(async move {
        // The watcher stops when dropped: it lives as long as this task.
        let _watcher = watcher;
        while changes_seen.recv().await.is_some() {
            // Let the writes settle, then act once for all of them.
            tokio::time::sleep(SETTLE).await;
            while changes_seen.try_recv().is_ok() {}
            let changed = changed.clone();
            if let Err(error) = tokio::task::spawn_blocking(move || changed()).await {
                tracing::warn!("watching {}: {error}", dir.display());
            }
        }
    });
    Ok(())
}
