//! The `sitebox` command line: the settings from their sources (`sources`,
//! to `Config` by `args`), logging, the listeners, signals, and the exit
//! code.

mod args;
mod check_rules;
mod config;
mod hash_password;
pub mod sources;
mod values;

pub use args::{AccessLogFormat, Args, Command};
pub use check_rules::{Report as RulesReport, report as check_rules};
pub use values::StoreLocation;

use crate::Config;
use crate::serving::listeners::{ListenOn, Listener};
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

/// The binary: parse flags (clap prints usage errors and exits 2), serve,
/// and on failure print one line and exit 1.
pub fn main() -> ExitCode {
    let loaded = sources::load(std::env::args_os().collect()).unwrap_or_else(|error| error.exit());
    let args = &loaded.args;
    match &args.command {
        Some(Command::HashPassword) => {
            return match hash_password::run() {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("sitebox hash-password: {error:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::CheckRules { dir }) => return check_rules::run(dir),
        None => {}
    }
    let config = args.config().unwrap_or_else(|error| error.exit());
    if args.print_config {
        print!("{}", sources::print(&loaded));
        return ExitCode::SUCCESS;
    }
    let _log_flushed_on_exit = init_logging();
    // A server holds a descriptor per connection: use all the process may.
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::debug!("cannot raise the open-file limit: {error}");
    }
    match run(args, &config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sitebox: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The access log (target `sitebox::access`) as bare lines on stdout; the
/// rest (start-up, warnings; `SITEBOX_LOG` sets the level) on stderr.
///
/// Both filters state their most verbose level, so wasmtime's `log::trace!`
/// calls stay one compare: a filter without that hint (`filter_fn`) cost a
/// large part of the small-file throughput (docs/performance.md).
///
/// Access lines go through a queue to a thread that writes them in batches
/// (flushed whenever the queue runs dry), so a request only formats its line:
/// a `write` per request was measurable at 1 KiB. The queue is not lossy: when
/// it is full, requests wait for the log. The returned guard flushes it.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::filter::{EnvFilter, Targets};
    use tracing_subscriber::prelude::*;
    const ACCESS: &str = "sitebox::access";
    let (stdout, flush_on_drop) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("sitebox-access-log")
        .finish(std::io::BufWriter::with_capacity(
            64 << 10,
            std::io::stdout(),
        ));
    let access = tracing_subscriber::fmt::layer()
        .with_writer(stdout)
        .without_time()
        .with_level(false)
        .with_target(false)
        .with_ansi(false)
        .with_filter(Targets::new().with_target(ACCESS, tracing::Level::INFO));
    let levels = EnvFilter::try_from_env("SITEBOX_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let diagnostics = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .with_filter(levels.add_directive(format!("{ACCESS}=off").parse().expect("a directive")));
    tracing_subscriber::registry()
        .with(access)
        .with(diagnostics)
        .init();
    flush_on_drop
}

fn run(args: &Args, config: &Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Every instance that may run has a thread of its own to run on
        // (see `guest_thread`), and some are left for other blocking work.
        .max_blocking_threads(config.limits.max_concurrent as usize + 64)
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(async {
        let listeners = listeners(args)?;
        let server = crate::Server::new(config)?;
        // Always handled: SIGHUP's default is to end the process, and
        // `systemctl reload` sends it.
        tokio::spawn(reload_on_sighup(server.reload())?);
        server.serve_on(listeners, shutdown_signal()?).await
    });
    // Guests still running after the grace period are not waited for.
    runtime.shutdown_background();
    served
}

/// systemd's sockets, else `--listen`'s, else `--addr`:`--port`, bound.
fn listeners(args: &Args) -> Result<Vec<Listener>> {
    if let Some(passed) = Listener::from_systemd()? {
        tracing::info!("listening on {} sockets from systemd", passed.len());
        return Ok(passed);
    }
    let default = [ListenOn::Tcp(SocketAddr::new(args.addr, args.port))];
    let on = if args.listen.is_empty() {
        &default[..]
    } else {
        &args.listen[..]
    };
    on.iter().map(Listener::bind).collect()
}

/// Reloads what can be at each SIGHUP (`Reload`).
fn reload_on_sighup(reload: crate::Reload) -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let reload = std::sync::Arc::new(reload);
    Ok(async move {
        while hangup.recv().await.is_some() {
            let reload = reload.clone();
            if let Err(error) = tokio::task::spawn_blocking(move || reload.run()).await {
                tracing::warn!("SIGHUP: reloading failed: {error}");
            }
        }
    })
}

/// Completes on the first SIGINT or SIGTERM.
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        let name = tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        };
        tracing::info!("{name} received");
    })
}
