//! `--watch`: reload the component when its file changes. New requests go
//! to the new component; requests in flight finish on the old one, and no
//! connection is dropped.

use crate::host::Host;
use crate::{ComponentSource, Config};
use anyhow::{Context, Result, bail};
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Editors and compilers write a file in several steps (truncate, write,
/// rename): wait this long after the last change before reloading.
const SETTLE: Duration = Duration::from_millis(200);

/// Watches the component file of `config` and reloads `host` on changes,
/// as long as the current tokio runtime runs.
pub fn spawn(host: &Arc<Host>, config: &Config) -> Result<()> {
    let ComponentSource::File(path) = &config.component else {
        bail!("--watch needs --component FILE");
    };
    let path = std::path::absolute(path)?;
    // Watch the directory: a file replaced by a rename is a new inode, which a
    // watch on the file itself would miss.
    let dir = path
        .parent()
        .map(PathBuf::from)
        .context("the component has no directory")?;
    let (changes, mut changed) = tokio::sync::mpsc::unbounded_channel();
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
    let host = host.clone();
    tokio::spawn(async move {
        // The watcher stops when dropped: it lives as long as this task.
        let _watcher = watcher;
        while changed.recv().await.is_some() {
            // Let the writes settle, then reload once for all of them.
            tokio::time::sleep(SETTLE).await;
            while changed.try_recv().is_ok() {}
            let (host, path) = (host.clone(), path.clone());
            let reloaded = tokio::task::spawn_blocking(move || host.reload(&path)).await;
            match reloaded {
                Ok(Ok(())) => tracing::info!("reloaded the component"),
                Ok(Err(error)) => {
                    tracing::warn!("kept the old component: {error:#}")
                }
                Err(error) => tracing::warn!("kept the old component: {error}"),
            }
        }
    });
    Ok(())
}
