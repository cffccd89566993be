use std::process::ExitCode;

fn main() -> ExitCode {
    hrsi::cli::run()
}
