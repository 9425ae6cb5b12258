//! The `aim-engine` command: a thin entry point over the library's CLI.
#![forbid(unsafe_code)]

/// Most of what the operator allocates are small, short-lived JSON values (watch events, plans,
/// observations); mimalloc serves them in a fraction of glibc malloc's time (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    aim_engine::cli::main()
}
