use std::process::ExitCode;

// Every request allocates and frees a store, an instance's host state and
// hyper's buffers; mimalloc's thread-local free lists beat glibc's malloc at
// that churn (see docs/speed.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sitebox_runner::cli::main()
}
