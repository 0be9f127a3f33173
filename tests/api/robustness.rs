//! Robustness of the parsers of untrusted input, as property tests: arbitrary bytes and
//! text, and structured mutations of valid inputs (a byte flipped, a token cut short or
//! its segments swapped, a member deleted or retyped), fed to the same entry points the
//! fuzz targets under `fuzz/` drive. Nothing may panic; where it means something, the
//! answer is a clean error or an outcome that is not `verified`: a signed badge changed
//! after signing never verifies, an unproven wallet answer never decides a request.
//!
//! Every verifier here reaches no other host.

use std::sync::Arc;

use accolade::bake::{self, Baked, ImageKind};
use accolade::clock::FixedClock;
use accolade::did::{self, Did, DidUrl};
use accolade::images::{self, ImageFormat};
use accolade::integrity;
use accolade::jose::jws::{CompactJws, sign_compact};
use accolade::jose::{Algorithm, SigningKey, claims, json as strict_json};
use accolade::model::{schema, vcdm};
use accolade::net::{FetchError, Kind};
use accolade::oid4vci::proof::{PROOF_TYP, verify_proof};
use accolade::oid4vp::{NewRequest, RESPONSE_PATH, ResponseForm, State};
use accolade::status::{Bitstring, LIST_SIZE, MAX_COMPRESSED, MAX_EXPANDED};
use accolade::verify::presentation::read_presentation;
use accolade::verify::remote::{BoxFuture, DidDoc, RevocationShape, RevokedIds};
use accolade::verify::{
    BADGE_POLICY, Fetch, PresentationOptions, Relationship, Remote, Report, Ttls, VC_JOSE_POLICY,
    Verifier, read_credential,
};
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value, json};

use crate::helpers::{NOW, PUBLIC_URL, TOKEN, TestApp, b64, did_key_of, example, test_signing_key};

// ---------------------------------------------------------------------------------
// Shared pieces

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A verifier at the test clock that fetches nothing.
fn offline() -> Verifier {
    Verifier::new(None, Arc::new(FixedClock::at(NOW)))
}

/// Answers every URL with the same body, within the real client's cap for its kind.
struct Serve(Bytes);

impl Fetch for Serve {
    fn fetch<'a>(&'a self, _url: &'a str, kind: Kind) -> BoxFuture<'a, Result<Bytes, FetchError>> {
        let body = self.0.clone();
        Box::pin(async move {
            if body.len() > kind.cap() {
                Err(FetchError::TooLarge(kind.cap()))
            } else {
                Ok(body)
            }
        })
    }
}

/// A verifier whose every fetch gets `body`.
fn serving(body: impl Into<Bytes>) -> Verifier {
    offline().with_fetcher(Arc::new(Serve(body.into())))
}

/// Whether a verification came back `verified` (a malformed input is not).
fn verified(r: &Result<Report, accolade::verify::Error>) -> bool {
    r.as_ref().is_ok_and(|r| r.verified)
}

fn issuer_key() -> SigningKey {
    test_signing_key(Algorithm::EdDSA)
}

/// An OB 3.0 JWT badge of the test key's did:key, after `edit` on the credential.
fn badge_with(k: &SigningKey, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let (did, kid) = did_key_of(k);
    let mut c = example("ob3_basic_openbadgecredential.json");
    c["issuer"]["id"] = json!(did);
    edit(&mut c);
    claims::add_jwt_claims(&mut c).expect("claims");
    sign_compact(
        k,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&c).expect("json"),
    )
    .expect("sign")
}

/// A compact JWS of exactly these header and payload bytes, signed by `k`.
fn forge(k: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = k.sign(input.as_bytes()).expect("sign");
    format!("{input}.{}", b64(sig))
}

fn vector(path: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors")
            .join(path),
    )
    .expect("vector file")
}

/// Bytes and text of any kind, up to `max` bytes.
fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

const WORDS: &[&str] = &[
    "VerifiableCredential",
    "OpenBadgeCredential",
    "AchievementCredential",
    "EndorsementCredential",
    "VerifiablePresentation",
    "EnvelopedVerifiableCredential",
    "EnvelopedVerifiablePresentation",
    "Profile",
    "Achievement",
    "AchievementSubject",
    "DataIntegrityProof",
    "eddsa-rdfc-2022",
    "ecdsa-rdfc-2019",
    "Ed25519Signature2020",
    "JsonWebSignature2020",
    "BitstringStatusListEntry",
    "StatusList2021Entry",
    "1EdTechRevocationList",
    "revocation",
    "assertionMethod",
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/2018/credentials/v1",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    "https://w3id.org/openbadges/v2",
    "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
    "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
    "did:jwk:eyJrdHkiOiJPS1AiLCJjcnYiOiJFZDI1NTE5IiwieCI6IjExcWJqMFNmNTJyREZyMkpDRl9qUTNOaHJFbGNBSGZJZ0hMcjFXNlBJSnMifQ",
    "did:web:issuer.example",
    "https://status.example/lists/1",
    "2026-01-01T00:00:00Z",
    "2010-01-01T00:00:00Z",
    "data:application/vc+jwt,eyJhbGciOiJFZERTQSJ9.e30.c2ln",
    "eyJhbGciOiJFZERTQSJ9.e30.c2ln",
    "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA",
];

const KEYS: &[&str] = &[
    "@context",
    "id",
    "type",
    "issuer",
    "name",
    "validFrom",
    "validUntil",
    "issuanceDate",
    "expirationDate",
    "credentialSubject",
    "achievement",
    "credentialStatus",
    "statusPurpose",
    "statusListIndex",
    "statusListCredential",
    "credentialSchema",
    "evidence",
    "endorsement",
    "endorsementJwt",
    "proof",
    "cryptosuite",
    "verificationMethod",
    "proofPurpose",
    "proofValue",
    "jws",
    "created",
    "verifiableCredential",
    "holder",
    "identifier",
    "recipient",
    "badge",
    "verify",
    "iss",
    "sub",
    "nbf",
    "exp",
    "jti",
    "vc",
    "vp",
    "publicKeyJwk",
    "publicKeyMultibase",
    "controller",
    "assertionMethod",
    "authentication",
    "kty",
    "crv",
    "x",
    "y",
];

fn word() -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_owned),
        1 => "\\PC{0,24}",
    ]
    .boxed()
}

/// JSON of any shape, leaning towards the names and values credentials use.
fn json_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
            1 => "[a-zA-Z@]{1,8}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..7)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A change to a JSON document at one place.
#[derive(Debug, Clone, Copy)]
enum Change {
    Delete,
    /// A string gets a character more; anything else becomes a string.
    Extend,
    Number,
    Null,
    EmptyObject,
    Bool,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Delete),
        Just(Change::Extend),
        Just(Change::Number),
        Just(Change::Null),
        Just(Change::EmptyObject),
        Just(Change::Bool),
    ]
}

/// Every place in `v` (object members and array elements), as paths.
fn places(v: &Value, at: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                at.push(PathStep::Key(k.clone()));
                out.push(at.clone());
                places(child, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                at.push(PathStep::Index(i));
                out.push(at.clone());
                places(child, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone, PartialEq)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// `doc` with `change` applied at its `pick`-th place; `None` when it has no place.
fn mutate(doc: &Value, pick: usize, change: Change) -> Option<Value> {
    let mut all = Vec::new();
    places(doc, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return None;
    }
    let path = &all[pick % all.len()];
    let mut out = doc.clone();
    let (last, parent_path) = path.split_last()?;
    let mut parent = &mut out;
    for step in parent_path {
        parent = match step {
            PathStep::Key(k) => parent.get_mut(k.as_str())?,
            PathStep::Index(i) => parent.get_mut(*i)?,
        };
    }
    let slot = match last {
        PathStep::Key(k) if matches!(change, Change::Delete) => {
            parent.as_object_mut()?.remove(k.as_str());
            return Some(out);
        }
        PathStep::Index(i) if matches!(change, Change::Delete) => {
            parent.as_array_mut()?.remove(*i);
            return Some(out);
        }
        PathStep::Key(k) => parent.get_mut(k.as_str())?,
        PathStep::Index(i) => parent.get_mut(*i)?,
    };
    *slot = match (change, &*slot) {
        (Change::Extend, Value::String(s)) => Value::String(format!("{s}x")),
        (Change::Extend, _) => Value::String("x".into()),
        (Change::Number, Value::Number(n)) if n.as_i64() == Some(7) => json!(8),
        (Change::Number, _) => json!(7),
        (Change::Null, Value::Null) => json!("null"),
        (Change::Null, _) => Value::Null,
        (Change::EmptyObject, Value::Object(o)) if o.is_empty() => json!([]),
        (Change::EmptyObject, _) => json!({}),
        (Change::Bool, Value::Bool(b)) => Value::Bool(!b),
        (Change::Bool, _) => Value::Bool(true),
        (Change::Delete, _) => return None,
    };
    Some(out)
}

// ---------------------------------------------------------------------------------
// 1. The compact JWS / JWT parser

/// Everything a caller reads from a parsed token.
fn read_token(token: &str) {
    let Ok(jws) = CompactJws::parse(token) else {
        return;
    };
    let _ = (jws.alg(), jws.kid(), jws.typ(), jws.payload());
    let _ = jws.check_header(&BADGE_POLICY);
    let _ = jws.check_header(&VC_JOSE_POLICY);
    if let Ok(mut payload) = jws.payload_json() {
        let _ = claims::check_jwt_claims(&payload);
        let _ = claims::check_present_claims(&payload);
        let _ = claims::strip_jwt_claims(&payload);
        let _ = claims::add_jwt_claims(&mut payload);
    }
}

fn token_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,200}",
        "[A-Za-z0-9_=+/.-]{0,120}",
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,40}",
        // Base64url of JSON-ish text as header and payload.
        ("\\PC{0,60}", "\\PC{0,80}", "[A-Za-z0-9_-]{0,20}").prop_map(|(h, p, s)| format!(
            "{}.{}.{s}",
            b64(h),
            b64(p)
        )),
        (json_value(), json_value()).prop_map(|(h, p)| format!(
            "{}.{}.c2ln",
            b64(h.to_string()),
            b64(p.to_string())
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_jws_parser_takes_any_bytes(data in bytes(400)) {
        let _ = strict_json::from_slice_strict(&data);
        read_token(&String::from_utf8_lossy(&data));
    }

    #[test]
    fn the_jws_parser_takes_any_token_shaped_text(token in token_text()) {
        read_token(&token);
        let _ = bake::is_compact_jws(&token);
    }
}

// ---------------------------------------------------------------------------------
// 2. JSON credentials and presentations into verification

/// Every reader of a JSON credential or presentation, and the offline pipeline.
fn read_and_verify(rt: &tokio::runtime::Runtime, v: &Value) {
    let _ = read_credential(v);
    let _ = read_presentation(v);
    let _ = schema::check_credential(v);
    let _ = vcdm::check_credential(v);
    let _ = vcdm::check_presentation(v);
    let verifier = offline();
    let opts = PresentationOptions {
        challenge: Some("a-nonce".into()),
        domain: Some(PUBLIC_URL.into()),
        unsigned: false,
        holder_binding: true,
    };
    rt.block_on(async {
        if let Ok(r) = verifier.verify_value(v).await {
            serde_json::to_vec(&r).expect("a report serialises");
        }
        if let Ok(r) = verifier.verify_presentation(v, &opts).await {
            serde_json::to_vec(&r).expect("a report serialises");
        }
    });
}

#[test]
fn json_input_of_any_shape_is_read_without_panicking() {
    let rt = runtime();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(160));
    runner
        .run(&json_value(), |v| {
            read_and_verify(&rt, &v);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    runner
        .run(&bytes(300), |data| {
            if let Ok(v) = serde_json::from_slice::<Value>(&data) {
                read_and_verify(&rt, &v);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn examples_with_a_member_deleted_or_retyped_are_read_without_panicking() {
    let rt = runtime();
    let docs: Vec<Value> = [
        "ob3_basic_openbadgecredential.json",
        "ob3_complete_openbadgecredential.json",
        "ob3_endorsementcredential.json",
        "clr2_testvector_credential.json",
    ]
    .iter()
    .map(|n| Value::Object(example(n)))
    .collect();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(96));
    runner
        .run(
            &(0..docs.len(), any::<usize>(), change()),
            |(d, pick, change)| {
                if let Some(v) = mutate(&docs[d], pick, change) {
                    read_and_verify(&rt, &v);
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

// The mutated-badge properties: a JWT badge changed after signing never verifies.

fn flip(token: &str, at: usize, with: u8) -> String {
    let mut b = token.as_bytes().to_vec();
    let i = at % b.len();
    b[i] ^= with.max(1);
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn a_signed_badge_changed_after_signing_never_verifies() {
    let rt = runtime();
    let k = issuer_key();
    let badge = badge_with(&k, |_| {});
    let other = badge_with(&k, |c| c["name"] = json!("Another Badge"));
    let verifier = offline();
    assert!(
        verified(&rt.block_on(verifier.verify_jwt(&badge))),
        "the unchanged badge verifies"
    );
    let parts: Vec<String> = badge.split('.').map(str::to_owned).collect();
    let other_parts: Vec<String> = other.split('.').map(str::to_owned).collect();

    let mut runner = TestRunner::new(ProptestConfig::with_cases(128));
    // One byte flipped anywhere.
    runner
        .run(&(any::<usize>(), any::<u8>()), |(at, with)| {
            let t = flip(&badge, at, with);
            prop_assert!(!verified(&rt.block_on(verifier.verify_jwt(&t))), "{t}");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // Cut short, or a segment doubled, swapped or taken from another badge.
    runner
        .run(&(0..badge.len(), 0usize..8), |(cut, shape)| {
            let [h, p, s] = [&parts[0], &parts[1], &parts[2]];
            let t = match shape {
                0 => badge[..cut].to_owned(),
                1 => format!("{p}.{h}.{s}"),
                2 => format!("{h}.{s}.{p}"),
                3 => format!("{h}.{p}.{p}"),
                4 => format!("{h}.{}.{s}", other_parts[1]),
                5 => format!("{h}.{p}.{}", other_parts[2]),
                6 => format!("{badge}.{s}"),
                _ => format!("{h}.{p}{}.{s}", &p[..cut % p.len()]),
            };
            prop_assert!(!verified(&rt.block_on(verifier.verify_jwt(&t))), "{t}");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // A payload member deleted or retyped, under the original signature; re-signed,
    // the same change must at least be judged without panicking.
    let payload: Value =
        serde_json::from_slice(&accolade::jose::b64_decode(&parts[1], "payload").expect("payload"))
            .expect("json");
    runner
        .run(&(any::<usize>(), change()), |(pick, change)| {
            let Some(changed) = mutate(&payload, pick, change) else {
                return Ok(());
            };
            let bytes = serde_json::to_vec(&changed).expect("json");
            let t = format!("{}.{}.{}", parts[0], b64(&bytes), parts[2]);
            prop_assert!(
                !verified(&rt.block_on(verifier.verify_jwt(&t))),
                "{changed}"
            );
            let header = accolade::jose::b64_decode(&parts[0], "header").expect("header");
            let resigned = forge(&k, &header, &bytes);
            if let Ok(r) = rt.block_on(verifier.verify_jwt(&resigned)) {
                serde_json::to_vec(&r).expect("a report serialises");
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------
// 3. JSON-LD: Data Integrity

#[test]
fn a_data_integrity_badge_changed_after_signing_never_verifies() {
    let rt = runtime();
    let verifier = offline();
    let docs: Vec<Value> = [
        "integrity/ob3_did_key_eddsa.json",
        "integrity/ob3_did_key_ecdsa_p256.json",
    ]
    .iter()
    .map(|p| serde_json::from_slice(&vector(p)).expect("json"))
    .collect();
    for d in &docs {
        assert!(
            verified(&rt.block_on(verifier.verify_value(d))),
            "the unchanged vector verifies: {d}"
        );
    }
    let mut runner = TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(
            &(0..docs.len(), any::<usize>(), change()),
            |(d, pick, change)| {
                let Some(changed) = mutate(&docs[d], pick, change) else {
                    return Ok(());
                };
                prop_assert!(
                    !verified(&rt.block_on(verifier.verify_value(&changed))),
                    "{changed}"
                );
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Found by the `integrity_jsonld` fuzz target: a proof whose `created` year does not
/// fit in 32 bits made `ssi` panic while reading the proof (`xsd-types` 0.9.6 unwraps
/// the year's `parse`), through `integrity::verify` and so through
/// `Verifier::verify_value` (`POST /api/v1/verify`). The reproducers are under
/// `fuzz/regressions/`.
#[test]
fn a_proof_created_in_an_unrepresentable_year_is_refused_cleanly() {
    let rt = runtime();
    let mut doc: Value =
        serde_json::from_slice(&vector("integrity/ob3_did_key_eddsa.json")).expect("json");
    doc["proof"]["created"] = json!("99999999999-11-19T00:00:00Z");
    let r = rt.block_on(offline().verify_value(&doc));
    assert!(!verified(&r));
}

/// Found by the `integrity_jsonld` fuzz target: a verification method id with a
/// percent escape that is not UTF-8 (`#k%FF`) panics in `pct-str` 2.0.0 when the IRI is
/// hashed (`integrity::verify` builds a map keyed by it). A did:web issuer's own document
/// can list such a method, so `POST /api/v1/verify` reaches it.
#[test]
fn a_method_id_with_a_non_utf8_escape_is_refused_cleanly() {
    let rt = runtime();
    let did = "did:web:issuer.example";
    let vm = format!("{did}#k%FF");
    let doc = json!({"id": did, "assertionMethod": [vm], "verificationMethod": [{
        "id": vm, "type": "Multikey", "controller": did,
        "publicKeyMultibase": "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"}]});
    let mut c: Value =
        serde_json::from_slice(&vector("integrity/ob3_did_key_eddsa.json")).expect("json");
    c["issuer"]["id"] = json!(did);
    c["proof"]["verificationMethod"] = json!(vm);
    let r = rt.block_on(serving(doc.to_string()).verify_value(&c));
    assert!(!verified(&r));
}

#[test]
fn data_integrity_verification_takes_any_document() {
    let rt = runtime();
    let key = issuer_key();
    let method = did_key_of(&key).1;
    let controller = did_key_of(&key).0;
    let proof = (
        proptest::sample::select(
            &[
                "DataIntegrityProof",
                "Ed25519Signature2020",
                "JsonWebSignature2020",
            ][..],
        ),
        proptest::sample::select(&["eddsa-rdfc-2022", "ecdsa-rdfc-2019", "other"][..]),
        json_value(),
        "[1-9A-HJ-NP-Za-km-z.]{0,90}",
    );
    let mut runner = TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(
            &(json_value(), proof),
            |(body, (ty, suite, extra, value))| {
                let mut doc = match body {
                    Value::Object(o) => o,
                    other => Map::from_iter([("credentialSubject".to_owned(), other)]),
                };
                doc.entry("@context")
                    .or_insert_with(|| json!(["https://www.w3.org/ns/credentials/v2"]));
                doc.insert(
                    "proof".into(),
                    json!({"type": ty, "cryptosuite": suite, "verificationMethod": method,
                       "proofPurpose": "assertionMethod", "proofValue": format!("z{value}"),
                       "jws": format!("{value}..{value}"), "created": extra}),
                );
                if let Ok(p) = integrity::proof_of(&doc) {
                    let _ = integrity::suite_of(p);
                }
                let r = rt.block_on(integrity::verify(
                    &doc,
                    &method,
                    &controller,
                    key.public_jwk(),
                ));
                prop_assert!(r.is_err(), "a proof nobody made verified: {doc:?}");
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------
// 4. DIDs and DID documents

fn did_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,80}",
        "did:[a-z0-9]{0,6}:[a-zA-Z0-9._:%-]{0,60}(#[a-zA-Z0-9._~!$&'()*+,;=:@/?%-]{0,12})?",
        "did:key:z[1-9A-HJ-NP-Za-km-z]{0,70}",
        "did:jwk:[A-Za-z0-9_-]{0,120}",
        ("\\PC{0,60}").prop_map(|j| format!("did:jwk:{}", b64(j))),
        json_value().prop_map(|j| format!("did:jwk:{}", b64(j.to_string()))),
        "did:web:[a-z0-9.%:-]{0,40}",
    ]
}

fn did_document() -> impl Strategy<Value = Value> {
    let id = prop_oneof![
        Just("#key-1".to_owned()),
        Just("did:web:issuer.example#key-1".to_owned()),
        Just("did:web:other.example#key-1".to_owned()),
        "#[a-z0-9-]{0,300}",
        word(),
    ]
    .boxed();
    let key = prop_oneof![
        json_value(),
        Just(
            json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
        ),
        Just(
            json!({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
        ),
        "z[1-9A-HJ-NP-Za-km-z]{0,70}".prop_map(Value::String),
    ];
    let method = (id.clone(), key, any::<bool>(), word())
        .prop_map(|(id, key, jwk, controller)| {
            let mut m = json!({"id": id, "type": "Multikey", "controller": controller});
            m[if jwk {
                "publicKeyJwk"
            } else {
                "publicKeyMultibase"
            }] = key;
            m
        })
        .boxed();
    let reference = prop_oneof![id.prop_map(Value::String), method.clone(), json_value()];
    (
        proptest::collection::vec(method, 0..4),
        proptest::collection::vec(reference.clone(), 0..4),
        proptest::collection::vec(reference, 0..3),
        any::<bool>(),
    )
        .prop_map(|(vms, am, auth, right_id)| {
            json!({
                "id": if right_id { "did:web:issuer.example" } else { "did:web:elsewhere.example" },
                "verificationMethod": vms, "assertionMethod": am, "authentication": auth,
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dids_and_did_urls_of_any_text_parse_or_refuse_cleanly(s in did_text()) {
        let _ = s.parse::<DidUrl>();
        let _ = did::key::from_multibase(&s);
        if let Ok(d) = s.parse::<Did>() {
            prop_assert_eq!(d.as_str(), s.as_str());
            let _ = (d.method(), d.method_specific_id());
            let _ = did::key::resolve(&d);
            let _ = did::jwk::resolve(&d);
            let _ = did::web::document_url(&d);
        }
    }
}

#[test]
fn did_documents_of_any_shape_are_read_without_panicking() {
    let rt = runtime();
    let did: Did = "did:web:issuer.example".parse().expect("did");
    let mut runner = TestRunner::new(ProptestConfig::with_cases(128));
    runner
        .run(&did_document(), |doc| {
            if let Ok(d) = DidDoc::parse(&did, &doc) {
                for rel in [Relationship::AssertionMethod, Relationship::Authentication] {
                    let ids: Vec<String> = d.keys_for(rel).map(|(id, _)| id.to_owned()).collect();
                    for id in ids {
                        prop_assert!(d.key_for(&id, rel).is_ok());
                        prop_assert!(id.starts_with("did:web:issuer.example#"));
                    }
                }
            } else {
                prop_assert!(doc["id"] != "did:web:issuer.example" || !doc.is_object());
            }
            // The same document as a did:web host serves it.
            let remote = Remote::new(
                Arc::new(Serve(Bytes::from(doc.to_string()))),
                Ttls::default(),
            );
            let _ = rt.block_on(remote.did_web(&did));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    runner
        .run(&bytes(300), |body| {
            let remote = Remote::new(Arc::new(Serve(Bytes::from(body))), Ttls::default());
            let _ = rt.block_on(remote.did_web(&did));
            let _ = rt.block_on(remote.jwk_at("https://issuer.example/keys/1#k1"));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------
// 5. Status lists

const LIST_URL: &str = "https://status.example/lists/1";
const INDEX: usize = 94_567;

/// A list credential of the test key's did:key with bit [`INDEX`] as given, signed.
fn status_list(k: &SigningKey, revoked: bool) -> String {
    let (did, kid) = did_key_of(k);
    let mut bits = Bitstring::zeros(LIST_SIZE as usize);
    bits.set(INDEX, revoked);
    let list = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": did,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": format!("{LIST_URL}#list"), "type": "BitstringStatusList",
                              "statusPurpose": "revocation", "encodedList": bits.encode()},
    });
    sign_compact(k, Some(&kid), Some("vc+jwt"), list.to_string().as_bytes()).expect("sign")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn encoded_lists_of_any_text_decode_or_refuse_cleanly(
        s in prop_oneof!["\\PC{0,200}", "u[A-Za-z0-9_=-]{0,200}", "uH4sI[A-Za-z0-9_-]{0,120}"],
    ) {
        if let Ok(b) = Bitstring::decode(&s, MAX_COMPRESSED, MAX_EXPANDED) {
            prop_assert!(b.len() <= MAX_EXPANDED * 8);
        }
    }

    #[test]
    fn gzip_of_any_bytes_round_trips_or_refuses_cleanly(data in bytes(600), cut in any::<usize>()) {
        let encoded = Bitstring::from_bytes(data.clone()).encode();
        let back = Bitstring::decode(&encoded, MAX_COMPRESSED, MAX_EXPANDED).expect("decodes");
        prop_assert_eq!(back.as_bytes(), data.as_slice());
        // Cut short anywhere, it is refused or reads as less.
        let short = &encoded[..cut % encoded.len()];
        if let Ok(b) = Bitstring::decode(short, MAX_COMPRESSED, MAX_EXPANDED) {
            prop_assert!(b.as_bytes().len() <= data.len());
        }
    }

    #[test]
    fn revocation_lists_of_any_shape_are_read_without_panicking(v in json_value()) {
        let _ = RevokedIds::parse(&v, RevocationShape::OneEdTech);
        let _ = RevokedIds::parse(&v, RevocationShape::Ob2);
        let wrapped = json!({"type": "RevocationList", "revokedAssertions": [&v], "revokedCredentials": [&v]});
        let _ = RevokedIds::parse(&wrapped, RevocationShape::OneEdTech);
        let _ = RevokedIds::parse(&wrapped, RevocationShape::Ob2);
    }
}

#[test]
fn a_badge_whose_status_list_is_garbled_never_verifies() {
    let rt = runtime();
    let k = issuer_key();
    let badge = badge_with(&k, |c| {
        c.insert(
            "credentialStatus".into(),
            json!({"id": format!("{LIST_URL}#{INDEX}"), "type": "BitstringStatusListEntry",
                   "statusPurpose": "revocation", "statusListIndex": INDEX.to_string(),
                   "statusListCredential": LIST_URL}),
        );
    });
    let clear = status_list(&k, false);
    assert!(
        verified(&rt.block_on(serving(clear.clone()).verify_jwt(&badge))),
        "the badge verifies against its clear list"
    );
    assert!(
        !verified(&rt.block_on(serving(status_list(&k, true)).verify_jwt(&badge))),
        "a revoked badge does not verify"
    );
    let mut runner = TestRunner::new(ProptestConfig::with_cases(96));
    runner
        .run(
            &(any::<usize>(), any::<u8>(), 0usize..3, bytes(200)),
            |(at, with, shape, junk)| {
                let body: Vec<u8> = match shape {
                    0 => flip(&clear, at, with).into_bytes(),
                    1 => clear.as_bytes()[..at % clear.len()].to_vec(),
                    _ => junk,
                };
                let r = rt.block_on(serving(body.clone()).verify_jwt(&badge));
                prop_assert!(!verified(&r), "{}", String::from_utf8_lossy(&body));
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------
// 6. Baked images and the upload path

const JWT: &str =
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJkaWQ6ZXhhbXBsZTppc3N1ZXIifQ.c2lnbmF0dXJl";

fn images() -> Vec<Vec<u8>> {
    [
        "ob2/baked-signed.png",
        "ob2/baked-hosted.png",
        "ob2/badge-image.png",
        "ob2/baked-signed.svg",
        "ob2/baked-hosted.svg",
    ]
    .iter()
    .map(|p| vector(p))
    .collect()
}

/// Bytes that start like an image, then anything.
fn image_bytes() -> impl Strategy<Value = Vec<u8>> {
    let starts: Vec<Vec<u8>> = vec![
        b"\x89PNG\r\n\x1a\n".to_vec(),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec(),
        b"<svg xmlns=\"http://www.w3.org/2000/svg\">".to_vec(),
        b"\xef\xbb\xbf<?xml version=\"1.0\"?><!-- x --><svg>".to_vec(),
        Vec::new(),
    ];
    (proptest::sample::select(starts), bytes(300)).prop_map(|(mut a, b)| {
        a.extend(b);
        a
    })
}

/// One of the image vectors with a byte flipped, cut short, or a chunk of junk inserted.
fn mutated_image() -> impl Strategy<Value = Vec<u8>> {
    (0..5usize, any::<usize>(), any::<u8>(), 0..3usize, bytes(16)).prop_map(
        |(i, at, with, how, junk)| {
            let mut img = images().swap_remove(i);
            let at = at % img.len();
            match how {
                0 => img[at] ^= with.max(1),
                1 => img.truncate(at),
                _ => {
                    img.splice(at..at, junk);
                }
            }
            img
        },
    )
}

/// Why a sanitised SVG is not inert, if it is not: a dropped element, an event
/// handler, a script URL, an outside reference (the sanitiser's stated rules).
fn not_inert(svg: &str) -> Option<String> {
    use quick_xml::XmlVersion;
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(svg);
    loop {
        let e = match r.read_event() {
            Err(e) => return Some(format!("not well-formed: {e}")),
            Ok(Event::Eof) => return None,
            Ok(Event::DocType(_)) => return Some("a DOCTYPE".into()),
            Ok(Event::Start(e) | Event::Empty(e)) => e,
            Ok(_) => continue,
        };
        let name = e.local_name().as_ref().to_ascii_lowercase();
        if [
            "script",
            "style",
            "foreignobject",
            "iframe",
            "animate",
            "set",
            "feimage",
            "animatemotion",
            "animatetransform",
        ]
        .contains(&name.as_str())
        {
            return Some(format!("element <{name}>"));
        }
        for a in e.attributes() {
            let Ok(a) = a else {
                return Some("a malformed attribute".into());
            };
            let key = a.key.as_ref().to_ascii_lowercase();
            let local = key.rsplit(':').next().unwrap_or_default().to_owned();
            let value = a
                .normalized_value(XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_default();
            let compact: String = value
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_lowercase();
            if local.starts_with("on") {
                return Some(format!("handler {key} on <{name}>"));
            }
            if compact.contains("javascript:") || compact.contains("vbscript:") {
                return Some(format!("script URL in {key}={value:?}"));
            }
            if local == "href"
                && !(value.starts_with('#')
                    || (name == "image" && value.starts_with("data:image/png;base64,")))
            {
                return Some(format!("reference {key}={value:?} on <{name}>"));
            }
            for (i, _) in compact.match_indices("url(") {
                let rest = compact[i + 4..].trim_start_matches(['\'', '"']);
                if !rest.starts_with('#') {
                    return Some(format!("outside url( in {key}={value:?}"));
                }
            }
        }
    }
}

const SVG_PARTS: &[&str] = &[
    "<rect width=\"5\" height=\"5\" fill=\"#12355b\"/>",
    "<g>",
    "</g>",
    "<a href=\"https://evil.example\">",
    "<a xlink:href=\"javascript:alert(1)\">",
    "</a>",
    "<script>alert(1)</script>",
    "<style>@import url(https://evil.example/x.css);</style>",
    "<foreignObject><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div></foreignObject>",
    "<circle r=\"2\" onload=\"alert(1)\" onclick='x'/>",
    "<circle r=\"2\" style=\"fill:url(https://evil.example/#a)\"/>",
    "<circle r=\"2\" fill=\"url('#g')\"/>",
    "<circle r=\"2\" fill=\"url(&#x27;https://evil.example&#x27;)\"/>",
    "<image href=\"data:image/png;base64,AAAA\"/>",
    "<image href=\"https://evil.example/p.png\"/>",
    "<image href=\"data:ima\u{0}\u{0}ge/png;base64,AAAA\"/>",
    "<image href=\"data:image/png;base64, AAAA\u{e}\"/>",
    "<use href=\"#g\"/>",
    "<use xlink:href=\"https://evil.example/s.svg#x\"/>",
    "<animate attributeName=\"href\" to=\"javascript:alert(1)\"/>",
    "<set attributeName=\"onload\" to=\"alert(1)\"/>",
    "<linearGradient id=\"g\"><stop offset=\"0\"/></linearGradient>",
    "<text x=\"1\" y=\"5\">A &amp; B &lt; C</text>",
    "<text>&unknown;</text>",
    "<![CDATA[<script>x</script>]]>",
    "<!-- <script>x</script> -->",
    "<?php echo 1 ?>",
    "<svg>",
    "</svg>",
    "<a href=\"  JaVa\tScRiPt:alert(1)\">",
    "<path d=\"M0 0L5 5Z\" filter=\"url(#f)\"/>",
    "<feImage href=\"https://evil.example\"/>",
    "<title>t</title>",
    "<x:evil xmlns:x=\"urn:x\"><script/></x:evil>",
    "<rect xml:space=\"preserve\" x:onload=\"y\" xmlns:x=\"urn:x\"/>",
];

fn svg_document() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![4 => proptest::sample::select(SVG_PARTS).prop_map(str::to_owned), 1 => "\\PC{0,12}"],
            0..12,
        ),
    )
        .prop_map(|(prolog, parts)| {
            format!(
                "{}<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" viewBox=\"0 0 10 10\">{}</svg>",
                if prolog { "<?xml version=\"1.0\"?>\n" } else { "" },
                parts.concat()
            )
        })
}

fn read_baked(data: &[u8]) {
    let _ = bake::sniff(data);
    for kind in [ImageKind::Png, ImageKind::Svg] {
        match bake::extract(kind, data) {
            Ok(Baked::Json(v)) => {
                let _ = read_credential(&v);
            }
            Ok(Baked::Jwt(s) | Baked::Ob2(s)) => {
                let _ = CompactJws::parse(&s);
            }
            Err(_) => {}
        }
    }
    let _ = bake::png_dimensions(data);
    let _ = bake::unbake_png(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = bake::unbake_svg(s);
    }
}

/// Baking into `data` either fails or reads back exactly the JWT baked.
fn bake_reads_back(data: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(png) = bake::bake_png(data, JWT) {
        match bake::extract(ImageKind::Png, &png) {
            Ok(Baked::Jwt(jwt)) => prop_assert_eq!(jwt, JWT),
            other => prop_assert!(false, "a baked PNG reads back {other:?}"),
        }
    }
    if let Ok(svg) = std::str::from_utf8(data)
        && let Ok(baked) = bake::bake_svg(svg, JWT)
    {
        match bake::extract(ImageKind::Svg, baked.as_bytes()) {
            Ok(Baked::Jwt(jwt)) => prop_assert_eq!(jwt, JWT),
            other => prop_assert!(false, "a baked SVG reads back {other:?}"),
        }
    }
    Ok(())
}

/// The upload path: refused cleanly, or kept in a form that is safe and renders.
fn upload(data: &[u8], declared: Option<&str>) -> Result<(), TestCaseError> {
    let Ok(up) = images::check_upload(data, declared) else {
        return Ok(());
    };
    match up.format {
        ImageFormat::Png => {
            prop_assert!(
                bake::extract(ImageKind::Png, &up.bytes).is_err(),
                "a credential survives"
            );
            let _ = images::resize_png(&up.bytes, 16);
        }
        ImageFormat::Svg => {
            let svg = std::str::from_utf8(&up.bytes).expect("a sanitised SVG is UTF-8");
            prop_assert_eq!(not_inert(svg), None, "{}", svg);
            let again = images::sanitize_svg(svg.as_bytes()).ok();
            prop_assert_eq!(again.as_deref(), Some(svg), "sanitising is idempotent");
            let _ = images::rasterise(svg, 16);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn baked_images_of_any_bytes_are_read_without_panicking(data in prop_oneof![image_bytes(), mutated_image()]) {
        read_baked(&data);
        bake_reads_back(&data)?;
    }

    #[test]
    fn uploads_are_refused_cleanly_or_kept_inert(
        data in prop_oneof![image_bytes(), mutated_image(), svg_document().prop_map(String::into_bytes)],
        declared in proptest::option::of(proptest::sample::select(&["image/png", "image/svg+xml", "IMAGE/SVG+XML; charset=utf-8", "text/html"][..])),
    ) {
        let _ = images::sanitize_svg(&data);
        upload(&data, declared)?;
        upload(&data, None)?;
    }
}

/// Found by the `unbake` fuzz target: text before the root element that the SVG reader
/// refuses (an empty entity reference) is kept by baking, so the baked image cannot be
/// read back. The reproducers are under `fuzz/regressions/unbake/`.
#[test]
fn an_svg_that_bakes_reads_back() {
    bake_reads_back(b"&;<svg xmlns=\"http://www.w3.org/2000/svg\"/>")
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_image_vectors_bake_and_upload_cleanly() {
    for img in images() {
        read_baked(&img);
        bake_reads_back(&img).unwrap_or_else(|e| panic!("{e}"));
        assert!(images::check_upload(&img, None).is_ok());
        upload(&img, None).unwrap_or_else(|e| panic!("{e}"));
    }
}

// ---------------------------------------------------------------------------------
// 7. OpenID4VCI: proof JWTs and request bodies; OpenID4VP: wallet answers

#[test]
fn a_proof_jwt_changed_after_signing_is_refused() {
    let k = issuer_key();
    let (_, kid) = did_key_of(&k);
    let header = json!({"alg": "EdDSA", "typ": PROOF_TYP, "kid": kid}).to_string();
    let claims = json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": "n"}).to_string();
    let proof = forge(&k, header.as_bytes(), claims.as_bytes());
    let proven = verify_proof(&proof, PUBLIC_URL, NOW).expect("the unchanged proof is accepted");
    assert_eq!(proven.nonce.as_deref(), Some("n"));
    let mut runner = TestRunner::new(ProptestConfig::with_cases(256));
    runner
        .run(&(any::<usize>(), any::<u8>()), |(at, with)| {
            let t = flip(&proof, at, with);
            prop_assert!(verify_proof(&t, PUBLIC_URL, NOW).is_err(), "{t}");
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // Any claims, signed: accepted only for our audience and a fresh iat.
    runner
        .run(&json_value(), |claims| {
            let t = forge(&k, header.as_bytes(), claims.to_string().as_bytes());
            if verify_proof(&t, PUBLIC_URL, NOW).is_ok() {
                let aud = &claims["aud"];
                prop_assert!(
                    aud == PUBLIC_URL
                        || aud
                            .as_array()
                            .is_some_and(|a| a.iter().any(|x| x == PUBLIC_URL))
                );
                prop_assert!(
                    claims["iat"]
                        .as_i64()
                        .is_some_and(|i| (NOW - 300..=NOW + 60).contains(&i))
                );
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    runner
        .run(&token_text(), |t| {
            prop_assert!(verify_proof(&t, PUBLIC_URL, NOW).is_err());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// An app whose verifier reaches no other host.
async fn offline_app() -> TestApp {
    let mut app = TestApp::new().await;
    app.state.set_remote(Arc::new(Remote::offline()));
    app.router = accolade::http::router(app.state.clone());
    app
}

async fn post(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, Bytes) {
    let mut b = Request::builder().method(Method::POST).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let (s, _, bytes) = app.send(b.body(Body::from(body)).expect("request")).await;
    (s, bytes)
}

/// A body for an endpoint that reads JSON or a form: JSON of any shape, form pairs,
/// or bytes.
fn request_body() -> impl Strategy<Value = Vec<u8>> {
    let names = proptest::sample::select(
        &[
            "grant_type",
            "pre-authorized_code",
            "tx_code",
            "user_pin",
            "refresh_token",
            "authorization_details",
            "credential_configuration_id",
            "credential_identifier",
            "format",
            "proof",
            "proofs",
            "vp_token",
            "state",
            "presentation_submission",
            "error",
        ][..],
    );
    prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        proptest::collection::vec(
            (
                names,
                prop_oneof![word(), json_value().prop_map(|v| v.to_string())]
            ),
            0..5
        )
        .prop_map(|pairs| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes()
        }),
        bytes(200),
    ]
}

#[test]
fn openid4vci_request_bodies_get_oauth_errors_never_server_errors() {
    let rt = runtime();
    let (app, token) = rt.block_on(async {
        let app = offline_app().await;
        let a = app.create_achievement().await;
        let (s, award) = app
            .admin(
                Method::POST,
                "/api/v1/awards",
                Some(json!({"achievement_id": a["id"], "recipient": {"name": "Grace Hopper", "email": "grace@example.org"}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{award}");
        let uri = url::Url::parse(award["offer_uri"].as_str().expect("offer_uri")).expect("uri");
        let by_ref = uri
            .query_pairs()
            .find(|(k, _)| k == "credential_offer_uri")
            .expect("by reference")
            .1
            .into_owned();
        let (_, offer) = app
            .call(Method::GET, by_ref.strip_prefix(PUBLIC_URL).expect("ours"), None, false)
            .await;
        let pre = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", pre);
        form.append_pair("pre-authorized_code", offer["grants"][pre]["pre-authorized_code"].as_str().expect("code"));
        if let Some(tx) = award["tx_code"].as_str() {
            form.append_pair("tx_code", tx);
        }
        let (s, body) = post(
            &app,
            "/oid4vci/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            form.finish().into_bytes(),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        let t: Value = serde_json::from_slice(&body).expect("json");
        let token = t["access_token"].as_str().expect("token").to_owned();
        (app, token)
    });
    let bearer = format!("Bearer {token}");
    let mut runner = TestRunner::new(ProptestConfig::with_cases(96));
    runner
        .run(&(0usize..5, request_body()), |(endpoint, body)| {
            let (path, headers): (&str, Vec<(&str, &str)>) = match endpoint {
                0 => (
                    "/oid4vci/token",
                    vec![("content-type", "application/x-www-form-urlencoded")],
                ),
                1 => ("/oid4vci/token", vec![("content-type", "application/json")]),
                2 => (
                    "/oid4vci/credential",
                    vec![
                        ("authorization", &bearer),
                        ("content-type", "application/json"),
                    ],
                ),
                3 => (
                    "/oid4vci/deferred",
                    vec![
                        ("authorization", &bearer),
                        ("content-type", "application/json"),
                    ],
                ),
                _ => (
                    "/oid4vci/notification",
                    vec![
                        ("authorization", &bearer),
                        ("content-type", "application/json"),
                    ],
                ),
            };
            let (s, answer) = rt.block_on(post(&app, path, &headers, body));
            prop_assert!(
                !s.is_server_error(),
                "{}: {}",
                s,
                String::from_utf8_lossy(&answer)
            );
            prop_assert_ne!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&answer));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn openid4vp_answers_nobody_proved_never_verify_a_request() {
    let rt = runtime();
    let verifier = offline();
    let (app, dcql, pe) = rt.block_on(async {
        let app = offline_app().await;
        let ttl = accolade::oid4vp::MAX_TTL;
        let dcql = app
            .state
            .oid4vp
            .create(NewRequest {
                max_ttl: ttl,
                expires_in: Some(ttl),
                ..NewRequest::default()
            })
            .await
            .expect("dcql request");
        let pe = app
            .state
            .oid4vp
            .create(NewRequest {
                legacy: true,
                max_ttl: ttl,
                expires_in: Some(ttl),
                ..NewRequest::default()
            })
            .await
            .expect("presentation exchange request");
        (app, dcql, pe)
    });
    let k = issuer_key();
    let badge = badge_with(&k, |_| {});
    let token = prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        word(),
        Just(json!({"badge": [&badge]}).to_string()),
        Just(json!([&badge]).to_string()),
        Just(badge),
        json_value().prop_map(|v| json!({"badge": [v]}).to_string()),
    ];
    let submission = proptest::option::of(prop_oneof![
        json_value().prop_map(|v| v.to_string()),
        json_value().prop_map(|v| json!({"definition_id": "x", "descriptor_map": [v]}).to_string()),
    ]);
    let mut runner = TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(
            &(any::<bool>(), any::<bool>(), token, submission),
            |(legacy, route, token, submission)| {
                let rec = if legacy { &pe } else { &dcql };
                if route {
                    let mut form = url::form_urlencoded::Serializer::new(String::new());
                    form.append_pair("vp_token", &token);
                    form.append_pair("state", &rec.oauth_state);
                    if let Some(s) = &submission {
                        form.append_pair("presentation_submission", s);
                    }
                    let path = format!("{RESPONSE_PATH}/{}", rec.tx);
                    let (s, answer) = rt.block_on(post(
                        &app,
                        &path,
                        &[("content-type", "application/x-www-form-urlencoded")],
                        form.finish().into_bytes(),
                    ));
                    prop_assert!(
                        !s.is_server_error(),
                        "{}: {}",
                        s,
                        String::from_utf8_lossy(&answer)
                    );
                } else {
                    let form = ResponseForm {
                        vp_token: Some(token.clone()),
                        presentation_submission: submission,
                        state: Some(rec.oauth_state.clone()),
                        error: None,
                        error_description: None,
                    };
                    let _ = rt.block_on(app.state.oid4vp.respond(&verifier, rec.id, &form));
                }
                let now = rt
                    .block_on(app.state.oid4vp.get(rec.id))
                    .expect("the request");
                prop_assert_ne!(app.state.oid4vp.state(&now), State::Verified, "{}", token);
                // The same text as a presentation on its own.
                let v = serde_json::from_str::<Value>(&token).unwrap_or(Value::String(token));
                let _ = read_presentation(&v);
                let opts = PresentationOptions {
                    challenge: Some(rec.nonce.clone()),
                    domain: Some(app.state.oid4vp.client_id(rec)),
                    unsigned: false,
                    holder_binding: true,
                };
                if let Ok(r) = rt.block_on(verifier.verify_presentation(&v, &opts)) {
                    prop_assert!(!r.verified);
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------
// 8. CSV award uploads

fn csv_text(achievement: String) -> impl Strategy<Value = Vec<u8>> {
    let header = proptest::collection::vec(
        proptest::sample::select(
            &[
                "achievement_id",
                "name",
                "email",
                "id",
                "valid_until",
                "valid_from",
                "delivery",
                "ACHIEVEMENT_ID",
                "extra",
                "",
            ][..],
        ),
        0..6,
    );
    let cell = prop_oneof![
        Just(achievement),
        proptest::sample::select(
            &[
                "ada@example.org",
                "not-an-address",
                "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
                "2030-01-01T00:00:00Z",
                "yesterday",
                "direct",
                "offer",
                "email",
                "pigeon",
                "\"quoted, with comma\"",
                "\"unterminated",
                "",
            ][..],
        )
        .prop_map(str::to_owned),
        "\\PC{0,16}",
    ];
    let row = proptest::collection::vec(cell, 0..7);
    (header, proptest::collection::vec(row, 0..6), any::<bool>()).prop_map(|(h, rows, crlf)| {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut out = h.join(",");
        for r in rows {
            out.push_str(nl);
            out.push_str(&r.join(","));
        }
        out.into_bytes()
    })
}

#[test]
fn csv_award_uploads_get_row_errors_never_server_errors() {
    let rt = runtime();
    let (app, achievement) = rt.block_on(async {
        let app = offline_app().await;
        let a = app.create_achievement().await;
        let id = a["id"].as_str().expect("id").to_owned();
        (app, id)
    });
    let auth = format!("Bearer {TOKEN}");
    let mut runner = TestRunner::new(ProptestConfig::with_cases(96));
    runner
        .run(
            &(
                prop_oneof![3 => csv_text(achievement), 1 => bytes(300)],
                0usize..3,
            ),
            |(body, delivery)| {
                let path = match delivery {
                    0 => "/api/v1/awards/batch?dry_run=true",
                    1 => "/api/v1/awards/batch?dry_run=true&delivery=offer",
                    _ => "/api/v1/awards/batch?dry_run=true&delivery=pigeon",
                };
                let (s, answer) = rt.block_on(post(
                    &app,
                    path,
                    &[
                        ("authorization", &auth),
                        (header::CONTENT_TYPE.as_str(), "text/csv"),
                    ],
                    body,
                ));
                prop_assert!(
                    !s.is_server_error(),
                    "{}: {}",
                    s,
                    String::from_utf8_lossy(&answer)
                );
                if s == StatusCode::OK {
                    let v: Value = serde_json::from_slice(&answer).expect("json");
                    prop_assert_eq!(&v["dry_run"], &json!(true));
                    let results = v["results"].as_array().expect("results");
                    prop_assert!(
                        results.iter().all(|r| r["credential_id"].is_null()),
                        "a dry run awarded: {}",
                        v
                    );
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
}
