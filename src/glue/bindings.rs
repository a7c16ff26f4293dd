//! The bindings of our world in `wit/`, so the component cannot call anything
//! the world does not grant. The WASI 0.2 interfaces reuse the `wasi` crate's
//! types; `wasi:keyvalue` (which that crate lacks) and the export glue are
//! generated here.

/// One `generate!` for either world: they share every WASI 0.2 interface
/// but `wasi:http` (the 0.3 world takes its HTTP from `wasip3`).
macro_rules! bindings {
    ($world:tt, { $($http:tt)* }) => {
        wit_bindgen::generate!({
            path: "wit",
            world: $world,
            with: {
                $($http)*
                "wasi:cli/environment@0.2.12": ::wasi::cli::environment,
                "wasi:cli/exit@0.2.12": ::wasi::cli::exit,
                "wasi:cli/stderr@0.2.12": ::wasi::cli::stderr,
                "wasi:cli/stdin@0.2.12": ::wasi::cli::stdin,
                "wasi:cli/stdout@0.2.12": ::wasi::cli::stdout,
                "wasi:cli/terminal-input@0.2.12": ::wasi::cli::terminal_input,
                "wasi:cli/terminal-output@0.2.12": ::wasi::cli::terminal_output,
                "wasi:cli/terminal-stderr@0.2.12": ::wasi::cli::terminal_stderr,
                "wasi:cli/terminal-stdin@0.2.12": ::wasi::cli::terminal_stdin,
                "wasi:cli/terminal-stdout@0.2.12": ::wasi::cli::terminal_stdout,
                "wasi:clocks/monotonic-clock@0.2.12": ::wasi::clocks::monotonic_clock,
                "wasi:clocks/wall-clock@0.2.12": ::wasi::clocks::wall_clock,
                "wasi:filesystem/preopens@0.2.12": ::wasi::filesystem::preopens,
                "wasi:filesystem/types@0.2.12": ::wasi::filesystem::types,
                "wasi:io/error@0.2.12": ::wasi::io::error,
                "wasi:io/poll@0.2.12": ::wasi::io::poll,
                "wasi:io/streams@0.2.12": ::wasi::io::streams,
                "wasi:random/insecure-seed@0.2.12": ::wasi::random::insecure_seed,
                "wasi:random/random@0.2.12": ::wasi::random::random,
                "wasi:keyvalue/store@0.2.0-draft": generate,
                "wasi:keyvalue/atomics@0.2.0-draft": generate,
                "wasi:keyvalue/batch@0.2.0-draft": generate,
            },
        });
    };
}

#[cfg(not(feature = "p3"))]
bindings!("sitebox:server/sitebox", {
    "wasi:http/outgoing-handler@0.2.12": ::wasi::http::outgoing_handler,
    "wasi:http/types@0.2.12": ::wasi::http::types,
});

#[cfg(feature = "p3")]
bindings!("sitebox:server/sitebox-p3-imports", {});
