//! An injected clock, so that validity windows, timestamps and expiry are
//! deterministic in tests and never read the wall clock behind the caller's back.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// The source of "now" for everything that compares or records time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// A shared, dynamically dispatched clock.
pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until told to move; for tests.
#[derive(Debug)]
pub struct FixedClock {
    unix: AtomicI64,
}

impl FixedClock {
    /// A clock stopped at `unix` seconds since the epoch.
    pub fn at(unix: i64) -> Self {
        Self {
            unix: AtomicI64::new(unix),
        }
    }

    /// Moves the clock to `unix` seconds since the epoch.
    pub fn set(&self, unix: i64) {
        self.unix.store(unix, Ordering::SeqCst);
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.unix.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.unix.load(Ordering::SeqCst))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Formats an instant as an XML Schema `dateTimeStamp` in whole seconds with `Z`,
/// the form Open Badges 3.0 uses for `validFrom`/`validUntil` and that maps exactly
/// onto the JWT NumericDate claims.
pub fn format_seconds(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses an RFC 3339 / XML Schema `dateTimeStamp` (a time zone is required).
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_second_format_has_z_and_no_fraction() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("valid");
        assert_eq!(format_seconds(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let t = parse_datetime("2024-01-01T02:00:00+02:00").expect("parses");
        assert_eq!(format_seconds(t), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn date_without_zone_is_rejected() {
        assert!(parse_datetime("2024-01-01T00:00:00").is_none());
        assert!(parse_datetime("yesterday").is_none());
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::at(100);
        assert_eq!(c.now().unix_timestamp(), 100);
        c.advance(5);
        assert_eq!(c.now().unix_timestamp(), 105);
        c.set(7);
        assert_eq!(c.now().unix_timestamp(), 7);
    }
}
