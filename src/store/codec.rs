//! The compact encoding of the records written most: awards, audit events and
//! access tokens. Everything else is JSON, because it is JSON already (achievements,
//! presentation requests and their results, registry entries) or rarely written.
//!
//! A record starts with a tag byte naming its kind and version (never `{`, so a
//! record of the first store format, JSON, is told apart by its first byte). Then its
//! fields in a fixed order: integers as LEB128 varints (signed ones zigzag-encoded),
//! strings and byte runs length-prefixed, UUIDs as their 16 bytes, instants as
//! seconds since the epoch, optional fields behind a 0/1 byte. A decoder refuses
//! truncated input, trailing bytes and out-of-range values; it never panics.
//!
//! A signed badge is most of an award's bytes, and every byte written costs the store
//! several times over (it rewrites whole nodes as they fill and split). So a compact
//! JWS is kept as its three segments base64url-decoded: three quarters of its text.
//! Strict base64url (unpadded, no stray bits) decodes and re-encodes to the same text,
//! so the badge comes back exactly as it was handed out; one that is not strict is kept
//! as text.
//!
//! The decoded segments are then DEFLATE-compressed (RFC 1951, raw) against a preset
//! dictionary (`jws-dictionary-1.txt`): the JOSE header and the OB 3.0 credential
//! members this service writes, with no host or value of any one issuer in it. A
//! badge's structure is then mostly back-references into the dictionary and what is
//! left is its own values (ids, dates, names, digests, signature): about a third of
//! the decoded bytes, a quarter of the text. The dictionary is part of the format:
//! it never changes (a test pins its digest); a better one would be a new form.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::records::{
    AchievementRef, AuditEvent, Award, AwardState, ClaimLink, CredentialIdentifier,
    DeferredRequest, IssuedCopy, Offer, OfferSecret, Recipient, TokenGrant, WalletEvent,
    WalletState,
};
use crate::status::StatusSlot;
use crate::store::{AwardStanding, Error};

/// Tag of an award record, version 2 (the first compact one).
pub(in crate::store) const AWARD: u8 = 0xA2;
/// Tag of an audit event, version 2.
pub(in crate::store) const AUDIT: u8 = 0xE2;
/// Tag of a token grant, version 2.
pub(in crate::store) const TOKEN: u8 = 0x72;

/// The longest string a record may hold (a JWT is well under it).
const MAX_STR: u64 = 16 * 1024 * 1024;

#[derive(Default)]
pub(in crate::store) struct Writer(Vec<u8>);

impl Writer {
    fn with_tag(tag: u8, capacity: usize) -> Self {
        let mut v = Vec::with_capacity(capacity);
        v.push(tag);
        Self(v)
    }

    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }

    fn bool(&mut self, b: bool) {
        self.0.push(u8::from(b));
    }

    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn signed(&mut self, n: i64) {
        self.varint(((n << 1) ^ (n >> 63)) as u64);
    }

    fn str(&mut self, s: &str) {
        self.varint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }

    fn uuid(&mut self, u: Uuid) {
        self.0.extend_from_slice(u.as_bytes());
    }

    fn opt_uuid(&mut self, u: Option<Uuid>) {
        match u {
            None => self.u8(0),
            Some(u) => {
                self.u8(1);
                self.uuid(u);
            }
        }
    }

    fn time(&mut self, t: OffsetDateTime) {
        self.signed(t.unix_timestamp());
    }

    fn opt_time(&mut self, t: Option<OffsetDateTime>) {
        match t {
            None => self.u8(0),
            Some(t) => {
                self.u8(1);
                self.time(t);
            }
        }
    }

    fn opt_slot(&mut self, s: Option<StatusSlot>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.varint(u64::from(s.list));
                self.varint(u64::from(s.index));
            }
        }
    }

    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }

    /// A compact JWS, packed and compressed when its segments are strict base64url.
    fn jws(&mut self, jws: &str) {
        match pack_jws(jws) {
            Some(packed) => match deflate(&packed) {
                Some(deflated) => {
                    self.u8(JWS_DEFLATED);
                    self.varint(packed.len() as u64);
                    self.bytes(&deflated);
                }
                None => {
                    self.u8(JWS_PACKED);
                    self.bytes(&packed);
                }
            },
            None => {
                self.u8(JWS_TEXT);
                self.str(jws);
            }
        }
    }

    fn strs(&mut self, v: &[String]) {
        self.varint(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }

    pub(in crate::store) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

pub(in crate::store) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader of a record of kind `tag`, named `what` in errors.
    pub(in crate::store) fn new(buf: &'a [u8], tag: u8, what: &'static str) -> Result<Self, Error> {
        let mut r = Self { buf, what };
        let t = r.u8()?;
        if t != tag {
            return Err(r.corrupt(&format!("unknown record tag {t:#04x}")));
        }
        Ok(r)
    }

    fn corrupt(&self, why: &str) -> Error {
        Error::Corrupt(self.what.to_owned(), why.to_owned())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.buf.len() < n {
            return Err(self.corrupt("truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.corrupt(&format!("{b} is not a boolean"))),
        }
    }

    fn present(&mut self) -> Result<bool, Error> {
        self.bool()
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(self.corrupt("varint overflows 64 bits"))
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let n = self.varint()?;
        u32::try_from(n).map_err(|_| self.corrupt(&format!("{n} overflows 32 bits")))
    }

    fn signed(&mut self) -> Result<i64, Error> {
        let n = self.varint()?;
        Ok(((n >> 1) as i64) ^ -((n & 1) as i64))
    }

    fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let len = self.varint()?;
        if len > MAX_STR {
            return Err(self.corrupt("field too long"));
        }
        self.take(len as usize)
    }

    fn string(&mut self) -> Result<String, Error> {
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| self.corrupt("string is not UTF-8"))
    }

    fn jws(&mut self) -> Result<String, Error> {
        match self.u8()? {
            JWS_TEXT => self.string(),
            JWS_PACKED => {
                let packed = self.bytes()?;
                unpack_jws(packed).ok_or_else(|| self.corrupt("a packed JWS does not unpack"))
            }
            JWS_DEFLATED => {
                let len = self.varint()?;
                if len > MAX_STR {
                    return Err(self.corrupt("field too long"));
                }
                let deflated = self.bytes()?;
                inflate(deflated, len as usize)
                    .as_deref()
                    .and_then(unpack_jws)
                    .ok_or_else(|| self.corrupt("a compressed JWS does not inflate"))
            }
            t => Err(self.corrupt(&format!("unknown JWS form {t}"))),
        }
    }

    fn opt_string(&mut self) -> Result<Option<String>, Error> {
        if self.present()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }

    fn uuid(&mut self) -> Result<Uuid, Error> {
        let b = self.take(16)?;
        Uuid::from_slice(b).map_err(|_| self.corrupt("bad uuid"))
    }

    fn opt_uuid(&mut self) -> Result<Option<Uuid>, Error> {
        if self.present()? {
            self.uuid().map(Some)
        } else {
            Ok(None)
        }
    }

    fn time(&mut self) -> Result<OffsetDateTime, Error> {
        let s = self.signed()?;
        OffsetDateTime::from_unix_timestamp(s).map_err(|_| self.corrupt("instant out of range"))
    }

    fn opt_time(&mut self) -> Result<Option<OffsetDateTime>, Error> {
        if self.present()? {
            self.time().map(Some)
        } else {
            Ok(None)
        }
    }

    fn opt_slot(&mut self) -> Result<Option<StatusSlot>, Error> {
        if self.present()? {
            Ok(Some(StatusSlot {
                list: self.u32()?,
                index: self.u32()?,
            }))
        } else {
            Ok(None)
        }
    }

    fn strings(&mut self) -> Result<Vec<String>, Error> {
        let n = self.count()?;
        (0..n).map(|_| self.string()).collect()
    }

    /// An element count, bounded by what the rest of the input could hold (every
    /// element takes at least one byte).
    fn count(&mut self) -> Result<usize, Error> {
        let n = self.varint()?;
        if n > self.buf.len() as u64 {
            return Err(self.corrupt("count exceeds the record"));
        }
        Ok(n as usize)
    }

    pub(in crate::store) fn finish(self) -> Result<(), Error> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt(&format!("{} trailing bytes", self.buf.len())))
        }
    }
}

const JWS_TEXT: u8 = 0;
const JWS_PACKED: u8 = 1;
/// Packed, then DEFLATE-compressed against [`JWS_DICTIONARY_1`]; the packed length
/// comes first.
const JWS_DEFLATED: u8 = 2;

/// The preset dictionary of [`JWS_DEFLATED`].
const JWS_DICTIONARY_1: &[u8] = include_bytes!("jws-dictionary-1.txt");
/// The DEFLATE level of [`JWS_DEFLATED`]: most of the gain of the slower levels for a
/// fraction of their time (the dictionary does most of the work).
const JWS_LEVEL: u32 = 3;

thread_local! {
    /// One compressor and one decompressor per thread, reset between uses: a fresh
    /// one allocates and clears its window every time.
    static DEFLATER: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::new(JWS_LEVEL), false));
    static INFLATER: std::cell::RefCell<flate2::Decompress> =
        std::cell::RefCell::new(flate2::Decompress::new(false));
}

/// `packed` compressed against the dictionary; `None` if that fails or does not make
/// it smaller.
fn deflate(packed: &[u8]) -> Option<Vec<u8>> {
    DEFLATER.with(|d| {
        let mut d = d.borrow_mut();
        d.reset();
        d.set_dictionary(JWS_DICTIONARY_1).ok()?;
        let mut out = Vec::with_capacity(packed.len() + 64);
        let status = d
            .compress_vec(packed, &mut out, flate2::FlushCompress::Finish)
            .ok()?;
        (status == flate2::Status::StreamEnd && out.len() < packed.len()).then_some(out)
    })
}

/// The `len` bytes `deflated` inflates to against the dictionary; `None` for anything
/// else (corrupt input, another length).
fn inflate(deflated: &[u8], len: usize) -> Option<Vec<u8>> {
    INFLATER.with(|d| {
        let mut d = d.borrow_mut();
        d.reset(false);
        d.set_dictionary(JWS_DICTIONARY_1).ok()?;
        // One byte more than expected, so that a longer stream is noticed.
        let mut out = Vec::with_capacity(len + 1);
        let status = d
            .decompress_vec(deflated, &mut out, flate2::FlushDecompress::Finish)
            .ok()?;
        (status == flate2::Status::StreamEnd
            && out.len() == len
            && d.total_in() == deflated.len() as u64)
            .then_some(out)
    })
}

/// The three segments of a compact JWS, decoded and length-prefixed; `None` when it is
/// not three strict base64url segments.
fn pack_jws(jws: &str) -> Option<Vec<u8>> {
    let mut w = Writer::default();
    let mut n = 0;
    for segment in jws.split('.') {
        n += 1;
        w.bytes(&crate::jose::b64_decode(segment, "segment").ok()?);
    }
    if n != 3 {
        return None;
    }
    Some(w.0)
}

fn unpack_jws(packed: &[u8]) -> Option<String> {
    let mut r = Reader {
        buf: packed,
        what: "JWS",
    };
    let mut out = String::with_capacity(packed.len() * 4 / 3 + 2);
    for i in 0..3 {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&crate::jose::b64(r.bytes().ok()?));
    }
    r.finish().ok()?;
    Some(out)
}

const TX_CODE_REQUIRED: u8 = 1;
const APPROVAL_REQUIRED: u8 = 2;
const REVOKED: u8 = 4;
const SUSPENDED: u8 = 8;

/// Encodes an award.
pub(in crate::store) fn award(a: &Award) -> Vec<u8> {
    let jwts: usize = a.issued.iter().map(|c| c.jwt.len() + 256).sum();
    let mut w = Writer::with_tag(AWARD, 256 + jwts);
    w.uuid(a.id);
    w.varint(a.seq);
    w.uuid(a.achievement.key);
    w.varint(u64::from(a.achievement.revision));
    w.opt_str(a.recipient.name.as_deref());
    w.opt_str(a.recipient.email.as_deref());
    w.opt_str(a.recipient.id.as_deref());
    w.u8(match a.state {
        AwardState::Offered => 0,
        AwardState::Issued => 1,
    });
    w.str(&a.salt);
    w.time(a.valid_from);
    w.opt_time(a.valid_until);
    let mut flags = 0;
    for (on, bit) in [
        (a.tx_code_required, TX_CODE_REQUIRED),
        (a.approval_required, APPROVAL_REQUIRED),
        (a.revoked, REVOKED),
        (a.suspended, SUSPENDED),
    ] {
        if on {
            flags |= bit;
        }
    }
    w.u8(flags);
    w.opt_str(a.extras.as_ref().map(ToString::to_string).as_deref());
    w.opt_slot(a.status);
    w.varint(a.issued.len() as u64);
    for c in &a.issued {
        w.jws(&c.jwt);
        w.str(&c.kid);
        w.time(c.issued_at);
        w.opt_uuid(c.id);
        w.opt_slot(c.status);
        w.opt_str(c.subject.as_deref());
        w.opt_str(c.notification_id.as_deref());
    }
    wallet(&mut w, &a.wallet);
    w.time(a.created_at);
    w.time(a.updated_at);
    w.into_bytes()
}

fn wallet(w: &mut Writer, s: &WalletState) {
    // 0 none, 1 an earlier version's offer (id and code), 2 a seeded offer.
    match &s.offer {
        None => w.u8(0),
        Some(o) => {
            match &o.secret {
                OfferSecret::Clear { id, code } => {
                    w.u8(1);
                    w.str(id);
                    w.str(code);
                }
                OfferSecret::Seed(seed) => {
                    w.u8(2);
                    w.str(seed);
                }
            }
            w.time(o.expires_at);
            w.time(o.created_at);
        }
    }
    w.opt_str(s.tx_code.as_deref());
    // 0 none, 1 an earlier version's claim id, 2 a derived one.
    match &s.claim {
        None => w.u8(0),
        Some(ClaimLink::Clear(id)) => {
            w.u8(1);
            w.str(id);
        }
        Some(ClaimLink::Derived) => w.u8(2),
    }
    w.bool(s.approved);
    match &s.deferred {
        None => w.u8(0),
        Some(d) => {
            w.u8(1);
            w.str(&d.transaction_id);
            w.strs(&d.holders);
            w.str(&d.configuration_id);
            w.time(d.requested_at);
            w.bool(d.delivered);
            w.bool(d.draft13);
        }
    }
    w.varint(s.events.len() as u64);
    for e in &s.events {
        w.str(&e.event);
        w.opt_str(e.description.as_deref());
        w.str(&e.notification_id);
        w.time(e.at);
    }
    w.varint(u64::from(s.generation));
    w.opt_str(s.configuration_id.as_deref());
}

/// Decodes an award.
/// The flags of an award, from the fields before them (the rest is not decoded).
pub(in crate::store) fn read_award_standing(bytes: &[u8]) -> Result<AwardStanding, Error> {
    let mut r = Reader::new(bytes, AWARD, "award")?;
    r.uuid()?;
    r.varint()?;
    r.uuid()?;
    r.u32()?;
    for _ in 0..3 {
        if r.present()? {
            r.bytes()?;
        }
    }
    r.u8()?;
    r.bytes()?;
    r.time()?;
    r.opt_time()?;
    let flags = r.u8()?;
    Ok(AwardStanding {
        revoked: flags & REVOKED != 0,
        suspended: flags & SUSPENDED != 0,
    })
}

pub(in crate::store) fn read_award(bytes: &[u8]) -> Result<Award, Error> {
    let mut r = Reader::new(bytes, AWARD, "award")?;
    let id = r.uuid()?;
    let seq = r.varint()?;
    let achievement = AchievementRef {
        key: r.uuid()?,
        revision: r.u32()?,
    };
    let recipient = Recipient {
        name: r.opt_string()?,
        email: r.opt_string()?,
        id: r.opt_string()?,
    };
    let state = match r.u8()? {
        0 => AwardState::Offered,
        1 => AwardState::Issued,
        s => return Err(r.corrupt(&format!("unknown award state {s}"))),
    };
    let salt = r.string()?;
    let valid_from = r.time()?;
    let valid_until = r.opt_time()?;
    let flags = r.u8()?;
    if flags & !(TX_CODE_REQUIRED | APPROVAL_REQUIRED | REVOKED | SUSPENDED) != 0 {
        return Err(r.corrupt(&format!("unknown flags {flags:#04x}")));
    }
    let extras = match r.opt_string()? {
        None => None,
        Some(s) => Some(serde_json::from_str(&s).map_err(|e| r.corrupt(&format!("extras: {e}")))?),
    };
    let status = r.opt_slot()?;
    let n = r.count()?;
    let mut issued = Vec::with_capacity(n);
    for _ in 0..n {
        issued.push(IssuedCopy {
            jwt: r.jws()?,
            kid: r.string()?,
            issued_at: r.time()?,
            id: r.opt_uuid()?,
            status: r.opt_slot()?,
            subject: r.opt_string()?,
            notification_id: r.opt_string()?,
        });
    }
    let wallet = read_wallet(&mut r)?;
    let created_at = r.time()?;
    let updated_at = r.time()?;
    r.finish()?;
    Ok(Award {
        id,
        seq,
        achievement,
        recipient,
        state,
        salt,
        valid_from,
        valid_until,
        tx_code_required: flags & TX_CODE_REQUIRED != 0,
        approval_required: flags & APPROVAL_REQUIRED != 0,
        extras,
        issued,
        revoked: flags & REVOKED != 0,
        suspended: flags & SUSPENDED != 0,
        status,
        wallet,
        created_at,
        updated_at,
    })
}

fn read_wallet(r: &mut Reader<'_>) -> Result<WalletState, Error> {
    let secret = match r.u8()? {
        0 => None,
        1 => Some(OfferSecret::Clear {
            id: r.string()?,
            code: r.string()?,
        }),
        2 => Some(OfferSecret::Seed(r.string()?)),
        b => return Err(r.corrupt(&format!("{b} is not an offer tag"))),
    };
    let offer = match secret {
        Some(secret) => Some(Offer {
            secret,
            expires_at: r.time()?,
            created_at: r.time()?,
        }),
        None => None,
    };
    let tx_code = r.opt_string()?;
    let claim = match r.u8()? {
        0 => None,
        1 => Some(ClaimLink::Clear(r.string()?)),
        2 => Some(ClaimLink::Derived),
        b => return Err(r.corrupt(&format!("{b} is not a claim link tag"))),
    };
    let approved = r.bool()?;
    let deferred = if r.present()? {
        Some(DeferredRequest {
            transaction_id: r.string()?,
            holders: r.strings()?,
            configuration_id: r.string()?,
            requested_at: r.time()?,
            delivered: r.bool()?,
            draft13: r.bool()?,
        })
    } else {
        None
    };
    let n = r.count()?;
    let mut events = Vec::with_capacity(n);
    for _ in 0..n {
        events.push(WalletEvent {
            event: r.string()?,
            description: r.opt_string()?,
            notification_id: r.string()?,
            at: r.time()?,
        });
    }
    Ok(WalletState {
        offer,
        tx_code,
        claim,
        approved,
        deferred,
        events,
        generation: r.u32()?,
        configuration_id: r.opt_string()?,
    })
}

/// Encodes an audit event.
pub(in crate::store) fn audit(e: &AuditEvent) -> Vec<u8> {
    let mut w = Writer::with_tag(AUDIT, 64);
    w.time(e.at);
    w.str(&e.action);
    w.str(&e.actor);
    w.opt_str(e.reason.as_deref());
    w.into_bytes()
}

/// Decodes an audit event.
pub(in crate::store) fn read_audit(bytes: &[u8]) -> Result<AuditEvent, Error> {
    let mut r = Reader::new(bytes, AUDIT, "audit event")?;
    let e = AuditEvent {
        at: r.time()?,
        action: r.string()?,
        actor: r.string()?,
        reason: r.opt_string()?,
    };
    r.finish()?;
    Ok(e)
}

/// Encodes a token grant.
pub(in crate::store) fn token(g: &TokenGrant) -> Vec<u8> {
    let mut w = Writer::with_tag(TOKEN, 128);
    w.uuid(g.award);
    w.strs(&g.configuration_ids);
    w.varint(g.credential_identifiers.len() as u64);
    for c in &g.credential_identifiers {
        w.str(&c.id);
        w.str(&c.configuration_id);
    }
    w.time(g.expires_at);
    w.bool(g.refresh);
    w.varint(u64::from(g.generation));
    w.into_bytes()
}

/// Decodes a token grant.
pub(in crate::store) fn read_token(bytes: &[u8]) -> Result<TokenGrant, Error> {
    let mut r = Reader::new(bytes, TOKEN, "token")?;
    let award = r.uuid()?;
    let configuration_ids = r.strings()?;
    let n = r.count()?;
    let mut credential_identifiers = Vec::with_capacity(n);
    for _ in 0..n {
        credential_identifiers.push(CredentialIdentifier {
            id: r.string()?,
            configuration_id: r.string()?,
        });
    }
    let g = TokenGrant {
        award,
        configuration_ids,
        credential_identifiers,
        expires_at: r.time()?,
        refresh: r.bool()?,
        generation: r.u32()?,
    };
    r.finish()?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn instant() -> impl Strategy<Value = OffsetDateTime> {
        (-62_000_000_000i64..250_000_000_000).prop_map(crate::clock::from_unix)
    }

    fn text() -> impl Strategy<Value = String> {
        "\\PC{0,40}"
    }

    fn slot() -> impl Strategy<Value = StatusSlot> {
        (any::<u32>(), any::<u32>()).prop_map(|(list, index)| StatusSlot { list, index })
    }

    fn uuid() -> impl Strategy<Value = Uuid> {
        any::<u128>().prop_map(Uuid::from_u128)
    }

    fn copy() -> impl Strategy<Value = IssuedCopy> {
        (
            text(),
            text(),
            instant(),
            proptest::option::of(uuid()),
            proptest::option::of(slot()),
            proptest::option::of(text()),
            proptest::option::of(text()),
        )
            .prop_map(
                |(jwt, kid, issued_at, id, status, subject, notification_id)| IssuedCopy {
                    jwt,
                    kid,
                    issued_at,
                    id,
                    status,
                    subject,
                    notification_id,
                },
            )
    }

    fn wallet_state() -> impl Strategy<Value = WalletState> {
        let secret = prop_oneof![
            text().prop_map(OfferSecret::Seed),
            (text(), text()).prop_map(|(id, code)| OfferSecret::Clear { id, code }),
        ];
        let offer = proptest::option::of((secret, instant(), instant()).prop_map(
            |(secret, expires_at, created_at)| Offer {
                secret,
                expires_at,
                created_at,
            },
        ));
        let claim = proptest::option::of(prop_oneof![
            Just(ClaimLink::Derived),
            text().prop_map(ClaimLink::Clear),
        ]);
        let deferred = proptest::option::of(
            (
                text(),
                proptest::collection::vec(text(), 0..4),
                text(),
                instant(),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(
                    |(
                        transaction_id,
                        holders,
                        configuration_id,
                        requested_at,
                        delivered,
                        draft13,
                    )| {
                        DeferredRequest {
                            transaction_id,
                            holders,
                            configuration_id,
                            requested_at,
                            delivered,
                            draft13,
                        }
                    },
                ),
        );
        let events = proptest::collection::vec(
            (text(), proptest::option::of(text()), text(), instant()).prop_map(
                |(event, description, notification_id, at)| WalletEvent {
                    event,
                    description,
                    notification_id,
                    at,
                },
            ),
            0..3,
        );
        (
            offer,
            proptest::option::of(text()),
            claim,
            any::<bool>(),
            deferred,
            events,
            any::<u32>(),
            proptest::option::of(text()),
        )
            .prop_map(
                |(
                    offer,
                    tx_code,
                    claim,
                    approved,
                    deferred,
                    events,
                    generation,
                    configuration_id,
                )| {
                    WalletState {
                        offer,
                        tx_code,
                        claim,
                        approved,
                        deferred,
                        events,
                        generation,
                        configuration_id,
                    }
                },
            )
    }

    prop_compose! {
        fn award_strategy()(
            id in uuid(), seq in any::<u64>(), key in uuid(), revision in any::<u32>(),
            name in proptest::option::of(text()), email in proptest::option::of(text()),
            rid in proptest::option::of(text()), issued_state in any::<bool>(), salt in text(),
            valid_from in instant(), valid_until in proptest::option::of(instant()),
            flags in any::<[bool; 4]>(), narrative in proptest::option::of(text()),
            status in proptest::option::of(slot()),
            issued in proptest::collection::vec(copy(), 0..3), wallet in wallet_state(),
            created_at in instant(), updated_at in instant(),
        ) -> Award {
            Award {
                id, seq,
                achievement: AchievementRef { key, revision },
                recipient: Recipient { name, email, id: rid },
                state: if issued_state { AwardState::Issued } else { AwardState::Offered },
                salt, valid_from, valid_until,
                tx_code_required: flags[0], approval_required: flags[1],
                extras: narrative.map(|n| json!({"narrative": n, "result": [{"value": 92.5}]})),
                issued, revoked: flags[2], suspended: flags[3], status, wallet,
                created_at, updated_at,
            }
        }
    }

    proptest! {
        #[test]
        fn awards_round_trip(a in award_strategy()) {
            let bytes = award(&a);
            prop_assert_eq!(
                read_award_standing(&bytes).expect("flags"),
                AwardStanding { revoked: a.revoked, suspended: a.suspended }
            );
            prop_assert_eq!(read_award(&bytes).expect("decodes"), a);
        }

        #[test]
        fn every_truncation_of_an_award_is_refused(a in award_strategy()) {
            let bytes = award(&a);
            for n in 0..bytes.len() {
                prop_assert!(read_award(&bytes[..n]).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = read_award(&bytes);
            let _ = read_audit(&bytes);
            let _ = read_token(&bytes);
        }

        #[test]
        fn tokens_and_audit_events_round_trip(
            award_id in uuid(), configs in proptest::collection::vec(text(), 0..3),
            ids in proptest::collection::vec((text(), text()), 0..3), at in instant(),
            refresh in any::<bool>(), generation in any::<u32>(),
            action in text(), actor in text(), reason in proptest::option::of(text()),
        ) {
            let g = TokenGrant {
                award: award_id,
                configuration_ids: configs,
                credential_identifiers: ids.into_iter().map(|(id, configuration_id)| CredentialIdentifier { id, configuration_id }).collect(),
                expires_at: at, refresh, generation,
            };
            prop_assert_eq!(read_token(&token(&g)).expect("token"), g);
            let e = AuditEvent { at, action, actor, reason };
            prop_assert_eq!(read_audit(&audit(&e)).expect("audit"), e);
        }
    }

    #[test]
    fn a_signed_badge_is_packed_to_three_quarters_and_comes_back_exactly() {
        let (key, _) =
            crate::jose::SigningKey::generate(crate::jose::Algorithm::ES256).expect("key");
        let payload = serde_json::to_vec(&json!({
            "@context": ["https://www.w3.org/ns/credentials/v2",
                         "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "did:web:badges.example.edu", "type": ["Profile"], "name": "Example Academy"},
            "credentialSubject": {"type": ["AchievementSubject"], "achievement": {
                "id": "https://badges.example.edu/achievements/1", "type": ["Achievement"],
                "name": "Cloud Practitioner", "description": "Understands core cloud services.",
                "criteria": {"narrative": "Passed the Cloud Practitioner exam."}}},
        }))
        .expect("json");
        let jws = crate::jose::jws::sign_compact(&key, Some("did:web:x#k"), Some("JWT"), &payload)
            .expect("signs");
        let packed = pack_jws(&jws).expect("strict base64url packs");
        assert!(
            packed.len() * 4 <= jws.len() * 3 + 16,
            "{} of {}",
            packed.len(),
            jws.len()
        );
        assert_eq!(unpack_jws(&packed).as_deref(), Some(jws.as_str()));
        let mut a = sample_award();
        a.issued = vec![IssuedCopy::new(
            jws.clone(),
            "did:web:x#k".into(),
            crate::clock::from_unix(7),
        )];
        assert_eq!(read_award(&award(&a)).expect("decodes").issued[0].jwt, jws);
        // Not strict base64url (padding, a fourth segment, not a JWS at all): kept as
        // text, still exactly.
        for odd in [
            format!("{jws}="),
            format!("{jws}.x"),
            "not a jws".into(),
            String::new(),
        ] {
            assert_eq!(pack_jws(&odd), None, "{odd}");
            a.issued[0].jwt = odd.clone();
            assert_eq!(read_award(&award(&a)).expect("decodes").issued[0].jwt, odd);
        }
        assert_eq!(unpack_jws(b"\x05short"), None);
    }

    #[test]
    fn a_signed_badge_is_compressed_against_the_dictionary_and_older_forms_still_read() {
        use sha2::Digest as _;
        assert_eq!(
            hex::encode(sha2::Sha256::digest(JWS_DICTIONARY_1)),
            "710c502c6b06532b52f6cc8e3c81736090a678c0b9d73da5b42006d24a6cb16f",
            "the dictionary is part of the store format: make a new form instead"
        );
        let (key, _) =
            crate::jose::SigningKey::generate(crate::jose::Algorithm::ES256).expect("key");
        let id = "urn:uuid:01a24cea-8664-713d-954e-49d7d895a955";
        let status = "https://learn.example.org/status/revocation/1";
        let payload = serde_json::to_vec(&json!({
            "@context": ["https://www.w3.org/ns/credentials/v2",
                         "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
            "id": id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": "Data Engineer — Skill",
            "awardedDate": "2026-11-30T09:12:44Z",
            "credentialSubject": {"id": "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
                "type": ["AchievementSubject"], "achievement": {
                "id": "https://learn.example.org/achievements/06214c61-39f3-45ea-93b4-b31650c738ae",
                "type": ["Achievement"], "criteria": {"narrative": "Built and ran a pipeline."},
                "description": "Moves data reliably.", "name": "Data Engineer — Skill"},
                "identifier": [{"type": "IdentityObject", "hashed": true,
                    "identityHash": "sha256$c837e00b7dc9c617c17a3e29a3e8bfada3e3932b8be7b4adc3242893a14677b1",
                    "identityType": "emailAddress", "salt": "0520278b139aa0fb693fa4adb5f6b6d3"}]},
            "issuer": {"id": "did:web:learn.example.org", "type": ["Profile"], "name": "Example Learning"},
            "validFrom": "2026-11-30T09:12:44Z",
            "credentialStatus": {"id": format!("{status}#3214"), "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation", "statusListIndex": "3214",
                "statusListCredential": status},
            "iss": "did:web:learn.example.org", "nbf": 1_796_586_767, "jti": id,
        }))
        .expect("json");
        let jws = crate::jose::jws::sign_compact(
            &key,
            Some("did:web:learn.example.org#6gfhBQ-vIwd2jpcRA6EDDFlJCzfU_kcxQFZuKkosSV8"),
            Some("JWT"),
            &payload,
        )
        .expect("signs");
        let mut a = sample_award();
        a.issued = vec![IssuedCopy::new(
            jws.clone(),
            "did:web:x#k".into(),
            crate::clock::from_unix(7),
        )];
        let bytes = award(&a);
        assert!(
            bytes.len() * 3 < jws.len(),
            "the whole award in {} bytes, the badge alone is {}",
            bytes.len(),
            jws.len()
        );
        assert_eq!(read_award(&bytes).expect("decodes").issued[0].jwt, jws);
        // The forms written before: packed, and text.
        let packed = pack_jws(&jws).expect("packs");
        let mut w = Writer::default();
        w.u8(JWS_PACKED);
        w.bytes(&packed);
        w.u8(JWS_TEXT);
        w.str(&jws);
        let mut r = Reader {
            buf: &w.0,
            what: "JWS",
        };
        assert_eq!(r.jws().expect("packed"), jws);
        assert_eq!(r.jws().expect("text"), jws);
        r.finish().expect("all read");
        // A compressed JWS cut short, or said to be of another length, is refused.
        let deflated = deflate(&packed).expect("deflates");
        assert_eq!(inflate(&deflated, packed.len()), Some(packed.clone()));
        assert_eq!(inflate(&deflated[..deflated.len() - 1], packed.len()), None);
        assert_eq!(inflate(&deflated, packed.len() - 1), None);
        assert_eq!(inflate(&deflated, packed.len() + 1), None);
        let mut longer = deflated;
        longer.push(0);
        assert_eq!(inflate(&longer, packed.len()), None, "trailing bytes");
    }

    fn sample_award() -> Award {
        Award {
            id: Uuid::nil(),
            seq: 1,
            achievement: AchievementRef {
                key: Uuid::nil(),
                revision: 1,
            },
            recipient: Recipient::default(),
            state: AwardState::Issued,
            salt: "s".into(),
            valid_from: crate::clock::from_unix(0),
            valid_until: None,
            tx_code_required: false,
            approval_required: false,
            extras: None,
            issued: vec![],
            revoked: false,
            suspended: false,
            status: None,
            wallet: WalletState::default(),
            created_at: crate::clock::from_unix(0),
            updated_at: crate::clock::from_unix(0),
        }
    }

    #[test]
    fn trailing_bytes_and_a_foreign_tag_are_refused() {
        let e = AuditEvent {
            at: crate::clock::from_unix(1_800_000_000),
            action: "revoke".into(),
            actor: "admin".into(),
            reason: None,
        };
        let mut bytes = audit(&e);
        bytes.push(0);
        assert!(matches!(read_audit(&bytes), Err(Error::Corrupt(..))));
        assert!(read_token(&audit(&e)).is_err());
        assert!(read_audit(b"{\"at\":\"2026-01-01T00:00:00Z\"}").is_err());
    }

    #[test]
    fn varints_use_the_shortest_form_and_refuse_overflow() {
        let mut w = Writer::default();
        w.varint(300);
        w.signed(-1);
        w.signed(i64::MIN);
        assert_eq!(&w.0[..2], &[0xac, 0x02]);
        let bytes = [&[AUDIT][..], &w.0].concat();
        let mut r = Reader::new(&bytes, AUDIT, "t").expect("tag");
        assert_eq!(r.varint().expect("300"), 300);
        assert_eq!(r.signed().expect("-1"), -1);
        assert_eq!(r.signed().expect("min"), i64::MIN);
        let eleven = [
            AUDIT, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ];
        let mut r = Reader::new(&eleven, AUDIT, "t").expect("tag");
        assert!(r.varint().is_err());
    }
}
