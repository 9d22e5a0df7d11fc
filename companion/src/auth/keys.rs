//! The keys that sign the companion's own access tokens, with rotation.
//!
//! Only the companion verifies its access tokens, so a symmetric HS256 key is enough: each
//! key is 32 random bytes with a key id (`kid`) that travels in the token header. The key
//! ring holds the current key (signs) and the previous ones still inside their grace period
//! (verify only), so rotating never logs anybody out. A `kid` the ring does not hold is
//! refused; the ring never falls back to "try every key". Keys are stored sealed with the
//! master key ([`super::secrets`]).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One HS256 signing key.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id, written in each token header.
    pub kid: String,
    secret: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key with a random `kid`.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self {
            kid: format!("pd-{}", uuid::Uuid::new_v4().simple()),
            secret,
        }
    }

    /// A key from stored parts.
    pub fn from_parts(kid: String, secret: [u8; 32]) -> Self {
        Self { kid, secret }
    }

    /// The raw secret (to seal it for storage).
    pub fn secret_bytes(&self) -> &[u8; 32] {
        &self.secret
    }
}

/// Why a companion token did not verify.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not a JWT, or not HS256, or no `kid`.
    #[error("malformed token")]
    Malformed,
    /// The `kid` is not in the ring (never was ours, or retired past its grace period).
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature or claims invalid (expired, wrong issuer or audience...).
    #[error("invalid token: {0}")]
    Invalid(String),
    /// The ring has no key to sign with.
    #[error("no signing key")]
    Empty,
}

/// The current key first, then older keys that still verify.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<SigningKey>,
}

impl KeyRing {
    /// A ring whose first key signs.
    pub fn new(keys: Vec<SigningKey>) -> Self {
        Self { keys }
    }

    /// The key that signs new tokens.
    pub fn current(&self) -> Option<&SigningKey> {
        self.keys.first()
    }

    /// `true` when `kid` is one of ours (used to route a bearer token).
    pub fn knows(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid == kid)
    }

    /// Signs `claims` with the current key (HS256, `kid` in the header, `typ` = `at+jwt`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let key = self.current().ok_or(KeyError::Empty)?;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(&key.secret))
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }

    /// Verifies a token signed by a key of the ring. `validation` sets issuer, audience and
    /// required claims; its algorithm list is forced to HS256 here.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, KeyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| KeyError::Malformed)?;
        if header.alg != Algorithm::HS256 {
            return Err(KeyError::Malformed);
        }
        let kid = header.kid.ok_or(KeyError::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(KeyError::UnknownKey)?;
        let mut validation = validation.clone();
        validation.algorithms = vec![Algorithm::HS256];
        jsonwebtoken::decode::<T>(token, &DecodingKey::from_secret(&key.secret), &validation)
            .map(|d| d.claims)
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn validation() -> Validation {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&["pecdesk"]);
        v.set_audience(&["pecdesk"]);
        v
    }

    fn claims() -> Value {
        json!({"iss": "pecdesk", "aud": "pecdesk", "sub": "u", "exp": chrono::Utc::now().timestamp() + 60})
    }

    #[test]
    fn a_token_signed_before_rotation_still_verifies_after_it() {
        let old = SigningKey::generate();
        let token = KeyRing::new(vec![old.clone()]).sign(&claims()).unwrap();
        let rotated = KeyRing::new(vec![SigningKey::generate(), old]);
        let out: Value = rotated.verify(&token, &validation()).unwrap();
        assert_eq!(out["sub"], "u");
        let new_token = rotated.sign(&claims()).unwrap();
        assert_ne!(
            jsonwebtoken::decode_header(&new_token).unwrap().kid,
            jsonwebtoken::decode_header(&token).unwrap().kid
        );
    }

    #[test]
    fn a_token_of_a_retired_or_foreign_key_is_refused() {
        let token = KeyRing::new(vec![SigningKey::generate()])
            .sign(&claims())
            .unwrap();
        let ring = KeyRing::new(vec![SigningKey::generate()]);
        assert!(matches!(
            ring.verify::<Value>(&token, &validation()),
            Err(KeyError::UnknownKey)
        ));
    }

    #[test]
    fn a_forged_kid_with_another_secret_is_refused() {
        let ours = SigningKey::generate();
        let forged = SigningKey::from_parts(ours.kid.clone(), [7u8; 32]);
        let token = KeyRing::new(vec![forged]).sign(&claims()).unwrap();
        let ring = KeyRing::new(vec![ours]);
        assert!(matches!(
            ring.verify::<Value>(&token, &validation()),
            Err(KeyError::Invalid(_))
        ));
    }

    #[test]
    fn an_empty_ring_signs_nothing() {
        assert!(matches!(
            KeyRing::default().sign(&claims()),
            Err(KeyError::Empty)
        ));
        assert!(!format!("{:?}", SigningKey::generate()).contains("secret"));
    }
}
