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

/// Entries per list: 131,072 bits = 16 KiB (§3.2 step 2, §6.1).
pub const LIST_SIZE: u32 = 131_072;

/// The `ttl` of a published list when none is configured: five minutes.
pub const DEFAULT_TTL_SECONDS: u64 = 300;

/// The largest compressed list a verifier accepts, and the largest expansion
/// (64 KB compressed, 2 MiB expanded).
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

    /// Its place in per-purpose arrays.
    fn slot(self) -> usize {
        match self {
            StatusPurpose::Revocation => 0,
            StatusPurpose::Suspension => 1,
        }
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
        self.entries_for(slot, purposes.as_slice())
    }

    /// The `credentialStatus` of `slot` for `purposes`: one entry, or an array.
    pub fn entries_for(&self, slot: StatusSlot, purposes: &[StatusPurpose]) -> Value {
        let mut v: Vec<Value> = purposes
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

/// The last signed copy of a list, kept so that a restart re-signs only lists that
/// changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedList {
    /// What was signed: a digest of the bits and of everything else in the credential
    /// that can change (key, ttl).
    pub digest: String,
    /// The compact JWS.
    pub jwt: String,
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

    /// A closed list: every slot counts as taken, so that nothing is allocated from
    /// it again.
    fn closed() -> Self {
        let mut l = Self::new();
        l.taken = Bitstring::from_bytes(vec![0xff; LIST_SIZE as usize / 8]);
        l.taken_count = LIST_SIZE;
        l
    }
}

/// The state of every list, in memory, mirroring the store: which slots are taken and
/// which bits are set. Bit changes are applied here after the store holds them.
#[derive(Debug)]
pub struct LiveLists {
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

/// The list `slot` belongs to, made (with any before it) when it is new; `None` for a
/// slot outside every list (index `>= LIST_SIZE`, list 0).
fn grow(lists: &mut Vec<List>, slot: StatusSlot) -> Option<&mut List> {
    if slot.list == 0 || slot.index >= LIST_SIZE {
        return None;
    }
    while lists.len() < slot.list as usize {
        lists.push(List::new());
    }
    lists.get_mut(slot.list as usize - 1)
}

/// Marks `slot` taken.
fn take(lists: &mut Vec<List>, slot: StatusSlot) {
    if let Some(l) = grow(lists, slot)
        && l.taken.set(slot.index as usize, true) == Some(false)
    {
        l.taken_count += 1;
    }
}

impl LiveLists {
    /// Rebuilds the lists from what the store holds: the first `closed` lists are
    /// closed (nothing is allocated from them again: slots come only from the newest
    /// list), every slot given out after them is taken, every bit set is set. Slots
    /// outside a list (index `>= LIST_SIZE`, list 0) are ignored.
    pub fn rebuild(
        closed: u32,
        slots: impl IntoIterator<Item = StatusSlot>,
        bits: impl IntoIterator<Item = (StatusPurpose, StatusSlot)>,
    ) -> Self {
        let mut lists: Vec<List> = (0..closed).map(|_| List::closed()).collect();
        for slot in slots {
            take(&mut lists, slot);
        }
        for (purpose, slot) in bits {
            if let Some(l) = grow(&mut lists, slot) {
                l.bits[purpose.slot()].set(slot.index as usize, true);
            }
        }
        Self {
            lists: Mutex::new(lists),
            published: Mutex::new(HashMap::new()),
        }
    }

    fn guard(&self) -> MutexGuard<'_, Vec<List>> {
        // A panic while holding the lock leaves the lists as consistent as the last
        // completed change; keep serving them.
        self.lists.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a bit change that the store already holds (made here or, in a fleet,
    /// by another node).
    pub fn apply(&self, purpose: StatusPurpose, slot: StatusSlot, value: bool) {
        let mut lists = self.guard();
        if let Some(l) = grow(&mut lists, slot)
            && l.bits[purpose.slot()].set(slot.index as usize, value) != Some(value)
        {
            l.version[purpose.slot()] += 1;
        }
    }

    /// Replaces the lists with what the store holds now (after a fleet's notices were
    /// interrupted): a slot taken stays taken, and a list whose bits differ gets a new
    /// version, so that it is published afresh.
    pub fn resync(
        &self,
        closed: u32,
        slots: impl IntoIterator<Item = StatusSlot>,
        bits: impl IntoIterator<Item = (StatusPurpose, StatusSlot)>,
    ) {
        let fresh = Self::rebuild(closed, slots, bits);
        let mut fresh = fresh.guard().clone();
        let mut lists = self.guard();
        for (i, old) in lists.iter().enumerate() {
            if fresh.len() <= i {
                fresh.push(List::new());
            }
            let new = &mut fresh[i];
            for p in 0..2 {
                new.version[p] = old.version[p] + u64::from(new.bits[p] != old.bits[p]);
            }
            // What this node took stays taken, even if its award is not written yet.
            for index in 0..LIST_SIZE as usize {
                if old.taken.get(index) == Some(true) && new.taken.set(index, true) == Some(false) {
                    new.taken_count += 1;
                }
            }
        }
        *lists = fresh;
    }

    /// Records a slot another node of a fleet took, so that this one never picks it.
    pub fn mark_taken(&self, slot: StatusSlot) {
        take(&mut self.guard(), slot);
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

    /// Forgets every cached publication (the signing keys changed): each list is
    /// signed again when next asked.
    pub fn forget_published(&self) {
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
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
    fn slots_and_bits_from_another_node_are_taken_and_applied() {
        let lists = LiveLists::rebuild(0, [], []);
        let elsewhere = StatusSlot { list: 2, index: 7 };
        lists.mark_taken(elsewhere);
        assert_eq!(lists.list_count(), 2, "the lists it names exist");
        assert_eq!(lists.taken(2), Some(1));
        lists.mark_taken(elsewhere);
        assert_eq!(lists.taken(2), Some(1), "counted once");
        let before = lists.version(StatusPurpose::Revocation, 3);
        assert_eq!(before, None);
        lists.apply(
            StatusPurpose::Revocation,
            StatusSlot { list: 3, index: 1 },
            true,
        );
        assert_eq!(
            lists.get(StatusPurpose::Revocation, StatusSlot { list: 3, index: 1 }),
            Some(true)
        );
        assert_eq!(lists.version(StatusPurpose::Revocation, 3), Some(1));
        let held = lists
            .snapshot(StatusPurpose::Revocation, 3)
            .expect("list 3");
        // A resync from a store that has the slot of list 2 and a bit of list 1 cleared.
        lists.apply(
            StatusPurpose::Revocation,
            StatusSlot { list: 1, index: 4 },
            true,
        );
        let v1 = lists.version(StatusPurpose::Revocation, 1).expect("list 1");
        lists.resync(
            0,
            [elsewhere, StatusSlot { list: 1, index: 9 }],
            [(StatusPurpose::Revocation, StatusSlot { list: 3, index: 1 })],
        );
        assert_eq!(lists.taken(1), Some(1));
        assert_eq!(
            lists.get(StatusPurpose::Revocation, StatusSlot { list: 1, index: 4 }),
            Some(false)
        );
        assert_eq!(lists.version(StatusPurpose::Revocation, 1), Some(v1 + 1));
        assert_eq!(
            lists.version(StatusPurpose::Revocation, 3),
            Some(held.version),
            "unchanged bits keep their version (and their published bytes)"
        );
        lists.mark_taken(StatusSlot { list: 0, index: 1 });
        lists.mark_taken(StatusSlot {
            list: 1,
            index: LIST_SIZE,
        });
        assert_eq!(
            lists.taken(1),
            Some(1),
            "slots outside every list are ignored"
        );
    }

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
    fn rebuilt_lists_hold_every_slot_and_bit_and_allocate_around_them() {
        let taken = StatusSlot { list: 2, index: 5 };
        let lists = LiveLists::rebuild(
            0,
            [
                StatusSlot { list: 1, index: 0 },
                taken,
                StatusSlot {
                    list: 9,
                    index: LIST_SIZE,
                },
            ],
            [(StatusPurpose::Suspension, taken)],
        );
        assert_eq!(lists.list_count(), 2, "an out-of-range slot opens no list");
        assert_eq!(lists.taken(2), Some(1));
        assert_eq!(lists.get(StatusPurpose::Suspension, taken), Some(true));
        assert_eq!(lists.get(StatusPurpose::Revocation, taken), Some(false));
        assert_eq!(lists.allocate().list, 2, "the newest list with room");
    }

    #[test]
    fn closed_lists_are_never_allocated_from_and_the_newest_one_fills_around_its_slots() {
        let newest = StatusSlot { list: 3, index: 17 };
        let lists = LiveLists::rebuild(
            2,
            [newest],
            [
                (StatusPurpose::Revocation, StatusSlot { list: 1, index: 4 }),
                (StatusPurpose::Revocation, newest),
            ],
        );
        assert_eq!(lists.list_count(), 3);
        assert_eq!(lists.taken(1), Some(LIST_SIZE));
        assert_eq!(lists.taken(2), Some(LIST_SIZE));
        assert_eq!(lists.taken(3), Some(1));
        assert_eq!(
            lists.get(StatusPurpose::Revocation, StatusSlot { list: 1, index: 4 }),
            Some(true),
            "a closed list keeps its bits"
        );
        assert_eq!(
            lists.get(StatusPurpose::Revocation, StatusSlot { list: 1, index: 5 }),
            Some(false)
        );
        for _ in 0..1000 {
            let s = lists.allocate();
            assert_eq!(s.list, 3, "slots come from the newest list only");
            assert_ne!(s, newest, "a slot given out before is not given again");
        }
    }

    #[test]
    fn allocation_fills_a_list_with_distinct_indices_then_opens_the_next() {
        let lists = LiveLists::rebuild(0, [], []);
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
        let lists = LiveLists::rebuild(0, [], []);
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
        let lists = LiveLists::rebuild(0, [], []);
        let s = lists.allocate();
        let p = StatusPurpose::Revocation;
        assert_eq!(lists.version(p, 1), Some(0));
        lists.apply(p, s, true);
        lists.apply(p, s, true);
        assert_eq!(lists.version(p, 1), Some(1));
        assert_eq!(lists.get(p, s), Some(true));
        assert_eq!(lists.get(StatusPurpose::Suspension, s), Some(false));
        assert_eq!(lists.version(p, 2), None);
    }
}
