//! The `sitebox` command line: flags to `Config`, logging, and the exit code.

use crate::{ComponentSource, Config, SiteOptions};
use anyhow::{Context, Result};
use clap::Parser;
use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::net::TcpListener;

/// Serve a static site (and its message board) from a sandboxed WebAssembly
/// component, a fresh instance per request.
#[derive(Debug, Parser)]
#[command(name = "sitebox", version)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub addr: IpAddr,

    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8080)]
    pub port: u16,

    /// Directory to serve; the component sees it read-only at /static.
    #[arg(long = "static", value_name = "DIR", default_value = "./static")]
    pub static_dir: PathBuf,

    /// Directory for the site's data (the message board); the component sees
    /// it read-write at /data. Created if missing.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data: PathBuf,

    /// A wasi:http component to run instead of the built-in sitebox component.
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,

    /// Most memory one instance may use, in MiB; a guest that needs more fails
    /// that request with a 500.
    #[arg(long, value_name = "MIB", default_value_t = (Config::DEFAULT_MAX_INSTANCE_MEMORY >> 20) as u32,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub max_memory: u32,

    /// Let one instance serve up to N requests instead of one. Faster, but a
    /// request may see what an earlier one left in the instance's memory;
    /// 1 (the default) gives every request a fresh instance.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse_instances: u32,

    /// Cache-Control max-age for files other than HTML, in seconds (HTML is
    /// always revalidated: no-cache).
    #[arg(long, value_name = "SECONDS", default_value_t = SiteOptions::default().max_age)]
    pub max_age: u64,

    /// List the contents of directories that have no index.html (otherwise
    /// they are a 404).
    #[arg(long)]
    pub listing: bool,

    /// Serve files and directories whose names start with a dot (otherwise
    /// they are a 404; /.well-known/ is always served).
    #[arg(long)]
    pub dotfiles: bool,
}

impl Args {
    pub fn config(&self) -> Config {
        let mut config = Config::new(&self.static_dir, &self.data);
        if let Some(path) = &self.component {
            config.component = ComponentSource::File(path.clone());
        }
        config.max_instance_memory = (self.max_memory as usize) << 20;
        config.reuse_instances = self.reuse_instances;
        config.site = SiteOptions {
            max_age: self.max_age,
            listing: self.listing,
            dotfiles: self.dotfiles,
        };
        config
    }
}

/// The binary: parse flags (clap prints usage errors and exits 2), serve,
/// and on failure print one line and exit 1.
pub fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SITEBOX_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sitebox: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let addr = SocketAddr::new(args.addr, args.port);
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        crate::serve(listener, args.config()).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let args = Args::try_parse_from(["sitebox"]).unwrap();
        assert_eq!(
            SocketAddr::new(args.addr, args.port).to_string(),
            "127.0.0.1:8080"
        );
        let config = args.config();
        assert_eq!(config.static_dir, PathBuf::from("./static"));
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.component, ComponentSource::Embedded);
        assert_eq!(config.max_instance_memory, 64 << 20);
    }

    #[test]
    fn flags() {
        let args = Args::try_parse_from([
            "sitebox",
            "--addr",
            "::1",
            "--port",
            "0",
            "--static",
            "site",
            "--data",
            "d",
            "--component",
            "x.wasm",
            "--max-memory",
            "16",
            "--max-age",
            "60",
            "--listing",
            "--dotfiles",
        ])
        .unwrap();
        let config = args.config();
        assert_eq!(args.addr.to_string(), "::1");
        assert_eq!(config.component, ComponentSource::File("x.wasm".into()));
        assert_eq!(config.max_instance_memory, 16 << 20);
        let site = SiteOptions {
            max_age: 60,
            listing: true,
            dotfiles: true,
        };
        assert_eq!(config.site, site);
        let environment = site.environment();
        assert!(environment.contains(&("SITEBOX_MAX_AGE".to_owned(), "60".to_owned())));
        assert!(environment.contains(&("SITEBOX_LISTING".to_owned(), "1".to_owned())));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["sitebox", "--port", "70000"][..],
            &["sitebox", "--port", "http"],
            &["sitebox", "--addr", "localhost:1"],
            &["sitebox", "--max-memory", "0"],
            &["sitebox", "--frobnicate"],
        ] {
            let error = Args::try_parse_from(bad).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad:?}");
        }
    }
}
