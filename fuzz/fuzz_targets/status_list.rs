//! Status list decoding (`status`, `verify::status`): a Bitstring Status List
//! `encodedList` (multibase, base64url, GZIP, size caps), revocation lists
//! (`verify::remote::RevokedIds`), our own list URLs, and a fetched list as the
//! verifier loads it for a badge whose signature verified.
//!
//! Input: one mode byte, then
//! - mode % 5 == 0: an `encodedList` value;
//! - mode % 5 == 1: JSON read as a 1EdTech and as an OB 2.0 revocation list;
//! - mode % 5 == 2: text read as one of our status list URLs;
//! - mode % 5 == 3: the raw body a list's host serves (JWT or JSON);
//! - mode % 5 == 4: a list credential's payload, served as a `vc+jwt` signed by the
//!   badge's issuer (the fixed issuer: `ISSUER_DID` / `ISSUER_KID`).
//!
//! In the last two modes the badge's entry is a BitstringStatusListEntry, a
//! StatusList2021Entry or a 1EdTechRevocationList entry, chosen by `mode / 5 % 3`.
#![no_main]

use std::sync::OnceLock;

use accolade::status::{Bitstring, MAX_COMPRESSED, MAX_EXPANDED, StatusUrls};
use accolade::verify::remote::{RevocationShape, RevokedIds};
use accolade_fuzz::{
    PUBLIC_URL, block_on, fill, issuer, issuer_header, serving_verifier, sign_raw, text, to_json,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const LIST_URL: &str = "https://status.example/lists/1";

/// Badges of the fixed issuer, one per kind of status entry, signed.
fn badges() -> &'static [String; 3] {
    static BADGES: OnceLock<[String; 3]> = OnceLock::new();
    BADGES.get_or_init(|| {
        let entries = [
            json!({"id": format!("{LIST_URL}#94567"), "type": "BitstringStatusListEntry",
                   "statusPurpose": "revocation", "statusListIndex": "94567",
                   "statusListCredential": LIST_URL}),
            json!({"id": format!("{LIST_URL}#94567"), "type": "StatusList2021Entry",
                   "statusPurpose": "revocation", "statusListIndex": "94567",
                   "statusListCredential": LIST_URL}),
            json!({"id": LIST_URL, "type": "1EdTechRevocationList"}),
        ];
        entries.map(|entry| {
            let mut c: Map<String, Value> = serde_json::from_str(include_str!(
                "../../tests/vectors/examples/ob3_basic_openbadgecredential.json"
            ))
            .expect("the example credential");
            c.insert(
                "issuer".into(),
                json!({"id": issuer().did, "type": ["Profile"], "name": "Issuer"}),
            );
            c.insert("credentialStatus".into(), entry);
            accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
            sign_raw(
                &issuer_header("JWT"),
                &serde_json::to_vec(&c).expect("json"),
            )
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 5 {
        0 => {
            if let Ok(bits) = Bitstring::decode(&text(rest), MAX_COMPRESSED, MAX_EXPANDED) {
                let _ = bits.count_ones();
                let _ = bits.next_clear(0);
                let _ = bits.get(bits.len().saturating_sub(1));
                let _ = bits.get(94_567);
                let again = Bitstring::decode(&bits.encode(), 1 << 30, 1 << 30)
                    .expect("an encoded list decodes");
                assert_eq!(again.as_bytes(), bits.as_bytes());
            }
        }
        1 => {
            if let Ok(v) = serde_json::from_slice::<Value>(rest) {
                let _ = RevokedIds::parse(&v, RevocationShape::OneEdTech);
                let _ = RevokedIds::parse(&v, RevocationShape::Ob2);
            }
        }
        2 => {
            let urls = StatusUrls::new(&url::Url::parse(PUBLIC_URL).expect("url"));
            let _ = urls.parse(&text(rest));
        }
        m => {
            let body = if m == 3 {
                rest.to_vec()
            } else {
                sign_raw(&issuer_header("vc+jwt"), fill(&text(rest)).as_bytes()).into_bytes()
            };
            let badge = &badges()[usize::from(mode / 5 % 3)];
            let verifier = serving_verifier(body);
            block_on(async {
                if let Ok(report) = verifier.verify_jwt(badge).await {
                    to_json(&report);
                }
            });
        }
    }
});
