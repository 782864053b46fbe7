//! The `capsize` command.

fn main() -> std::process::ExitCode {
    capsize_harness::cli::main()
}
