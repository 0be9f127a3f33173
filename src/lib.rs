//! accolade: an Open Badges 3.0 credential service.
//!
//! Institutions describe achievements and award them; each award becomes a W3C
//! Verifiable Credential signed as a JWT (OB 3.0 §8.2) by the institution's `did:web`
//! identity, and anyone can verify it against the published DID document.
//!
//! # Layout
//! - [`clock`]: the injected clock and the date formats badges use.
//! - [`model`]: Open Badges 3.0 types and JSON Schema validation.
//! - [`jose`]: keys, JWKs, strict compact JWS, credential ↔ JWT claims.
//! - [`did`]: `Did`/`DidUrl`, did:web derivation and documents, did:key.
//! - [`records`]: the records the service keeps (awards, achievements, tokens,
//!   presentation requests, registry entries, partner keys), plain data.
//! - [`status`]: Bitstring Status Lists: slots, bits, URLs, the lists in memory.
//! - [`store`]: repository traits (`Awards`, `Offers`, `StatusLists`, ...) and the
//!   embedded store that implements them; grouped flushes, upgrades of older data
//!   directories.
//! - [`issue`]: achievements, awards, signing, revocation and suspension.
//! - [`oid4vci`]: OpenID4VCI: metadata, tokens, nonces, proofs, the credential endpoint.
//! - [`verify`]: the verification pipeline and its report.
//! - [`trust`]: the trust registry of issuers the verifier vouches for or refuses.
//! - [`partner`]: partner API keys for the verifier API: secrets, limits, usage.
//! - [`images`]: badge images: upload checks, the SVG sanitiser, the generated design, PNG
//!   renditions.
//! - [`catalogue`]: badge types, where achievements sit, page visibility, uploaded
//!   images and the art a badge is drawn with.
//! - [`earners`]: earners' manage links, their badges, and published profiles.
//! - [`views`]: what each public page shows (catalogue, achievement, badge, claim,
//!   earner, profile, verify).
//! - [`http`], [`cli`]: the thin outer layers; page templates live in `http`.

// JSON-LD types of the Data Integrity stack nest deeply: proving a verification
// future `Send` needs more than the default recursion depth.
#![recursion_limit = "256"]

pub mod app;
pub mod bake;
pub mod bench;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod did;
pub mod earners;
pub mod http;
pub mod images;
pub mod integrity;
pub mod issue;
pub mod jose;
pub mod keyring;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod net;
pub mod notice;
pub mod oid4vci;
pub mod oid4vp;
pub mod partner;
pub mod qr;
pub mod records;
pub mod staff;
pub mod stats;
pub mod status;
pub mod store;
pub mod trust;
pub mod verify;
pub mod views;
