//! Verification of bearer tokens issued by an organisation's IdP (what Outlook's SSO hands an
//! add-in): a JWT access token signed with a key from the IdP's JWKS.
//!
//! Security invariants kept here:
//! - the algorithm comes from an allow-list matched to the *key type* of the JWKS entry named
//!   by `kid`: RSA keys → RS*/PS*, EC keys → ES256/ES384, OKP → EdDSA. `none` never parses
//!   and HMAC (`HS*`) is never accepted, so a token "signed" with the IdP's public key as an
//!   HMAC secret is refused (algorithm confusion);
//! - a `kid` is required; unknown `kid`s cause one rate-limited JWKS refresh (see [`super::idp`]);
//! - `iss` must equal the configured issuer, `aud` must be one of the configured audiences,
//!   `exp`, `nbf` (when present) are checked with a small leeway, `sub` must be present.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::idp::{IdpDirectory, IdpError, IdpSettings};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Why an IdP bearer token was refused. The text is safe for a `WWW-Authenticate`
/// `error_description`: it never echoes token content.
#[derive(Debug, thiserror::Error)]
pub enum IdpTokenError {
    /// Not a JWT, or its header does not parse (this includes `alg: none`).
    #[error("malformed token")]
    Malformed,
    /// The header has no `kid`.
    #[error("token has no key id")]
    NoKeyId,
    /// The algorithm is not allowed for the key (e.g. HS256 against an RSA key).
    #[error("algorithm not allowed")]
    Algorithm,
    /// The key is not (or no longer) published by the issuer.
    #[error("unknown signing key")]
    UnknownKey,
    /// Signature, issuer, audience, expiry, not-before or a required claim failed.
    #[error("token rejected: {0}")]
    Rejected(&'static str),
    /// The provider could not be reached.
    #[error("identity provider unavailable")]
    Provider(#[source] IdpError),
}

/// The `iss` claim, read *without* verification, only to find which organisation's settings
/// must verify the token. Nothing else may be trusted before [`verify`].
pub fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// `true` when `alg` may be used with `jwk`. Never an HMAC algorithm: JWKS keys are public.
pub fn algorithm_allowed(jwk: &Jwk, alg: Algorithm) -> bool {
    use Algorithm::*;
    if let Some(declared) = jwk.common.key_algorithm {
        // A key that declares its algorithm is only valid with that one.
        if format!("{declared:?}") != format!("{alg:?}") {
            return false;
        }
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
        AlgorithmParameters::EllipticCurve(p) => {
            matches!(
                (&p.curve, alg),
                (EllipticCurve::P256, ES256) | (EllipticCurve::P384, ES384)
            )
        }
        AlgorithmParameters::OctetKeyPair(_) => alg == EdDSA,
        AlgorithmParameters::OctetKey(_) => false,
    }
}

/// Verifies `token` against `jwk` for `settings`; returns the claims.
pub fn verify_with_key(
    token: &str,
    jwk: &Jwk,
    settings: &IdpSettings,
) -> Result<Map<String, Value>, IdpTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdpTokenError::Malformed)?;
    if !algorithm_allowed(jwk, header.alg) {
        return Err(IdpTokenError::Algorithm);
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| IdpTokenError::UnknownKey)?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[settings.issuer.as_str()]);
    validation.set_audience(&settings.bearer_audiences());
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map_err(|e| reject(&e))?;
    Ok(data.claims)
}

/// Verifies an IdP bearer token for `settings`, fetching (or refreshing) the issuer's keys.
pub async fn verify(
    directory: &IdpDirectory,
    settings: &IdpSettings,
    token: &str,
) -> Result<Map<String, Value>, IdpTokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| IdpTokenError::Malformed)?;
    let kid = header.kid.ok_or(IdpTokenError::NoKeyId)?;
    let (_, jwk) = directory
        .key(&settings.issuer, &kid)
        .await
        .map_err(|e| match e {
            IdpError::UnknownKid => IdpTokenError::UnknownKey,
            other => IdpTokenError::Provider(other),
        })?;
    verify_with_key(token, &jwk, settings)
}

fn reject(err: &jsonwebtoken::errors::Error) -> IdpTokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    IdpTokenError::Rejected(match err.kind() {
        K::InvalidSignature => "bad signature",
        K::ExpiredSignature => "expired",
        K::ImmatureSignature => "not yet valid",
        K::InvalidIssuer => "wrong issuer",
        K::InvalidAudience => "wrong audience",
        K::MissingRequiredClaim(_) => "missing claim",
        K::InvalidAlgorithm | K::InvalidAlgorithmName => "algorithm not allowed",
        _ => "invalid token",
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::auth::idp::ClaimMapping;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    // Committed test-only keys of the test OpenID provider (tests/oidc/keys).
    const IDP_KEY: &str = include_str!("../../../tests/oidc/keys/acme-1.pem");
    const ROGUE_KEY: &str = include_str!("../../../tests/oidc/keys/rogue-1.pem");

    /// The public JWK of a PEM private key, as the IdP would publish it.
    fn public_jwk(pem: &str, kid: &str) -> Jwk {
        let enc = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.into());
        jwk
    }

    fn settings() -> IdpSettings {
        IdpSettings {
            org_id: "org".into(),
            issuer: "https://idp.acme.test".into(),
            client_id: "pecdesk".into(),
            client_secret: None,
            scopes: vec![],
            claims: ClaimMapping::default(),
            allowed_domains: vec![],
            audiences: vec!["api://pecdesk".into()],
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.acme.test", "aud": "api://pecdesk", "sub": "u1", "exp": now() + 300, "iat": now()})
    }

    fn sign(pem: &str, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(
            &header,
            claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn check(token: &str) -> Result<Map<String, Value>, IdpTokenError> {
        verify_with_key(token, &public_jwk(IDP_KEY, "acme-1"), &settings())
    }

    #[test]
    fn a_well_formed_idp_token_verifies() {
        let out = check(&sign(IDP_KEY, "acme-1", &claims())).unwrap();
        assert_eq!(out["sub"], "u1");
        assert_eq!(
            unverified_issuer(&sign(IDP_KEY, "acme-1", &claims())).as_deref(),
            Some("https://idp.acme.test")
        );
    }

    #[test]
    fn wrong_issuer_audience_expiry_and_not_before_are_rejected() {
        let cases = [
            ("iss", json!("https://evil.test"), "wrong issuer"),
            ("aud", json!("someone-else"), "wrong audience"),
            ("exp", json!(now() - 600), "expired"),
            ("nbf", json!(now() + 600), "not yet valid"),
        ];
        for (claim, value, why) in cases {
            let mut c = claims();
            c[claim] = value;
            match check(&sign(IDP_KEY, "acme-1", &c)) {
                Err(IdpTokenError::Rejected(reason)) => assert_eq!(reason, why, "{claim}"),
                other => panic!("{claim}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_token_without_subject_is_rejected() {
        let mut c = claims();
        c.as_object_mut().unwrap().remove("sub");
        assert!(matches!(
            check(&sign(IDP_KEY, "acme-1", &c)),
            Err(IdpTokenError::Rejected("missing claim"))
        ));
    }

    #[test]
    fn a_token_signed_by_another_key_is_rejected() {
        let forged = sign(ROGUE_KEY, "acme-1", &claims());
        assert!(matches!(
            check(&forged),
            Err(IdpTokenError::Rejected("bad signature"))
        ));
    }

    #[test]
    fn alg_none_and_hs256_with_the_public_key_are_rejected() {
        use base64::Engine as _;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "kid": "acme-1"})),
            b64(&claims())
        );
        assert!(matches!(check(&none), Err(IdpTokenError::Malformed)));

        // HS256 keyed with the RSA public key's bytes (the classic confusion attack).
        let jwk = public_jwk(IDP_KEY, "acme-1");
        let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
            panic!()
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("acme-1".into());
        let hs = jsonwebtoken::encode(
            &header,
            &claims(),
            &EncodingKey::from_secret(rsa.n.as_bytes()),
        )
        .unwrap();
        assert!(matches!(check(&hs), Err(IdpTokenError::Algorithm)));
    }

    #[test]
    fn a_tampered_payload_is_rejected() {
        use base64::Engine as _;
        let token = sign(IDP_KEY, "acme-1", &claims());
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut c = claims();
        c["sub"] = json!("admin");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string());
        assert!(matches!(
            check(&parts.join(".")),
            Err(IdpTokenError::Rejected("bad signature"))
        ));
    }

    #[test]
    fn hmac_keys_in_a_jwks_are_never_usable() {
        let jwk: Jwk =
            serde_json::from_value(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "x"})).unwrap();
        assert!(!algorithm_allowed(&jwk, Algorithm::HS256));
        assert!(!algorithm_allowed(
            &public_jwk(IDP_KEY, "k"),
            Algorithm::HS256
        ));
        assert!(algorithm_allowed(
            &public_jwk(IDP_KEY, "k"),
            Algorithm::RS256
        ));
    }
}
