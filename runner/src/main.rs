use std::process::ExitCode;

fn main() -> ExitCode {
    sitebox_runner::cli::main()
}
