//! The `accolade` binary: parse the command line, start logging, dispatch.

use clap::Parser as _;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

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
    let serving = matches!(cli.command, accolade::cli::Command::Serve(_));
    // The service logs what it does; one-shot commands only what goes wrong.
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACCOLADE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The service hands its lines to a thread of their own, which writes them in
    // batches: a request never waits for stderr (a slow pipe or log collector). None
    // is dropped; only when 128k lines wait does a writer wait too. One-shot
    // commands write at once, in order with what they print.
    let (writer, written) = if serving {
        let (w, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .lossy(false)
            .thread_name("accolade-log")
            .finish(std::io::stderr());
        accolade::notice::set_sink(Box::new(w.clone()));
        (BoxMakeWriter::new(w), Some(guard))
    } else {
        (BoxMakeWriter::new(std::io::stderr), None)
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
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
    let outcome = accolade::cli::run(cli);
    // Every line logged is out before the last words below.
    drop(written);
    match outcome {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
