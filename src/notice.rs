//! Lines for the operator: what the service says as it starts and stops (its address,
//! its identity, warnings about its set-up). Plain text on standard error, or, with
//! `--log-format json`, log events like every other line, so that a log collector
//! reads one format.

use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

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
