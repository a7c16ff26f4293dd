//! SIGHUP (`systemctl reload`): what the runner takes up again without a
//! restart — the TLS certificate, the `--component` file, the site's rules
//! files — and the word that everything else waits for the next start.

use crate::guest::host::Host;
use crate::serving::tls;
use std::path::PathBuf;
use std::sync::Arc;

/// What a SIGHUP reloads, of one server.
pub struct Reload {
    pub(crate) host: Arc<Host>,
    pub(crate) certificate: Option<Arc<tls::Certificate>>,
    pub(crate) component: Option<PathBuf>,
}

impl Reload {
    /// Reloads what can be, logging each; a file that is broken keeps what
    /// is in use. Blocking (it may compile a component).
    pub fn run(&self) {
        if let Some(certificate) = &self.certificate {
            match certificate.reload() {
                Ok(()) => tracing::info!(
                    "SIGHUP: TLS certificate reloaded from {}",
                    certificate.files().cert.display()
                ),
                Err(error) => tracing::warn!(
                    "SIGHUP: TLS certificate not reloaded, keeping the one in use: {error:#}"
                ),
            }
        }
        if let Some(path) = &self.component {
            match self.host.reload(path) {
                Ok(()) => tracing::info!("SIGHUP: component reloaded from {}", path.display()),
                Err(error) => {
                    tracing::warn!("SIGHUP: component not reloaded, keeping the old one: {error:#}")
                }
            }
        }
        // Requests read the rules files as they change; this logs their
        // problems now.
        self.host.rules_files().check();
        tracing::info!(
            "SIGHUP: rules files checked; other settings (flags, variables, --config) take effect at the next start"
        );
    }
}
