//! Staff passwords, hashed with Argon2id.
//!
//! Parameters, the minimum recommended by the OWASP Password Storage Cheat
//! Sheet for Argon2id:
//!
//! - Argon2id (RFC 9106), version 0x13 (`v=19`);
//! - memory m = 19456 KiB (19 MiB), iterations t = 2, parallelism p = 1;
//! - a 16-byte random salt from the operating system, a 32-byte output;
//! - stored as a PHC string:
//!   `$argon2id$v=19$m=19456,t=2,p=1$<salt, base64>$<hash, base64>`.
//!
//! The PHC string carries its own parameters, so hashes made with other
//! parameters keep verifying; [`needs_rehash`] tells when a stored hash is
//! weaker than today's, so that it can be replaced on the next sign-in.
//!
//! Policy ([`check_policy`]): at least [`MIN_CHARS`] characters (Unicode
//! scalar values, `chars().count()`, with no normalisation applied), at
//! most [`MAX_BYTES`] bytes of UTF-8, and not only whitespace. There are no
//! composition rules (NIST SP 800-63B §3.1.1.2).

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;

/// The fewest characters a password may have.
pub const MIN_CHARS: usize = 12;
/// The most bytes (UTF-8) a password may have.
pub const MAX_BYTES: usize = 1024;

/// Argon2 memory cost, in KiB (19 MiB).
const M_COST: u32 = 19_456;
/// Argon2 iterations.
const T_COST: u32 = 2;
/// Argon2 parallelism.
const P_COST: u32 = 1;
/// Length of the hash output, in bytes.
const OUTPUT_LEN: usize = 32;
/// Length of the salt, in bytes.
const SALT_LEN: usize = 16;

/// A valid hash (of a random password nobody knows, with today's
/// parameters), used by [`dummy_hash`] should hashing ever fail at start.
const FALLBACK_DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$plSneep1QoxJixeblcgP0A$9dKrzL42QXrztoHTxqQwArqpPrewuqNm9lGwMKM2XAU";

/// Why a password was refused or could not be hashed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Fewer than [`MIN_CHARS`] characters.
    #[error("a password needs at least {MIN_CHARS} characters")]
    TooShort,
    /// More than [`MAX_BYTES`] bytes.
    #[error("a password may be at most {MAX_BYTES} bytes")]
    TooLong,
    /// Only whitespace.
    #[error("a password cannot be only spaces")]
    Blank,
    /// The hasher failed (not expected with valid parameters).
    #[error("hashing the password: {0}")]
    Hash(String),
}

/// Checks the password policy: at least [`MIN_CHARS`] characters, at most
/// [`MAX_BYTES`] bytes, not only whitespace.
pub fn check_policy(password: &str) -> Result<(), Error> {
    if password.len() > MAX_BYTES {
        return Err(Error::TooLong);
    }
    if password.chars().count() < MIN_CHARS {
        return Err(Error::TooShort);
    }
    if password.chars().all(char::is_whitespace) {
        return Err(Error::Blank);
    }
    Ok(())
}

/// The hasher with today's parameters.
fn hasher() -> Result<Argon2<'static>, Error> {
    let params = Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN))
        .map_err(|e| Error::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks the policy, then hashes: the PHC string ($argon2id$v=19$m=19456,t=2,p=1$...).
pub fn hash(password: &str) -> Result<String, Error> {
    check_policy(password)?;
    hash_unchecked(password)
}

/// Hashes with today's parameters and a fresh 16-byte salt, without the
/// policy check.
fn hash_unchecked(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    let hashed = hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| Error::Hash(e.to_string()))?;
    Ok(hashed.to_string())
}

/// Constant-time verify against a PHC string; false on any malformed hash.
///
/// The parameters (and algorithm) are those recorded in the PHC string, so
/// hashes made with older parameters still verify; the output comparison
/// is constant-time (`password_hash::Output`).
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A hash of a random password, to verify against when the account does not exist, so that timing does not tell whether an e-mail has an account.
///
/// Computed once, with today's parameters, on first use.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let password = STANDARD_NO_PAD.encode(bytes);
        hash_unchecked(&password).unwrap_or_else(|_| FALLBACK_DUMMY_HASH.to_owned())
    })
}

/// Whether a stored hash uses weaker parameters than today's (to rehash on sign-in).
///
/// True when the hash is not Argon2id version 0x13, or its memory cost,
/// iterations, output or salt are smaller than today's; also true for a
/// malformed hash. Stronger parameters do not call for a rehash.
pub fn needs_rehash(phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    if parsed.version != Some(Version::V0x13.into()) {
        return true;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    let output_len = parsed.hash.map_or(0, |h| h.len());
    let mut salt_buf = [0u8; 64];
    let salt_len = parsed
        .salt
        .and_then(|s| s.decode_b64(&mut salt_buf).ok())
        .map_or(0, <[u8]>::len);
    params.m_cost() < M_COST
        || params.t_cost() < T_COST
        || output_len < OUTPUT_LEN
        || salt_len < SALT_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

    #[test]
    fn policy_length_edges() {
        assert_eq!(check_policy("abcdefghijk"), Err(Error::TooShort));
        assert_eq!(check_policy("abcdefghijkl"), Ok(()));
        assert_eq!(check_policy(""), Err(Error::TooShort));
        // Multibyte characters count as one each: 11 × 'é' (22 bytes) is
        // too short, 12 × '🔑' (48 bytes) is enough.
        assert_eq!(check_policy(&"é".repeat(11)), Err(Error::TooShort));
        assert_eq!(check_policy(&"🔑".repeat(12)), Ok(()));
        // Combining marks are scalar values of their own (no NFC).
        assert_eq!(check_policy(&"e\u{301}".repeat(6)), Ok(()));
        assert_eq!(check_policy(&"a".repeat(MAX_BYTES)), Ok(()));
        assert_eq!(
            check_policy(&"a".repeat(MAX_BYTES + 1)),
            Err(Error::TooLong)
        );
        // Bytes, not characters: 257 × '🔑' is 1028 bytes.
        assert_eq!(check_policy(&"🔑".repeat(257)), Err(Error::TooLong));
        assert_eq!(check_policy(&"🔑".repeat(256)), Ok(()));
    }

    #[test]
    fn policy_refuses_blank() {
        assert_eq!(check_policy(&" ".repeat(12)), Err(Error::Blank));
        assert_eq!(check_policy(&" \t\n\u{3000}".repeat(4)), Err(Error::Blank));
        assert_eq!(check_policy("   correct horse   "), Ok(()));
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            Error::TooShort.to_string(),
            "a password needs at least 12 characters"
        );
        assert_eq!(
            Error::TooLong.to_string(),
            "a password may be at most 1024 bytes"
        );
    }

    #[test]
    fn hash_refuses_policy_violations() {
        assert_eq!(hash("short"), Err(Error::TooShort));
        assert_eq!(hash(&" ".repeat(20)), Err(Error::Blank));
    }

    #[test]
    fn hash_and_verify() {
        let password = "correct horse battery staple";
        let phc = hash(password).expect("hash");
        assert!(phc.starts_with(PREFIX), "{phc}");
        let parsed = PasswordHash::new(&phc).expect("PHC string");
        assert_eq!(parsed.hash.expect("output").len(), OUTPUT_LEN);
        let mut salt = [0u8; 64];
        let salt = parsed
            .salt
            .expect("salt")
            .decode_b64(&mut salt)
            .expect("b64");
        assert_eq!(salt.len(), SALT_LEN);

        assert!(verify(password, &phc));
        assert!(!verify("correct horse battery stapler", &phc));
        assert!(!verify("", &phc));
        assert!(!needs_rehash(&phc));
    }

    #[test]
    fn same_password_different_salts() {
        let password = "the same password twice";
        let a = hash(password).expect("hash");
        let b = hash(password).expect("hash");
        assert_ne!(a, b);
        assert!(verify(password, &a));
        assert!(verify(password, &b));
    }

    #[test]
    fn verify_refuses_malformed_hashes() {
        let password = "correct horse battery staple";
        let phc = hash(password).expect("hash");
        let truncated = &phc[..phc.len() - 10];
        let bad_params = phc.replace("t=2", "t=zz");
        for bad in [
            "",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            truncated,
            &bad_params,
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
        ] {
            assert!(!verify(password, bad), "{bad:?}");
            assert!(needs_rehash(bad), "{bad:?}");
        }
    }

    #[test]
    fn verify_accepts_other_parameters_and_flags_them() {
        let password = "correct horse battery staple";
        let salt = SaltString::generate(&mut OsRng);
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, T_COST, P_COST, Some(OUTPUT_LEN)).expect("params"),
        )
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string();
        assert!(weak.starts_with("$argon2id$v=19$m=4096,t=2,p=1$"), "{weak}");
        assert!(verify(password, &weak));
        assert!(!verify("wrong password here", &weak));
        assert!(needs_rehash(&weak));

        let one_pass = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(M_COST, 1, P_COST, Some(OUTPUT_LEN)).expect("params"),
        )
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string();
        assert!(needs_rehash(&one_pass));

        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)).expect("params"),
        )
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string();
        assert!(verify(password, &argon2i));
        assert!(needs_rehash(&argon2i));

        let stronger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(2 * M_COST, 3, P_COST, Some(OUTPUT_LEN)).expect("params"),
        )
        .hash_password(password.as_bytes(), &salt)
        .expect("hash")
        .to_string();
        assert!(verify(password, &stronger));
        assert!(!needs_rehash(&stronger));
    }

    #[test]
    fn dummy_hash_is_a_current_hash() {
        let dummy = dummy_hash();
        assert!(dummy.starts_with(PREFIX), "{dummy}");
        assert!(std::ptr::eq(dummy, dummy_hash()), "computed once");
        assert!(!needs_rehash(dummy));
        assert!(!verify("correct horse battery staple", dummy));
    }

    #[test]
    fn fallback_dummy_hash_is_a_current_hash() {
        assert!(FALLBACK_DUMMY_HASH.starts_with(PREFIX));
        assert!(PasswordHash::new(FALLBACK_DUMMY_HASH).is_ok());
        assert!(!needs_rehash(FALLBACK_DUMMY_HASH));
        assert!(!verify("correct horse battery staple", FALLBACK_DUMMY_HASH));
    }
}
