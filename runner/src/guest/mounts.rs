//! What each instance is given besides its code: the preopened site and
//! data directories, the board's key-value store, and the environment (the
//! site settings, and the site's rules files handed in), all set up once at
//! start and shared by every request.

use crate::guest::engine::RequestState;
use crate::guest::guest_log::GuestOutput;
use crate::guest::keyvalue::KeyValue;
use crate::guest::site_rules::RulesFiles;
use crate::{BoardStore, Config};
use anyhow::{Result, bail};
use prometheus_client::metrics::counter::Counter;
use sitebox::settings;
use std::path::PathBuf;
use std::sync::Arc;
// wasmtime has its own error type; its `Context` covers both it and std
// errors here, and `?` turns the result into an `anyhow::Error`.
use wasmtime::error::Context as _;
use wasmtime_wasi::filesystem::WasiFilesystemCtx;
use wasmtime_wasi::{FsPerms, WasiCtx};

pub struct Mounts {
    /// The preopened directories (the site, and the data when the board is
    /// on files), opened once: each request's context gets a copy sharing
    /// the descriptors (no `open` per request). Replacing a directory
    /// wholesale (a symlink swap) therefore needs a restart.
    preopens: WasiFilesystemCtx,
    /// The board's bucket, when it is on Redis.
    pub keyvalue: Arc<KeyValue>,
    /// The board's directory, when it is on files.
    pub data_dir: Option<PathBuf>,
    /// The component's settings, as its environment.
    environment: Vec<(String, String)>,
    /// The site's rules files, for the environment of fresh instances.
    pub rules_files: RulesFiles,
}

impl Mounts {
    /// What every instance of `config` gets; failed calls to a Redis board
    /// are counted in `store_errors`.
    pub fn new(config: &Config, store_errors: Counter) -> Result<Mounts> {
        let static_dir = std::fs::canonicalize(&config.static_dir).with_context(|| {
            format!("static directory {} not found", config.static_dir.display())
        })?;
        if !static_dir.is_dir() {
            bail!("{} is not a directory", static_dir.display());
        }
        if let Some(hash) = &config.site.admin_password_hash {
            check_admin_hash(hash, config.max_instance_memory)?;
        }
        let mut preopens = WasiCtx::builder();
        preopens
            // File operations run on the calling thread instead of a hop to
            // tokio's blocking pool and back: the board's page does about a
            // hundred small ones (`cargo bench --bench board`; the figures:
            // docs/performance.md).
            .allow_blocking_current_thread(true)
            .preopened_dir(&static_dir, settings::STATIC_DIR, FsPerms::ReadOnly)
            .with_context(|| format!("cannot open {}", static_dir.display()))?;
        // The component knows what the runner compresses, so as not to
        // refuse (406) what a client will get compressed.
        let site = sitebox::settings::Settings {
            host_compression: (!config.compression.codings.is_empty())
                .then(|| config.compression.clone()),
            ..config.site.clone()
        };
        let environment = site
            .environment()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        // The component keeps the board in `/data` when it is there, and in
        // its key-value bucket otherwise.
        let (keyvalue, data_dir) = match &config.store {
            BoardStore::Files => {
                let data_dir = data_dir(config)?;
                preopens
                    .preopened_dir(&data_dir, settings::DATA_DIR, FsPerms::ReadWrite)
                    .with_context(|| format!("cannot open {}", data_dir.display()))?;
                (KeyValue::none(), Some(data_dir))
            }
            BoardStore::Redis { url, timeout } => (
                KeyValue::redis(url, &config.site.bucket, *timeout, store_errors)?,
                None,
            ),
        };
        Ok(Mounts {
            preopens: preopens.build().filesystem().clone(),
            keyvalue,
            data_dir,
            environment,
            rules_files: RulesFiles::open(&static_dir)?,
        })
    }

    /// The state of a new instance; `hand_rules_for` puts the rules files,
    /// as of now and prepared for a request for that path, in its
    /// environment (`None` for an instance that will be kept warm: its
    /// environment would go stale, and serve other paths).
    pub fn request_state(&self, hand_rules_for: Option<&str>) -> RequestState {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(GuestOutput::Stdout)
            .stderr(GuestOutput::Stderr)
            .envs(&self.environment);
        if let Some(path) = hand_rules_for {
            wasi.envs(&self.rules_files.environment(path));
        }
        let mut wasi = wasi.build();
        *wasi.filesystem() = self.preopens.clone();
        RequestState::new(wasi, self.keyvalue.clone())
    }
}

/// A hash the component could not use fails the start, not the first
/// clear: it must be argon2, and checking it must fit in an instance's
/// memory (with room for the rest of the request).
fn check_admin_hash(hash: &str, max_instance_memory: usize) -> Result<()> {
    // What a request takes besides argon2's blocks: the component's own
    // memory (its heap arena included) is under 2 MiB.
    const HEADROOM: usize = 2 << 20;
    let kib = sitebox::board::admin::hash_memory_kib(hash)
        .map_err(|reason| anyhow::anyhow!("the admin password hash is unusable: {reason}"))?;
    let needed = (kib as usize) << 10;
    if needed + HEADROOM > max_instance_memory {
        bail!(
            "checking the admin password takes {} MiB (its m={kib}), more than --max-memory {} MiB allows with {} MiB for the request",
            needed.div_ceil(1 << 20),
            max_instance_memory >> 20,
            HEADROOM >> 20
        );
    }
    Ok(())
}

/// The data directory, created if missing.
fn data_dir(config: &Config) -> Result<PathBuf> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let data_dir = std::fs::canonicalize(&config.data_dir)
        .with_context(|| format!("cannot open data directory {}", config.data_dir.display()))?;
    Ok(data_dir)
}
