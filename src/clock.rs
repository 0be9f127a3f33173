//! An injected clock, so that validity windows, timestamps and expiry are
//! deterministic in tests and never read the wall clock behind the caller's back.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;

/// The source of "now" for everything that compares or records time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// The current instant in whole seconds: what records keep, so that a record
    /// reads back exactly as it was written.
    fn timestamp(&self) -> OffsetDateTime {
        whole_seconds(self.now())
    }
}

/// `t` in UTC with the fraction of a second dropped.
pub fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0).unwrap_or(t)
}

/// A fresh UUID of version 7 (RFC 9562 §5.7): the instant `t` in milliseconds, then
/// random bits. Ids made one after another sort by time, so the store appends them
/// where it wrote the last ones instead of all over its indexes; the random part keeps
/// them unguessable.
pub fn time_ordered_id(t: OffsetDateTime) -> uuid::Uuid {
    let nanos = t.unix_timestamp_nanos();
    let secs = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, secs, sub))
}

/// The instant `unix` seconds after the epoch (the epoch itself when out of range).
pub fn from_unix(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH)
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
        from_unix(self.unix.load(Ordering::SeqCst))
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

/// Serde for instants in records and answers: RFC 3339 in whole seconds with `Z`
/// (`#[serde(with = "crate::clock::rfc3339")]`, or `rfc3339::option`).
pub mod rfc3339 {
    use serde::{Deserialize as _, Deserializer, Serializer, de::Error as _};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_seconds(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_datetime(&s)
            .map(super::whole_seconds)
            .ok_or_else(|| D::Error::custom(format!("{s:?} is not an RFC 3339 date-time")))
    }

    /// The same for `Option<OffsetDateTime>` (`null` for `None`).
    pub mod option {
        use serde::{Deserialize as _, Deserializer, Serializer};
        use time::OffsetDateTime;

        pub fn serialize<S: Serializer>(
            t: &Option<OffsetDateTime>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            #[derive(serde::Deserialize)]
            struct Wrap(#[serde(with = "super")] OffsetDateTime);
            Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(t)| t))
        }
    }
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
    fn instants_round_trip_through_serde_in_whole_seconds() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct R {
            #[serde(with = "rfc3339")]
            at: OffsetDateTime,
            #[serde(with = "rfc3339::option", default)]
            until: Option<OffsetDateTime>,
        }
        let at = whole_seconds(
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("t"),
        );
        let r = R { at, until: None };
        let json = serde_json::to_string(&r).expect("ser");
        assert_eq!(json, r#"{"at":"2023-11-14T22:13:20Z","until":null}"#);
        assert_eq!(serde_json::from_str::<R>(&json).expect("de"), r);
        let back: R = serde_json::from_str(
            r#"{"at":"2023-11-14T23:13:20+01:00","until":"2030-01-01T00:00:00Z"}"#,
        )
        .expect("offsets");
        assert_eq!(back.at, at);
        assert_eq!(
            back.until.map(OffsetDateTime::unix_timestamp),
            Some(1_893_456_000)
        );
        assert!(serde_json::from_str::<R>(r#"{"at":1700000000}"#).is_err());
    }

    #[test]
    fn time_ordered_ids_sort_by_their_instant_and_differ_within_one() {
        let a = time_ordered_id(from_unix(1_800_000_000));
        let b = time_ordered_id(from_unix(1_800_000_001));
        let c = time_ordered_id(from_unix(1_800_000_001));
        assert_eq!(a.get_version_num(), 7);
        assert!(a < b && a < c);
        assert_ne!(b, c);
        // The first 48 bits are the Unix time in milliseconds.
        let ms = (1_800_000_001_000u64 << 16).to_be_bytes();
        assert_eq!(&b.as_bytes()[..6], &ms[..6]);
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
