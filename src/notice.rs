//! Lines for the operator: what the service says as it starts and stops (its address,
//! its identity, warnings about its set-up). Plain text on standard error, or, with
//! `--log-format json`, log events like every other line, so that a log collector
//! reads one format.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

static JSON: AtomicBool = AtomicBool::new(false);

/// Where plain-text notices go when not straight to standard error: the service's
/// log writer, so that notices and log lines keep their order.
static SINK: OnceLock<Mutex<Box<dyn Write + Send>>> = OnceLock::new();

/// Sends plain-text notices to `sink` from now on (set once, as logging starts).
pub fn set_sink(sink: Box<dyn Write + Send>) {
    let _ = SINK.set(Mutex::new(sink));
}

/// Whether notices go out as JSON log events (set once, as logging starts).
pub fn set_json(json: bool) {
    JSON.store(json, Ordering::Relaxed);
}

/// Says `msg`: a line starting `warning: ` is a warning.
pub fn say(msg: &str) {
    if JSON.load(Ordering::Relaxed) {
        match msg.strip_prefix("warning: ") {
            Some(w) => tracing::warn!(target: "accolade::notice", "{w}"),
            None => tracing::info!(target: "accolade::notice", "{msg}"),
        }
    } else if let Some(sink) = SINK.get() {
        let mut line = String::with_capacity(msg.len() + 1);
        line.push_str(msg);
        line.push('\n');
        let mut out = sink.lock().unwrap_or_else(PoisonError::into_inner);
        if out.write_all(line.as_bytes()).is_err() {
            eprint!("{line}");
        }
    } else {
        eprintln!("{msg}");
    }
}

/// [`say`] with `format!` arguments.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::notice::say(&format!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_notices_go_to_the_sink_whole_lines_in_order() {
        let out = Shared::default();
        set_sink(Box::new(out.clone()));
        say("listening on http://127.0.0.1:1");
        crate::say!("warning: {} is {}", "this", "odd");
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        // Other tests may say things meanwhile: these two are whole lines, in order.
        let lines: Vec<&str> = text.lines().collect();
        let first = lines
            .iter()
            .position(|l| *l == "listening on http://127.0.0.1:1");
        let second = lines.iter().position(|l| *l == "warning: this is odd");
        assert!(
            matches!((first, second), (Some(a), Some(b)) if a < b),
            "{text}"
        );
        assert!(text.ends_with('\n'));
    }
}
