//! The flags made into the server's `Config`; settings that contradict each
//! other, whatever their sources, are usage errors.

use super::args::{AccessLogFormat, Args};
use super::sources;
use super::values::StoreLocation;
use crate::{
    BoardStore, CompileCache, ComponentSource, Config, Limits, LogFormat, SiteSettings, TlsFiles,
};

impl Args {
    /// The server's `Config`; settings that contradict each other (whatever
    /// their sources) are a usage error.
    pub fn config(&self) -> Result<Config, clap::Error> {
        self.check_combinations()?;
        let mut config = Config::new(&self.static_dir, &self.data);
        if let Some(path) = &self.component {
            config.component = ComponentSource::File(path.clone());
        }
        config.watch = self.watch;
        config.store = match &self.store {
            StoreLocation::Files => BoardStore::Files,
            StoreLocation::Redis(url) => BoardStore::Redis {
                url: url.clone(),
                timeout: self.store_timeout,
            },
        };
        config.cache = match (&self.cache_dir, self.no_cache) {
            (_, true) => CompileCache::Off,
            (Some(dir), false) => CompileCache::Directory(dir.clone()),
            (None, false) => CompileCache::Default,
        };
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            config.tls = Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            });
        }
        config.limits = Limits {
            max_concurrent: self.max_concurrent,
            max_queue: self.max_queue,
            request_timeout: self.request_timeout,
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_body: self.max_body,
            shutdown_grace: self.shutdown_grace,
            max_logins: self.max_logins,
            login_backoff: self.login_backoff,
            max_per_client: self.max_per_client,
            min_body_rate: self.min_body_rate,
        };
        config.access_log = match (self.quiet, self.log_format) {
            (true, _) => None,
            (false, AccessLogFormat::Common) => Some(LogFormat::Common),
            (false, AccessLogFormat::Json) => Some(LogFormat::Json),
        };
        let path = |text: &String| Some(text.clone()).filter(|text| !text.is_empty());
        config.health = crate::Health {
            live_path: path(&self.live_path),
            ready_path: path(&self.ready_path),
            log: self.log_health,
        };
        config.metrics_addr = self.metrics_addr;
        config.redirect_http = self.redirect_http;
        config.hsts_max_age = self.hsts_max_age;
        config.compression = crate::Compression {
            min_size: self.compress_min_size,
            ..self.compress.clone()
        };
        config.trusted_proxies =
            crate::TrustedProxies::new(self.trusted_proxies.clone(), self.proxy_header);
        config.write_rate = self.write_rate.map(|mut rate| {
            if let Some(burst) = self.write_burst {
                rate.burst = burst;
            }
            rate
        });
        config.max_instance_memory = (self.max_memory as usize) << 20;
        config.reuse_instances = self.reuse_instances;
        config.instance_concurrency = self.instance_concurrency;
        config.site = SiteSettings {
            max_age: self.max_age,
            listing: self.listing,
            dotfiles: self.dotfiles,
            clean_urls: self.clean_urls,
            bucket: self.bucket.clone(),
            admin_password_hash: self
                .admin_password_hash
                .clone()
                .filter(|hash| !hash.is_empty()),
            // From `config.compression`, where the instances' environment
            // is made (`Mounts`).
            host_compression: None,
        };
        Ok(config)
    }

    /// What clap's `requires` and `conflicts_with` would check, but for
    /// values from the environment and the config file too (clap counts
    /// only the command line and the environment).
    fn check_combinations(&self) -> Result<(), clap::Error> {
        use clap::error::ErrorKind::{ArgumentConflict, MissingRequiredArgument};
        let problem = if self.watch && self.component.is_none() {
            Some((MissingRequiredArgument, "--watch needs --component"))
        } else if self.tls_cert.is_some() != self.tls_key.is_some() {
            Some((
                MissingRequiredArgument,
                "--tls-cert and --tls-key go together",
            ))
        } else if self.redirect_http.is_some() && self.tls_cert.is_none() {
            Some((
                MissingRequiredArgument,
                "--redirect-http needs --tls-cert and --tls-key",
            ))
        } else if self.write_burst.is_some() && self.write_rate.is_none() {
            Some((MissingRequiredArgument, "--write-burst needs --write-rate"))
        } else if !self.live_path.is_empty() && self.live_path == self.ready_path {
            Some((ArgumentConflict, "--live-path and --ready-path must differ"))
        } else if self.cache_dir.is_some() && self.no_cache {
            Some((ArgumentConflict, "--cache-dir and --no-cache contradict"))
        } else {
            None
        };
        match problem {
            Some((kind, message)) => Err(sources::command().error(kind, message)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
