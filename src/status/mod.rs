//! Revocation and suspension, published as W3C Bitstring Status Lists (Bitstring
//! Status List v1.0, W3C Recommendation 2025-05-15).
//!
//! # Lists and slots
//! - Every award gets one *slot*: a list number and an index in it. Lists hold
//!   [`LIST_SIZE`] = 131,072 entries, the minimum §3.2 step 2 and §6.1 ask for, so each
//!   list hides its members in a crowd of at least that size.
//! - One list family per purpose (§2.1 `statusPurpose`): `.../status/revocation/<n>` and
//!   `.../status/suspension/<n>`. An award's slot is the same in both families, so one
//!   allocation serves both purposes.
//! - Indices are drawn at random within the current list (§2.1 "SHOULD assign indexes
//!   randomly", §6.5); when a list is full, the next one opens. A slot, once written to
//!   the store, is never handed out again: the slot table is rebuilt from the store on
//!   start, and a slot whose award was abandoned stays taken.
//! - Revocation is permanent (§2.1: `revocation` "is not reversible"); suspension is
//!   reversible.
//!
//! # What a badge carries
//! Open Badges 3.0 models `credentialStatus` as one object, and its JSON Schema rejects
//! an array. So by default a badge carries a single BitstringStatusListEntry with
//! purpose `revocation`, the form the 1EdTech validator, DCC and walt.id read.
//! Suspension is still enforced wherever this service is asked (the verify API and the
//! badge pages read the award's own state). An issuer who wants every verifier to see
//! suspensions turns on both purposes (`--status-purposes revocation,suspension`); the
//! badge then carries an array of two entries, which VCDM 2.0 §4.10 allows and strict
//! OB 3.0 schema validators reject.
//!
//! # Publication
//! A list is published as a BitstringStatusListCredential (§2.2) secured with
//! VC-JOSE-COSE: a compact JWS with `typ: vc+jwt` whose payload is the credential, so a
//! status list can never pass for a badge (`typ: JWT`) nor the reverse. The signed
//! bytes are cached and re-signed only when the list changed; `ttl` (milliseconds, §2.2)
//! and the HTTP `Cache-Control: max-age` (seconds) say the same thing.

pub mod bitstring;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::Rng as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use bitstring::Bitstring;

use crate::store::{self, Store};

/// Entries per list: 131,072 bits = 16 KiB (§3.2 step 2, §6.1).
pub const LIST_SIZE: u32 = 131_072;

/// The `ttl` of a published list when none is configured: five minutes.
pub const DEFAULT_TTL_SECONDS: u64 = 300;

/// The largest compressed list a verifier accepts, and the largest expansion
/// (SECURITY.md: 64 KB compressed, 2 MiB expanded).
pub const MAX_COMPRESSED: usize = 64 * 1024;
pub const MAX_EXPANDED: usize = 2 * 1024 * 1024;

/// What a status list entry is for (§2.1 `statusPurpose`). Only the two purposes this
/// service publishes; others are handled by the verifier as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusPurpose {
    Revocation,
    Suspension,
}

impl StatusPurpose {
    pub const ALL: [StatusPurpose; 2] = [StatusPurpose::Revocation, StatusPurpose::Suspension];

    /// The spec's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusPurpose::Revocation => "revocation",
            StatusPurpose::Suspension => "suspension",
        }
    }

    /// A one-byte tag for store keys.
    pub fn tag(self) -> u8 {
        match self {
            StatusPurpose::Revocation => 0,
            StatusPurpose::Suspension => 1,
        }
    }

    fn from_tag(t: u8) -> Option<Self> {
        match t {
            0 => Some(StatusPurpose::Revocation),
            1 => Some(StatusPurpose::Suspension),
            _ => None,
        }
    }

    fn slot(self) -> usize {
        usize::from(self.tag())
    }
}

impl std::fmt::Display for StatusPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StatusPurpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "revocation" => Ok(StatusPurpose::Revocation),
            "suspension" => Ok(StatusPurpose::Suspension),
            _ => Err(format!(
                "{s:?} is not a status purpose (revocation, suspension)"
            )),
        }
    }
}

/// The purposes a badge carries entries for: `revocation`, optionally `suspension`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgePurposes(Vec<StatusPurpose>);

impl Default for BadgePurposes {
    fn default() -> Self {
        Self(vec![StatusPurpose::Revocation])
    }
}

impl BadgePurposes {
    /// The purposes in badge order (revocation first).
    pub fn as_slice(&self) -> &[StatusPurpose] {
        &self.0
    }
}

impl std::str::FromStr for BadgePurposes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut v = Vec::new();
        for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p: StatusPurpose = p.parse()?;
            if !v.contains(&p) {
                v.push(p);
            }
        }
        if !v.contains(&StatusPurpose::Revocation) {
            return Err(
                "the status purposes must include revocation (\"revocation\" or \"revocation,suspension\")"
                    .into(),
            );
        }
        v.sort();
        Ok(Self(v))
    }
}

/// Where an award's status lives: the same list number and index in every family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatusSlot {
    /// The list number, from 1.
    pub list: u32,
    /// The index in the list, `0..LIST_SIZE`.
    pub index: u32,
}

impl StatusSlot {
    /// The store key: list then index, big-endian.
    pub fn key(self) -> [u8; 8] {
        let mut k = [0u8; 8];
        k[..4].copy_from_slice(&self.list.to_be_bytes());
        k[4..].copy_from_slice(&self.index.to_be_bytes());
        k
    }

    /// Parses [`StatusSlot::key`].
    pub fn from_key(k: &[u8]) -> Option<Self> {
        let list = u32::from_be_bytes(k.get(..4)?.try_into().ok()?);
        let index = u32::from_be_bytes(k.get(4..8)?.try_into().ok()?);
        (k.len() == 8 && list >= 1 && index < LIST_SIZE).then_some(Self { list, index })
    }

    /// The store key of this slot's bit in one purpose's family.
    pub fn bit_key(self, purpose: StatusPurpose) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = purpose.tag();
        k[1..].copy_from_slice(&self.key());
        k
    }

    /// Parses [`StatusSlot::bit_key`].
    pub fn from_bit_key(k: &[u8]) -> Option<(StatusPurpose, Self)> {
        let (tag, rest) = k.split_first()?;
        Some((StatusPurpose::from_tag(*tag)?, Self::from_key(rest)?))
    }
}

/// URLs of the published lists: `<public url>/status/<purpose>/<list>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUrls {
    base: String,
}

impl StatusUrls {
    /// Lists under `public_url`.
    pub fn new(public_url: &url::Url) -> Self {
        Self {
            base: format!("{}/status", public_url.as_str().trim_end_matches('/')),
        }
    }

    /// The `statusListCredential` URL of a list.
    pub fn list_url(&self, purpose: StatusPurpose, list: u32) -> String {
        format!("{}/{}/{list}", self.base, purpose.as_str())
    }

    /// Recognises one of our list URLs.
    pub fn parse(&self, url: &str) -> Option<(StatusPurpose, u32)> {
        let rest = url.strip_prefix(&self.base)?.strip_prefix('/')?;
        let (purpose, list) = rest.split_once('/')?;
        // Canonical decimal only: "03" or "+3" name no list.
        if list.starts_with('0') || !list.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let list: u32 = list.parse().ok()?;
        Some((purpose.parse().ok()?, list))
    }

    /// The `credentialStatus` value of a badge: one entry per purpose; a single object
    /// when there is one purpose (the OB 3.0 form), an array otherwise.
    pub fn entries(&self, slot: StatusSlot, purposes: &BadgePurposes) -> Value {
        let mut v: Vec<Value> = purposes
            .as_slice()
            .iter()
            .map(|p| {
                let list = self.list_url(*p, slot.list);
                json!({
                    "id": format!("{list}#{}", slot.index),
                    "type": "BitstringStatusListEntry",
                    "statusPurpose": p.as_str(),
                    "statusListIndex": slot.index.to_string(),
                    "statusListCredential": list,
                })
            })
            .collect();
        if v.len() == 1 {
            v.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(v)
        }
    }
}

/// What went wrong with the lists.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("the status lists are corrupt: {0}")]
    Corrupt(String),
}

/// One list: which slots are taken, and the bits of each purpose.
#[derive(Debug, Clone)]
struct List {
    taken: Bitstring,
    taken_count: u32,
    bits: [Bitstring; 2],
    /// Bumped on every change of a purpose's bits; publication caches by it.
    version: [u64; 2],
}

impl List {
    fn new() -> Self {
        let n = LIST_SIZE as usize;
        Self {
            taken: Bitstring::zeros(n),
            taken_count: 0,
            bits: [Bitstring::zeros(n), Bitstring::zeros(n)],
            version: [0, 0],
        }
    }
}

/// The state of every list, in memory, mirroring the store. Bit changes go through
/// [`StatusLists::lock`], which serialises them with their store writes, so two
/// concurrent changes to one list never lose each other.
#[derive(Debug)]
pub struct StatusLists {
    lists: Mutex<Vec<List>>,
    published: Mutex<HashMap<(StatusPurpose, u32), Arc<Published>>>,
}

/// A signed list ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The compact JWS (`typ: vc+jwt`).
    pub jwt: String,
    /// A strong entity tag for the bytes.
    pub etag: String,
    /// The list version these bytes show.
    pub version: u64,
}

/// A consistent copy of one list's bits.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub bits: Bitstring,
    pub version: u64,
}

/// Exclusive access to the lists while a change is written to the store.
pub struct ListsGuard<'a> {
    lists: MutexGuard<'a, Vec<List>>,
}

impl ListsGuard<'_> {
    /// Records a bit change that the store already holds.
    pub fn apply(&mut self, purpose: StatusPurpose, slot: StatusSlot, value: bool) {
        if let Some(l) = self.lists.get_mut(slot.list as usize - 1)
            && l.bits[purpose.slot()].set(slot.index as usize, value) != Some(value)
        {
            l.version[purpose.slot()] += 1;
        }
    }
}

impl StatusLists {
    /// Rebuilds the lists from the store: every slot ever written is taken, every bit
    /// ever set is set.
    pub fn load(store: &Store) -> Result<Self, Error> {
        let mut lists: Vec<List> = Vec::new();
        let grow = |lists: &mut Vec<List>, list: u32| {
            while lists.len() < list as usize {
                lists.push(List::new());
            }
        };
        for key in store.status_slot_keys() {
            let key = key?;
            let slot = StatusSlot::from_key(&key)
                .ok_or_else(|| Error::Corrupt(format!("slot key {}", hex::encode(&key))))?;
            grow(&mut lists, slot.list);
            let l = &mut lists[slot.list as usize - 1];
            if l.taken.set(slot.index as usize, true) == Some(false) {
                l.taken_count += 1;
            }
        }
        for key in store.status_bit_keys() {
            let key = key?;
            let (purpose, slot) = StatusSlot::from_bit_key(&key)
                .ok_or_else(|| Error::Corrupt(format!("bit key {}", hex::encode(&key))))?;
            grow(&mut lists, slot.list);
            lists[slot.list as usize - 1].bits[purpose.slot()].set(slot.index as usize, true);
        }
        Ok(Self {
            lists: Mutex::new(lists),
            published: Mutex::new(HashMap::new()),
        })
    }

    fn guard(&self) -> MutexGuard<'_, Vec<List>> {
        // A panic while holding the lock leaves the lists as consistent as the last
        // completed change; keep serving them.
        self.lists.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the lists for a change; write the store, then [`ListsGuard::apply`].
    pub fn lock(&self) -> ListsGuard<'_> {
        ListsGuard {
            lists: self.guard(),
        }
    }

    /// Reserves a fresh slot: a random free index of the newest list that has room,
    /// or of a new list. The caller writes it to the store with the award; a slot
    /// reserved but never written is simply never used.
    pub fn allocate(&self) -> StatusSlot {
        let mut lists = self.guard();
        if lists.last().is_none_or(|l| l.taken_count >= LIST_SIZE) {
            lists.push(List::new());
        }
        let list = lists.len();
        let l = &mut lists[list - 1];
        let start = rand::thread_rng().gen_range(0..LIST_SIZE as usize);
        // A list with room always has a clear bit.
        let index = l.taken.next_clear(start).unwrap_or(start);
        l.taken.set(index, true);
        l.taken_count += 1;
        StatusSlot {
            list: u32::try_from(list).unwrap_or(u32::MAX),
            index: u32::try_from(index).unwrap_or(0),
        }
    }

    /// How many lists exist.
    pub fn list_count(&self) -> u32 {
        u32::try_from(self.guard().len()).unwrap_or(u32::MAX)
    }

    /// How many slots of list `list` are taken.
    pub fn taken(&self, list: u32) -> Option<u32> {
        let lists = self.guard();
        lists
            .get((list as usize).checked_sub(1)?)
            .map(|l| l.taken_count)
    }

    /// The bit of `slot` in a purpose's family; `None` for a list that does not exist.
    pub fn get(&self, purpose: StatusPurpose, slot: StatusSlot) -> Option<bool> {
        let lists = self.guard();
        lists.get((slot.list as usize).checked_sub(1)?)?.bits[purpose.slot()]
            .get(slot.index as usize)
    }

    /// The current version of one list (cheap; decides whether the cache is fresh).
    pub fn version(&self, purpose: StatusPurpose, list: u32) -> Option<u64> {
        let lists = self.guard();
        lists
            .get((list as usize).checked_sub(1)?)
            .map(|l| l.version[purpose.slot()])
    }

    /// A copy of one list's bits and their version.
    pub fn snapshot(&self, purpose: StatusPurpose, list: u32) -> Option<Snapshot> {
        let lists = self.guard();
        let l = lists.get((list as usize).checked_sub(1)?)?;
        Some(Snapshot {
            bits: l.bits[purpose.slot()].clone(),
            version: l.version[purpose.slot()],
        })
    }

    /// The cached publication of a list, if it shows `version`.
    pub fn cached(
        &self,
        purpose: StatusPurpose,
        list: u32,
        version: u64,
    ) -> Option<Arc<Published>> {
        let cache = self.published.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(&(purpose, list))
            .filter(|p| p.version == version)
            .cloned()
    }

    /// Caches a publication unless a newer one is there already.
    pub fn cache(&self, purpose: StatusPurpose, list: u32, p: Arc<Published>) {
        let mut cache = self.published.lock().unwrap_or_else(|p| p.into_inner());
        let slot = cache.entry((purpose, list)).or_insert_with(|| p.clone());
        if slot.version < p.version {
            *slot = p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_parse_with_revocation_required() {
        assert_eq!(
            "revocation".parse::<BadgePurposes>().map(|p| p.0),
            Ok(vec![StatusPurpose::Revocation])
        );
        assert_eq!(
            "suspension, revocation"
                .parse::<BadgePurposes>()
                .map(|p| p.0),
            Ok(vec![StatusPurpose::Revocation, StatusPurpose::Suspension])
        );
        assert!("suspension".parse::<BadgePurposes>().is_err());
        assert!("revocation,refresh".parse::<BadgePurposes>().is_err());
    }

    #[test]
    fn urls_round_trip_and_foreign_ones_are_not_ours() {
        let u = StatusUrls::new(&url::Url::parse("https://b.example.edu/x/").expect("url"));
        let l = u.list_url(StatusPurpose::Suspension, 3);
        assert_eq!(l, "https://b.example.edu/x/status/suspension/3");
        assert_eq!(u.parse(&l), Some((StatusPurpose::Suspension, 3)));
        for bad in [
            "https://b.example.edu/x/status/suspension/03",
            "https://b.example.edu/x/status/suspension/0",
            "https://b.example.edu/x/status/refresh/1",
            "https://b.example.edu/x/status/revocation/1/2",
            "https://other.example/x/status/revocation/1",
        ] {
            assert_eq!(u.parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn entries_are_one_object_by_default_and_an_array_with_suspension() {
        let u = StatusUrls::new(&url::Url::parse("https://b.example.edu").expect("url"));
        let slot = StatusSlot {
            list: 2,
            index: 94_567,
        };
        let one = u.entries(slot, &BadgePurposes::default());
        assert_eq!(
            one,
            json!({"id": "https://b.example.edu/status/revocation/2#94567",
                   "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                   "statusListIndex": "94567",
                   "statusListCredential": "https://b.example.edu/status/revocation/2"})
        );
        let both = u.entries(slot, &"revocation,suspension".parse().expect("purposes"));
        assert_eq!(both.as_array().map(Vec::len), Some(2));
        assert_eq!(both[1]["statusPurpose"], "suspension");
    }

    #[test]
    fn slot_keys_round_trip() {
        let s = StatusSlot {
            list: 7,
            index: 131_071,
        };
        assert_eq!(StatusSlot::from_key(&s.key()), Some(s));
        assert_eq!(
            StatusSlot::from_bit_key(&s.bit_key(StatusPurpose::Suspension)),
            Some((StatusPurpose::Suspension, s))
        );
        assert_eq!(StatusSlot::from_key(&[0, 0, 0, 0, 0, 0, 0, 1]), None);
    }

    #[test]
    fn allocation_fills_a_list_with_distinct_indices_then_opens_the_next() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("store");
        let lists = StatusLists::load(&store).expect("load");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..LIST_SIZE {
            let s = lists.allocate();
            assert_eq!(s.list, 1);
            assert!(seen.insert(s.index), "index {} handed out twice", s.index);
        }
        assert_eq!(lists.taken(1), Some(LIST_SIZE));
        let next = lists.allocate();
        assert_eq!(next.list, 2);
        assert_eq!(lists.list_count(), 2);
    }

    #[test]
    fn indices_are_spread_over_the_list() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("store");
        let lists = StatusLists::load(&store).expect("load");
        let idx: Vec<u32> = (0..200).map(|_| lists.allocate().index).collect();
        let low = idx.iter().filter(|i| **i < LIST_SIZE / 2).count();
        // 200 fair coin flips land in 60..140 with overwhelming probability.
        assert!((60..140).contains(&low), "{low} of 200 in the lower half");
        let mut sorted = idx.clone();
        sorted.sort_unstable();
        assert_ne!(sorted, idx, "indices must not come out in order");
    }

    #[test]
    fn applied_changes_bump_the_version_only_when_a_bit_flips() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("store");
        let lists = StatusLists::load(&store).expect("load");
        let s = lists.allocate();
        let p = StatusPurpose::Revocation;
        assert_eq!(lists.version(p, 1), Some(0));
        lists.lock().apply(p, s, true);
        lists.lock().apply(p, s, true);
        assert_eq!(lists.version(p, 1), Some(1));
        assert_eq!(lists.get(p, s), Some(true));
        assert_eq!(lists.get(StatusPurpose::Suspension, s), Some(false));
        assert_eq!(lists.version(p, 2), None);
    }
}
