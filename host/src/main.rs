//! The `aim-engine` command: a thin entry point over the library's CLI.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    aim_engine::cli::main()
}
