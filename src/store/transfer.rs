//! Moving a whole store between backends (`accolade export` / `accolade import`): one
//! archive format both the embedded store and PostgreSQL write and read.
//!
//! # The archive
//! JSON Lines (UTF-8, one object per line):
//! 1. a header, `{"accolade_export": {"version": 1, "exported_at": ..., "from": ...}}`
//!    (`public_url` and `did` too when the exporter knows them);
//! 2. one [`Record`] per line, externally tagged (`{"award": {...}}`);
//! 3. a trailer, `{"end": {"records": N}}`: an archive cut short is refused whole.
//!
//! Records are the store's logical content, not either engine's layout: awards,
//! their audit events and the staff audit trail come in the order they were written
//! (that order is their listing order; the target numbers them afresh); every status
//! slot ever given out, taken or reserved, comes after the awards naming it, so an
//! export taken beside a running service never leaves an award without its slot;
//! pre-authorized codes and other wallet handles come as they stand (a spent code is
//! absent, a code's wrong transaction-code count is kept), never rebuilt from awards.
//!
//! Not in the archive: signing keys (the keys directory, or the sealed set a fleet's
//! database keeps under `ACCOLADE_KEY_ENCRYPTION_KEY`), the admin token, and leases
//! (work a node holds for a minute).
//!
//! # Importing
//! Only into a store holding nothing yet (no issuer profile, achievement, award, status
//! slot or staff member). The whole archive is read and checked first (header,
//! every record, the trailer's count), so a damaged file writes nothing.

use std::collections::BTreeMap;
use std::io::BufRead;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Store, codec};
use crate::images::ImageFormat;
use crate::model::Achievement;
use crate::records::partner::PartnerKeyRecord;
use crate::records::presentation::PresentationRequest;
use crate::records::profile::IssuerProfile;
use crate::records::trust::Entry as TrustEntry;
use crate::records::{
    AchievementRecord, AuditRecord, BadgeType, EarnerRecord, MailSettings, MailTemplate,
    OutboxMessage, PersonalToken, Placement, SecuritySettings, SessionRecord, StaffLink,
    StaffRecord, StoredImage, TemplateKind, Visibility, WalletHandle,
};
use crate::status::{StatusPurpose, StatusSlot};

/// The archive format this version writes and reads.
pub const VERSION: u32 = 1;

/// Records restored together (one transaction on PostgreSQL).
const BATCH: usize = 256;

/// One piece of a store's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    IssuerProfile(IssuerProfile),
    /// An achievement as it stands (its latest revision).
    Achievement(AchievementRecord),
    /// One revision of an achievement, as badges awarded under it name it.
    Revision {
        key: Uuid,
        revision: u32,
        achievement: Achievement,
    },
    BadgeType(BadgeType),
    Placement {
        achievement: Uuid,
        placement: Placement,
    },
    Image {
        digest: String,
        format: ImageFormat,
        width: u32,
        height: u32,
        #[serde(with = "b64")]
        bytes: Vec<u8>,
    },
    TrustEntry(TrustEntry),
    PartnerKey(PartnerKeyRecord),
    Earner(EarnerRecord),
    Staff(StaffRecord),
    Session {
        #[serde(with = "hex32")]
        digest: [u8; 32],
        session: SessionRecord,
    },
    PersonalToken {
        #[serde(with = "hex32")]
        digest: [u8; 32],
        token: PersonalToken,
    },
    StaffLink(StaffLink),
    SecuritySettings(SecuritySettings),
    MailSettings(MailSettings),
    MailTemplate {
        kind: TemplateKind,
        template: MailTemplate,
    },
    Counter {
        name: String,
        day: i64,
        n: u64,
    },
    PresentationRequest(PresentationRequest),
    /// An unspent OpenID4VCI nonce and when it expires (Unix seconds).
    Nonce {
        nonce: String,
        expires_at: i64,
    },
    /// An OpenID4VCI access or refresh token (its SHA-256) and what it grants, in the
    /// store's compact encoding.
    Token {
        #[serde(with = "hex32")]
        digest: [u8; 32],
        #[serde(with = "b64")]
        grant: Vec<u8>,
    },
    /// An award in the store's compact encoding, its listing position zeroed (the
    /// archive's order is the listing order).
    Award {
        #[serde(with = "b64")]
        body: Vec<u8>,
    },
    /// A batch copy of an award (its own id and slot).
    Copy {
        copy: Uuid,
        award: Uuid,
    },
    /// One event of an award's history, compact.
    Event {
        award: Uuid,
        #[serde(with = "b64")]
        body: Vec<u8>,
    },
    /// A wallet handle leading to an award: `c` pre-authorized code (with the wrong
    /// transaction codes tried), `o` offer, `l` claim page, `x` deferred transaction,
    /// `m` notification.
    Handle {
        kind: String,
        value: String,
        award: Uuid,
        #[serde(default)]
        failures: u8,
    },
    Visibility {
        award: Uuid,
        visibility: Visibility,
    },
    OutboxMessage(OutboxMessage),
    OptOut {
        award: Uuid,
    },
    /// A status slot given out, never to be given again; `reserved` while its award
    /// was being signed (a pending intent, burned after the timeout).
    Slot {
        list: u32,
        index: u32,
        award: Uuid,
        #[serde(default)]
        reserved: bool,
    },
    /// A set bit of a status list.
    Bit {
        purpose: StatusPurpose,
        list: u32,
        index: u32,
    },
    /// A status list credential as last signed.
    SignedList {
        purpose: StatusPurpose,
        list: u32,
        digest: String,
        jwt: String,
    },
    /// An entry of the staff audit trail, its position zeroed (order is position).
    Audit(AuditRecord),
}

impl Record {
    /// The record's kind, as its tag in the archive.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::IssuerProfile(_) => "issuer_profile",
            Record::Achievement(_) => "achievement",
            Record::Revision { .. } => "revision",
            Record::BadgeType(_) => "badge_type",
            Record::Placement { .. } => "placement",
            Record::Image { .. } => "image",
            Record::TrustEntry(_) => "trust_entry",
            Record::PartnerKey(_) => "partner_key",
            Record::Earner(_) => "earner",
            Record::Staff(_) => "staff",
            Record::Session { .. } => "session",
            Record::PersonalToken { .. } => "personal_token",
            Record::StaffLink(_) => "staff_link",
            Record::SecuritySettings(_) => "security_settings",
            Record::MailSettings(_) => "mail_settings",
            Record::MailTemplate { .. } => "mail_template",
            Record::Counter { .. } => "counter",
            Record::PresentationRequest(_) => "presentation_request",
            Record::Nonce { .. } => "nonce",
            Record::Token { .. } => "token",
            Record::Award { .. } => "award",
            Record::Copy { .. } => "copy",
            Record::Event { .. } => "event",
            Record::Handle { .. } => "handle",
            Record::Visibility { .. } => "visibility",
            Record::OutboxMessage(_) => "outbox_message",
            Record::OptOut { .. } => "opt_out",
            Record::Slot { .. } => "slot",
            Record::Bit { .. } => "bit",
            Record::SignedList { .. } => "signed_list",
            Record::Audit(_) => "audit",
        }
    }

    /// Whether only the backend itself can write this record as it was (listing
    /// order, slots, bits, handles with their counts, achievement history); the rest
    /// go through the repository traits.
    fn raw(&self) -> bool {
        matches!(
            self,
            Record::Achievement(_)
                | Record::Revision { .. }
                | Record::Award { .. }
                | Record::Copy { .. }
                | Record::Event { .. }
                | Record::Handle { .. }
                | Record::Slot { .. }
                | Record::Bit { .. }
                | Record::SignedList { .. }
        )
    }

    /// An award's record: its compact encoding with the listing position zeroed.
    pub(in crate::store) fn award(award: &crate::records::Award) -> Self {
        let mut a = award.clone();
        a.seq = 0;
        Record::Award {
            body: codec::award(&a),
        }
    }

    /// A status slot's record.
    pub(in crate::store) fn slot(slot: StatusSlot, award: Uuid, reserved: bool) -> Self {
        Record::Slot {
            list: slot.list,
            index: slot.index,
            award,
            reserved,
        }
    }

    /// An audit record's record, its position zeroed.
    pub(in crate::store) fn audit(mut r: AuditRecord) -> Self {
        r.seq = 0;
        Record::Audit(r)
    }
}

/// Where a dump puts its records.
#[async_trait]
pub trait Sink: Send {
    async fn put(&mut self, record: Record) -> Result<(), Error>;
}

/// What each backend does for a move.
#[async_trait]
pub trait Transfer: Send + Sync {
    /// Every record of the store, in the archive's order (module doc).
    async fn dump(&self, sink: &mut (dyn Sink + '_)) -> Result<(), Error>;
    /// Whether the store holds nothing an import would collide with.
    async fn holds_nothing(&self) -> Result<bool, Error>;
    /// Writes records only the backend can write as they were (in order).
    async fn restore(&self, records: &[Record]) -> Result<(), Error>;
    /// The engine's name, for the archive's header.
    fn engine(&self) -> &'static str;
}

/// The archive's first line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub version: u32,
    #[serde(with = "crate::clock::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// `sled` or `postgresql`.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub did: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HeaderLine {
    accolade_export: Header,
}

#[derive(Debug, Serialize, Deserialize)]
struct Trailer {
    records: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct TrailerLine {
    end: Trailer,
}

/// How many records of each kind moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub kinds: BTreeMap<&'static str, u64>,
}

impl Summary {
    fn count(&mut self, r: &Record) {
        *self.kinds.entry(r.kind()).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.kinds.values().sum()
    }

    pub fn get(&self, kind: &str) -> u64 {
        self.kinds.get(kind).copied().unwrap_or(0)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} records", self.total())?;
        let mut first = true;
        for (k, n) in &self.kinds {
            write!(f, "{}{n} {k}", if first { " (" } else { ", " })?;
            first = false;
        }
        if !first {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Why an export or import failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] Error),
    #[error("reading the archive: {0}")]
    Read(#[from] std::io::Error),
    #[error("writing the archive: {0}")]
    Write(String),
    #[error("the file is not an accolade export: {0}")]
    NotAnExport(String),
    #[error("the archive is version {0}; this version of accolade reads version {VERSION}")]
    Version(u32),
    #[error("line {line} of the archive: {message}")]
    Line { line: u64, message: String },
    #[error(
        "the archive is cut short: it has {found} records and no end line (expected the last line to be {{\"end\": {{\"records\": N}}}})"
    )]
    Truncated { found: u64 },
    #[error("the archive's end line says {said} records but it holds {found}")]
    Count { said: u64, found: u64 },
    #[error(
        "the target store already holds data ({0}); import only into an empty store (a new data dir, or a new PostgreSQL database or schema)"
    )]
    NotEmpty(String),
}

/// Where archive lines go.
#[async_trait]
pub trait Lines: Send {
    async fn line(&mut self, line: Vec<u8>) -> Result<(), TransferError>;
}

/// Lines into a blocking writer (a file, standard output).
pub struct WriteLines<W>(pub W);

#[async_trait]
impl<W: std::io::Write + Send> Lines for WriteLines<W> {
    async fn line(&mut self, line: Vec<u8>) -> Result<(), TransferError> {
        self.0
            .write_all(&line)
            .map_err(|e| TransferError::Write(e.to_string()))
    }
}

/// Lines into a channel (a streamed HTTP answer); a closed channel (the client went
/// away) ends the export.
pub struct ChannelLines(pub tokio::sync::mpsc::Sender<bytes::Bytes>);

#[async_trait]
impl Lines for ChannelLines {
    async fn line(&mut self, line: Vec<u8>) -> Result<(), TransferError> {
        self.0
            .send(bytes::Bytes::from(line))
            .await
            .map_err(|_| TransferError::Write("the receiver went away".into()))
    }
}

fn to_line<T: Serialize>(v: &T) -> Result<Vec<u8>, TransferError> {
    let mut out = serde_json::to_vec(v).map_err(|e| TransferError::Write(e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// A sink writing archive lines, counting, and keeping the first error of the line
/// writer (the store error type cannot carry it).
struct LineSink<'a> {
    out: &'a mut dyn Lines,
    summary: Summary,
    failed: Option<TransferError>,
}

#[async_trait]
impl Sink for LineSink<'_> {
    async fn put(&mut self, record: Record) -> Result<(), Error> {
        let result = match to_line(&record) {
            Ok(l) => self.out.line(l).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                self.summary.count(&record);
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                self.failed = Some(e);
                Err(Error::Task(msg))
            }
        }
    }
}

/// Writes the whole store as an archive.
pub async fn export(
    store: &Store,
    mut header: Header,
    out: &mut dyn Lines,
) -> Result<Summary, TransferError> {
    header.version = VERSION;
    header.from = store.transfer.engine().to_owned();
    out.line(to_line(&HeaderLine {
        accolade_export: header,
    })?)
    .await?;
    let mut sink = LineSink {
        out,
        summary: Summary::default(),
        failed: None,
    };
    if let Err(e) = store.transfer.dump(&mut sink).await {
        return Err(sink.failed.take().unwrap_or(TransferError::Store(e)));
    }
    let summary = sink.summary;
    out.line(to_line(&TrailerLine {
        end: Trailer {
            records: summary.total(),
        },
    })?)
    .await?;
    Ok(summary)
}

/// Reads an archive's lines, checking each: the header, then every record, then the
/// trailer's count. `each` sees every record in order.
fn read_archive(
    input: impl BufRead,
    mut each: impl FnMut(Record) -> Result<(), TransferError>,
) -> Result<(Header, u64), TransferError> {
    let mut lines = input.lines();
    let first = match lines.next() {
        Some(l) => l?,
        None => return Err(TransferError::NotAnExport("it is empty".into())),
    };
    let header: HeaderLine = serde_json::from_str(&first).map_err(|_| {
        TransferError::NotAnExport(
            "its first line is not {\"accolade_export\": {...}} (was it written by `accolade export`?)"
                .into(),
        )
    })?;
    if header.accolade_export.version != VERSION {
        return Err(TransferError::Version(header.accolade_export.version));
    }
    let mut found = 0u64;
    let mut pending: Option<(u64, String)> = None;
    let mut line_no = 1u64;
    for l in lines {
        let l = l?;
        line_no += 1;
        if let Some((n, prev)) = pending.replace((line_no, l)) {
            let record: Record = serde_json::from_str(&prev).map_err(|e| TransferError::Line {
                line: n,
                message: format!("not a record: {e}"),
            })?;
            found += 1;
            each(record)?;
        }
    }
    let Some((n, last)) = pending else {
        return Err(TransferError::Truncated { found });
    };
    let Ok(trailer) = serde_json::from_str::<TrailerLine>(&last) else {
        // The last line is a record (or garbage): no end line.
        if serde_json::from_str::<Record>(&last).is_ok() {
            found += 1;
            return Err(TransferError::Truncated { found });
        }
        return Err(TransferError::Line {
            line: n,
            message: "neither a record nor the end line".into(),
        });
    };
    if trailer.end.records != found {
        return Err(TransferError::Count {
            said: trailer.end.records,
            found,
        });
    }
    Ok((header.accolade_export, found))
}

/// Checks an archive whole without writing anything: its header and what it holds.
pub fn check(input: impl BufRead) -> Result<(Header, Summary), TransferError> {
    let mut summary = Summary::default();
    let (header, _) = read_archive(input, |r| {
        summary.count(&r);
        Ok(())
    })?;
    Ok((header, summary))
}

/// Imports an archive into an empty store. `open` gives the archive from its start;
/// it is read twice: checked whole first, then written.
pub async fn import<R: BufRead + Send + 'static>(
    store: &Store,
    mut open: impl FnMut() -> std::io::Result<R>,
) -> Result<(Header, Summary), TransferError> {
    let (header, expected) = check(open()?)?;
    if !store.transfer.holds_nothing().await? {
        let counts = store.awards.award_counts().await?;
        return Err(TransferError::NotEmpty(format!(
            "{} awards, {} achievements",
            counts.total,
            store.achievements.achievements().await?.len()
        )));
    }
    // The file was checked; it is read again record by record, in batches, so that an
    // archive of any size is never held whole.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Record>(BATCH * 2);
    let reader = open()?;
    let read = tokio::task::spawn_blocking(move || {
        read_archive(reader, |r| {
            tx.blocking_send(r)
                .map_err(|_| TransferError::Write("the import stopped".into()))
        })
    });
    let mut summary = Summary::default();
    let mut raw = Vec::with_capacity(BATCH);
    while let Some(r) = rx.recv().await {
        summary.count(&r);
        if r.raw() {
            raw.push(r);
            if raw.len() >= BATCH {
                store.transfer.restore(&raw).await?;
                raw.clear();
            }
        } else {
            put(store, r).await?;
        }
    }
    if !raw.is_empty() {
        store.transfer.restore(&raw).await?;
    }
    read.await
        .map_err(|e| TransferError::Store(Error::Task(e.to_string())))??;
    store.flush().await?;
    if summary != expected {
        return Err(TransferError::Write(format!(
            "the archive changed while it was imported: checked {expected}, wrote {summary}"
        )));
    }
    Ok((header, summary))
}

/// Writes a record the repository traits can write as it was.
async fn put(store: &Store, r: Record) -> Result<(), Error> {
    match r {
        Record::IssuerProfile(p) => store.profiles.put_issuer_profile(&p).await,
        Record::BadgeType(t) => store.catalogue.put_badge_type(&t).await,
        Record::Placement {
            achievement,
            placement,
        } => store.catalogue.put_placement(achievement, &placement).await,
        Record::Image {
            digest,
            format,
            width,
            height,
            bytes,
        } => {
            store
                .images
                .put_image(&StoredImage {
                    digest,
                    format,
                    width,
                    height,
                    bytes,
                })
                .await
        }
        Record::TrustEntry(e) => store.trust.put_trust_entry(&e).await,
        Record::PartnerKey(k) => store.partners.put_partner_key(&k).await,
        Record::Earner(e) => store.earners.put_earner(&e).await,
        Record::Staff(s) => store.staff.insert_staff(&s).await,
        Record::Session { digest, session } => store.staff.put_session(&digest, &session).await,
        Record::PersonalToken { digest, token } => {
            store.staff.put_personal_token(&digest, &token).await
        }
        Record::StaffLink(l) => store.staff.put_staff_link(&l).await,
        Record::SecuritySettings(s) => store.staff.put_security_settings(&s).await,
        Record::MailSettings(s) => store.outbox.put_mail_settings(&s).await,
        Record::MailTemplate { kind, template } => {
            store.outbox.put_template(kind, Some(&template)).await
        }
        Record::Counter { name, day, n } => store.counters.add_count(&name, day, n).await,
        Record::PresentationRequest(r) => store.presentations.insert_request(&r).await,
        Record::Nonce { nonce, expires_at } => {
            let at = OffsetDateTime::from_unix_timestamp(expires_at)
                .map_err(|e| Error::Corrupt("nonce expiry".into(), e.to_string()))?;
            store.nonces.put_nonce(&nonce, at).await
        }
        Record::Token { digest, grant } => {
            let g = codec::read_token(&grant)?;
            store.tokens.put_token(&digest, &g).await
        }
        Record::Visibility { award, visibility } => {
            store.catalogue.set_visibility(award, visibility).await
        }
        Record::OutboxMessage(m) => store.outbox.put_message(&m).await,
        Record::OptOut { award } => store.outbox.set_opt_out(award, true).await,
        Record::Audit(mut a) => store.audit.append_audit(&mut a).await,
        raw => Err(Error::Task(format!(
            "a {} record is written by the backend",
            raw.kind()
        ))),
    }
}

/// A wallet handle from its archive form.
pub(in crate::store) fn handle_of(kind: &str, value: String) -> Result<WalletHandle, Error> {
    Ok(match kind {
        "c" => WalletHandle::Code(value),
        "o" => WalletHandle::Offer(value),
        "l" => WalletHandle::Claim(value),
        "x" => WalletHandle::Transaction(value),
        "m" => WalletHandle::Notification(value),
        other => {
            return Err(Error::Corrupt(
                "wallet handle".into(),
                format!("unknown kind {other:?}"),
            ));
        }
    })
}

mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("a digest is 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn archive(records: &[Record], said: Option<u64>) -> Vec<u8> {
        let header = HeaderLine {
            accolade_export: Header {
                version: VERSION,
                exported_at: OffsetDateTime::UNIX_EPOCH,
                from: "sled".into(),
                public_url: None,
                did: None,
            },
        };
        let mut out = to_line(&header).expect("header");
        for r in records {
            out.extend(to_line(r).expect("record"));
        }
        if let Some(n) = said {
            out.extend(
                to_line(&TrailerLine {
                    end: Trailer { records: n },
                })
                .expect("end"),
            );
        }
        out
    }

    fn counter(n: u64) -> Record {
        Record::Counter {
            name: "verify".into(),
            day: -3,
            n,
        }
    }

    #[test]
    fn an_archive_is_read_whole_or_refused() {
        let rs = [counter(1), counter(2)];
        let (_, s) = check(&archive(&rs, Some(2))[..]).expect("whole");
        assert_eq!(s.get("counter"), 2);
        assert_eq!(s.to_string(), "2 records (2 counter)");
        assert!(matches!(
            check(&archive(&rs, None)[..]),
            Err(TransferError::Truncated { found: 2 })
        ));
        assert!(matches!(
            check(&archive(&rs, Some(5))[..]),
            Err(TransferError::Count { said: 5, found: 2 })
        ));
        assert!(matches!(
            check(&archive(&[], None)[..]),
            Err(TransferError::Truncated { found: 0 })
        ));
        let (_, s) = check(&archive(&[], Some(0))[..]).expect("an empty store");
        assert_eq!(s.total(), 0);
    }

    #[test]
    fn bytes_and_digests_are_text_and_come_back_the_same() {
        let r = Record::Token {
            digest: [7u8; 32],
            grant: vec![0, 255, 10, 13],
        };
        let line = serde_json::to_string(&r).expect("json");
        assert!(line.starts_with("{\"token\":{\"digest\":\"0707"), "{line}");
        let Record::Token { digest, grant } = serde_json::from_str(&line).expect("back") else {
            panic!("another kind");
        };
        assert_eq!((digest, grant), ([7u8; 32], vec![0, 255, 10, 13]));
        assert!(
            serde_json::from_str::<Record>("{\"token\":{\"digest\":\"07\",\"grant\":\"\"}}")
                .is_err()
        );
    }

    proptest! {
        // Numbers at their extremes survive whole.
        #[test]
        fn counters_and_slots_round_trip(n in any::<u64>(), day in any::<i64>(),
                                         list in any::<u32>(), index in any::<u32>(),
                                         reserved in any::<bool>()) {
            let rs = vec![
                Record::Counter { name: "c".into(), day, n },
                Record::Slot { list, index, award: Uuid::nil(), reserved },
            ];
            let bytes = archive(&rs, Some(2));
            let mut back = Vec::new();
            read_archive(&bytes[..], |r| { back.push(r); Ok(()) }).expect("read");
            let again: Vec<String> = back.iter().map(|r| serde_json::to_string(r).expect("json")).collect();
            let want: Vec<String> = rs.iter().map(|r| serde_json::to_string(r).expect("json")).collect();
            prop_assert_eq!(again, want);
        }
    }
}
