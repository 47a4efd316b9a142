//! Relay's request signatures, checked as an upstream checks them.
//!
//! A Relay signs what it sends its upstream with its ed25519 key (getsentry/relay 26.9.0,
//! `relay-auth/src/lib.rs`, the source in PyPI's `sentry-relay` 0.10.1: `sign_with_header`,
//! `PublicKey::verify`, `verify_time`):
//!
//! ```text
//! X-Sentry-Relay-Signature: base64url(signature) "." base64url(header JSON)
//! header JSON:              {"t":"2026-12-06T22:40:00.123Z"}            ("a":"v1": prehashed)
//! signed message:           header JSON, a zero byte, the body          (v0, the default)
//!                           SHA-512 of the same, as Ed25519ph            (v1)
//! ```
//!
//! Keys are base64url without padding (32 bytes). A signature older than `max_age`
//! (`auth.signature_max_age`, 300 s by default: relay-config `config.rs`) or more than 15 s
//! in the future (`MAX_TIME_IN_FUTURE`) is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Digest, Sha512, Signature, Verifier, VerifyingKey};
use serde::Deserialize;
use std::time::{Duration, SystemTime};

/// Relay's default `auth.signature_max_age`.
pub const SIGNATURE_MAX_AGE: Duration = Duration::from_secs(300);
/// How far in the future a signature's time may be (`MAX_TIME_IN_FUTURE`).
const MAX_IN_FUTURE: Duration = Duration::from_secs(15);
/// The longest signature header read: a timestamp and an algorithm fit in far less.
const HEADER_LIMIT: usize = 512;

/// Why a signature was refused; every reason is a 401 (`SignatureError` in Relay's
/// `relay-server/src/extractors/signed_json.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The public key is not 32 base64url bytes of a valid point.
    #[error("malformed public key")]
    BadKey,
    /// Not `<signature>.<header>`, or either part does not decode.
    #[error("malformed signature")]
    Malformed,
    /// The signature does not verify against the key and the body.
    #[error("invalid relay signature")]
    Unverified,
    /// The signature's time is outside the allowed window.
    #[error("signature too old or in the future")]
    Expired,
}

#[derive(Deserialize)]
struct Header {
    t: String,
    #[serde(default)]
    a: Option<String>,
}

/// Parses a Relay public key.
pub fn parse_public_key(key: &str) -> Result<VerifyingKey, SignatureError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(key.trim())
        .map_err(|_| SignatureError::BadKey)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| SignatureError::BadKey)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureError::BadKey)
}

/// Checks `signature` over `body` against `key`, as of `now`.
pub fn verify(
    key: &VerifyingKey,
    body: &[u8],
    signature: &str,
    now: SystemTime,
    max_age: Duration,
) -> Result<(), SignatureError> {
    let (sig, header) = signature.split_once('.').ok_or(SignatureError::Malformed)?;
    if header.len() > HEADER_LIMIT * 4 / 3 + 4 {
        return Err(SignatureError::Malformed);
    }
    let sig = URL_SAFE_NO_PAD
        .decode(sig)
        .ok()
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(SignatureError::Malformed)?;
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| SignatureError::Malformed)?;
    let parsed: Header = serde_json::from_slice(&header).map_err(|_| SignatureError::Malformed)?;
    let verified = match parsed.a.as_deref() {
        None | Some("v0") => {
            let mut message = Vec::with_capacity(header.len() + 1 + body.len());
            message.extend_from_slice(&header);
            message.push(0);
            message.extend_from_slice(body);
            key.verify(&message, &sig)
        }
        Some("v1") => {
            let mut digest = Sha512::default();
            digest.update(&header);
            digest.update([0u8]);
            digest.update(body);
            key.verify_prehashed(digest, None, &sig)
        }
        Some(_) => return Err(SignatureError::Malformed),
    };
    verified.map_err(|_| SignatureError::Unverified)?;
    // chrono writes `…Z` with up to nine fractional digits.
    let signed_at = humantime::parse_rfc3339(&parsed.t)
        .or_else(|_| humantime::parse_rfc3339_weak(parsed.t.trim_end_matches('Z')))
        .map_err(|_| SignatureError::Malformed)?;
    match now.duration_since(signed_at) {
        Ok(age) if age > max_age => Err(SignatureError::Expired),
        Err(ahead) if ahead.duration() > MAX_IN_FUTURE => Err(SignatureError::Expired),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn sign(key: &SigningKey, body: &[u8], header: &str) -> String {
        let mut message = header.as_bytes().to_vec();
        message.push(0);
        message.extend_from_slice(body);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(key.sign(&message).to_bytes()),
            URL_SAFE_NO_PAD.encode(header)
        )
    }

    #[test]
    fn a_signature_holds_for_its_body_and_time_only() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public =
            parse_public_key(&URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes())).unwrap();
        let now = humantime::parse_rfc3339("2026-12-06T22:40:00Z").unwrap();
        let sig = sign(&key, b"{}", r#"{"t":"2026-12-06T22:39:00.5Z"}"#);
        assert_eq!(verify(&public, b"{}", &sig, now, SIGNATURE_MAX_AGE), Ok(()));
        assert_eq!(
            verify(&public, b"{ }", &sig, now, SIGNATURE_MAX_AGE),
            Err(SignatureError::Unverified)
        );
        let late = now + Duration::from_secs(600);
        assert_eq!(
            verify(&public, b"{}", &sig, late, SIGNATURE_MAX_AGE),
            Err(SignatureError::Expired)
        );
        for bad in ["", ".", "abc", "abc.def", &sig.replace('.', "")] {
            assert_eq!(
                verify(&public, b"{}", bad, now, SIGNATURE_MAX_AGE),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(parse_public_key("short"), Err(SignatureError::BadKey));
    }

    /// Relay's `v1` signatures: Ed25519ph over SHA-512 of the header, a zero byte and the body
    /// (`SignatureAlgorithm::Prehashed`, `create_digest`).
    #[test]
    fn a_prehashed_signature_verifies() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let header = r#"{"t":"2026-12-06T22:39:59Z","a":"v1"}"#;
        let mut digest = Sha512::default();
        digest.update(header.as_bytes());
        digest.update([0u8]);
        digest.update(b"body");
        let sig = key.sign_prehashed(digest, None).unwrap();
        let sig = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(sig.to_bytes()),
            URL_SAFE_NO_PAD.encode(header)
        );
        let now = humantime::parse_rfc3339("2026-12-06T22:40:00Z").unwrap();
        let public = key.verifying_key();
        assert_eq!(
            verify(&public, b"body", &sig, now, SIGNATURE_MAX_AGE),
            Ok(())
        );
        assert_eq!(
            verify(&public, b"bodz", &sig, now, SIGNATURE_MAX_AGE),
            Err(SignatureError::Unverified)
        );
        let early = humantime::parse_rfc3339("2026-12-06T22:39:30Z").unwrap();
        assert_eq!(
            verify(&public, b"body", &sig, early, SIGNATURE_MAX_AGE),
            Err(SignatureError::Expired),
            "30 s in the future"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Any header value and body is refused or accepted, never a panic; a signature
        /// made of parts that decode still has to verify.
        #[test]
        fn hostile_signatures_are_refused_without_panic(
            sig in "[A-Za-z0-9_.\\-]{0,200}",
            header in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let key = SigningKey::from_bytes(&[3; 32]).verifying_key();
            let now = SystemTime::now();
            proptest::prop_assert!(verify(&key, &body, &sig, now, SIGNATURE_MAX_AGE).is_err());
            let forged = format!("{}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]), URL_SAFE_NO_PAD.encode(&header));
            proptest::prop_assert!(verify(&key, &body, &forged, now, SIGNATURE_MAX_AGE).is_err());
        }
    }
}
