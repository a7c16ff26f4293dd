//! What the host configures and the component reads: the directories it
//! preopens, and `Settings`, passed as environment variables (the runner
//! sets them from its flags; under `wasmtime serve`, `--env
//! SITEBOX_MAX_AGE=600` and so on). The runner builds on these same
//! definitions, so the two sides cannot drift apart.

use crate::compression::Compression;
use crate::http::site_path::SitePath;
use crate::rules;

/// The guest path of the site, preopened read-only.
pub const STATIC_DIR: &str = "/static";
/// The guest path of the board's files, preopened read-write; without it,
/// the board is in the key-value bucket.
pub const DATA_DIR: &str = "/data";

/// `Cache-Control: max-age` for assets other than HTML, in seconds.
pub const MAX_AGE_VAR: &str = "SITEBOX_MAX_AGE";
/// `1` serves a listing for directories without an `index.html`.
pub const LISTING_VAR: &str = "SITEBOX_LISTING";
/// `1` serves files and directories whose names start with a dot.
pub const DOTFILES_VAR: &str = "SITEBOX_DOTFILES";
/// `1` serves `/about` from `about.html` and redirects `/about.html` there.
pub const CLEAN_URLS_VAR: &str = "SITEBOX_CLEAN_URLS";
/// The `wasi:keyvalue` bucket that holds the board when the host preopens
/// no `/data`.
pub const BUCKET_VAR: &str = "SITEBOX_BUCKET";
/// The bucket's name unless `SITEBOX_BUCKET` says otherwise.
pub const DEFAULT_BUCKET: &str = "sitebox";
/// The site's `_redirects` as the host read it and prepared it for the
/// request's scope (`rules::prepared`), for the component to take instead of
/// reading the file (`rules::HandedRules`): set, even empty, it stands for
/// the file. Only for a host that keeps it current, as the runner does;
/// unset, the component reads and prepares the file itself.
pub const REDIRECTS_VAR: &str = "SITEBOX_REDIRECTS";
/// The same for the site's `_headers`.
pub const HEADERS_VAR: &str = "SITEBOX_HEADERS";
/// What the host compresses on the way out, if it does (the runner's
/// `--compress`, as `Compression::to_env` writes it: `zstd,br,gzip;min=1024`):
/// a client that refuses a file plain then gets it compressed rather than a
/// 406. Unset (`wasmtime serve`), the component sends its bytes as they are.
pub const HOST_COMPRESSION_VAR: &str = "SITEBOX_HOST_COMPRESSION";
/// The argon2 hash (a PHC string) of the admin's password; unset or empty,
/// the site has no admin and clearing the board is turned off.
pub const ADMIN_PASSWORD_HASH_VAR: &str = "SITEBOX_ADMIN_PASSWORD_HASH";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub max_age: u64,
    pub listing: bool,
    pub dotfiles: bool,
    pub clean_urls: bool,
    pub bucket: String,
    pub admin_password_hash: Option<String>,
    pub host_compression: Option<Compression>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_age: 3600,
            listing: false,
            dotfiles: false,
            clean_urls: false,
            bucket: DEFAULT_BUCKET.to_owned(),
            admin_password_hash: None,
            host_compression: None,
        }
    }
}

impl Settings {
    /// Whether a request may see what is at `path`: hidden names only with
    /// dotfiles on, the site's rules files never. The one rule for serving,
    /// for listing and for the pages `_redirects` points to.
    pub(crate) fn shows(&self, path: &SitePath) -> bool {
        (self.dotfiles || !path.is_hidden()) && !rules::is_rules_file(path)
    }

    /// Reads the settings through `var`; a value that does not parse keeps
    /// the default and is reported in the returned warnings.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> (Settings, Vec<String>) {
        let mut settings = Settings::default();
        let mut warnings = Vec::new();
        if let Some(value) = var(MAX_AGE_VAR) {
            match value.trim().parse() {
                Ok(seconds) => settings.max_age = seconds,
                Err(_) => warnings.push(format!(
                    "{MAX_AGE_VAR}={value:?} is not a number of seconds"
                )),
            }
        }
        if let Some(bucket) = var(BUCKET_VAR) {
            // Taken as it is: `""` is a name too (wasmtime's in-memory one).
            settings.bucket = bucket;
        }
        // Checked when it is used (`admin`): most requests never need it.
        settings.admin_password_hash = var(ADMIN_PASSWORD_HASH_VAR).filter(|hash| !hash.is_empty());
        if let Some(value) = var(HOST_COMPRESSION_VAR) {
            match Compression::from_env(&value) {
                Ok(compression) => settings.host_compression = Some(compression),
                Err(reason) => warnings.push(format!("{HOST_COMPRESSION_VAR}: {reason}")),
            }
        }
        for (name, flag) in [
            (LISTING_VAR, &mut settings.listing),
            (DOTFILES_VAR, &mut settings.dotfiles),
            (CLEAN_URLS_VAR, &mut settings.clean_urls),
        ] {
            match var(name).as_deref().map(str::trim) {
                None => {}
                Some("1" | "true" | "yes" | "on") => *flag = true,
                Some("0" | "false" | "no" | "off" | "") => *flag = false,
                Some(other) => warnings.push(format!("{name}={other:?} is not 1 or 0")),
            }
        }
        (settings, warnings)
    }

    /// The environment that `from_env` reads these settings back from.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        let mut environment = vec![
            (MAX_AGE_VAR, self.max_age.to_string()),
            (LISTING_VAR, flag(self.listing)),
            (DOTFILES_VAR, flag(self.dotfiles)),
            (CLEAN_URLS_VAR, flag(self.clean_urls)),
            (BUCKET_VAR, self.bucket.clone()),
        ];
        if let Some(hash) = &self.admin_password_hash {
            environment.push((ADMIN_PASSWORD_HASH_VAR, hash.clone()));
        }
        if let Some(compression) = &self.host_compression {
            environment.push((HOST_COMPRESSION_VAR, compression.to_env()));
        }
        environment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> (Settings, Vec<String>) {
        Settings::from_env(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(read(&[]), (Settings::default(), vec![]));
        let (settings, warnings) = read(&[
            (MAX_AGE_VAR, "600"),
            (LISTING_VAR, "1"),
            (DOTFILES_VAR, "true"),
            (CLEAN_URLS_VAR, "on"),
            (BUCKET_VAR, "site-a"),
        ]);
        assert!(warnings.is_empty());
        assert_eq!(
            settings,
            Settings {
                max_age: 600,
                listing: true,
                dotfiles: true,
                clean_urls: true,
                bucket: "site-a".to_owned(),
                admin_password_hash: None,
                host_compression: None,
            }
        );
    }

    #[test]
    fn the_environment_reads_back_as_the_same_settings() {
        let settings = Settings {
            max_age: 7,
            listing: true,
            dotfiles: false,
            clean_urls: true,
            bucket: "b".to_owned(),
            admin_password_hash: Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".to_owned()),
            host_compression: Some(Compression::default()),
        };
        for settings in [settings, Settings::default()] {
            let environment = settings.environment();
            let (read, warnings) = Settings::from_env(|name| {
                environment
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
            });
            assert!(warnings.is_empty());
            assert_eq!(read, settings);
        }
    }

    #[test]
    fn an_empty_admin_hash_is_no_admin() {
        let (settings, _) = read(&[(ADMIN_PASSWORD_HASH_VAR, "")]);
        assert_eq!(settings.admin_password_hash, None);
    }

    #[test]
    fn bad_values_keep_the_default_and_warn() {
        let (settings, warnings) = read(&[
            (MAX_AGE_VAR, "an hour"),
            (LISTING_VAR, "maybe"),
            (HOST_COMPRESSION_VAR, "gzip"),
        ]);
        assert_eq!(settings, Settings::default());
        assert_eq!(warnings.len(), 3);
    }
}
