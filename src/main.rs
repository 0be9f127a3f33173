//! The `accolade` binary: parse the command line, start logging, dispatch.

use clap::Parser as _;

/// mimalloc instead of the system allocator: the service allocates many short-lived
/// buffers from many threads (JSON, JWTs, store values), where glibc's malloc spent
/// about a seventh of the CPU of an OpenID4VCI claim flow.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = match accolade::cli::config::apply(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let cli = accolade::cli::Cli::parse_from(args);
    // The service logs what it does; one-shot commands only what goes wrong.
    let default = if matches!(cli.command, accolade::cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACCOLADE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        // One JSON object per line: time, level, target, fields.
        accolade::cli::LogFormat::Json => {
            logs.json().flatten_event(true).init();
            accolade::notice::set_json(true);
        }
        // Colour only for a person at a terminal: files and collectors get plain text.
        accolade::cli::LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    match accolade::cli::run(cli) {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
