//! The companion as OpenID Connect relying party: authorization code flow with PKCE, `state`
//! and `nonce`, for the web desk and the Thunderbird extension.
//!
//! [`begin`] builds the provider's authorization URL and the three one-time secrets the
//! callback needs (`state` finds the pending sign-in and defeats CSRF, `nonce` binds the ID
//! token to this sign-in, the PKCE verifier binds the code to it). The caller stores them
//! server-side; none of them reaches the client except inside the provider's URL (`state`,
//! the verifier's *hash*). [`finish`] exchanges the code and verifies the ID token: signature
//! with the provider's JWKS (refreshed once on an unknown `kid`), `iss`, `aud`, `exp`, `nonce`.

use std::sync::Arc;

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};

use super::idp::{Discovered, IdpDirectory, IdpError, IdpSettings, error_chain};

/// A started sign-in: where to send the browser and what to remember for the callback.
#[derive(Debug)]
pub struct AuthStart {
    /// The provider's authorization URL (with `state`, `nonce`, PKCE challenge).
    pub url: String,
    /// CSRF `state`: the key of the pending sign-in.
    pub state: String,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier (kept server-side, sent only to the token endpoint).
    pub pkce_verifier: SecretString,
}

/// Why a sign-in failed. Messages are safe to log (no codes, no tokens).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Discovery, JWKS or configuration problem.
    #[error("identity provider: {0}")]
    Provider(String),
    /// The redirect URI is not a URL.
    #[error("invalid redirect URI")]
    RedirectUri,
    /// The token endpoint refused the code (expired, reused, wrong verifier...).
    #[error("code exchange refused: {0}")]
    Exchange(String),
    /// The token response has no ID token.
    #[error("no ID token in the token response")]
    NoIdToken,
    /// The ID token failed verification (signature, issuer, audience, expiry, nonce).
    #[error("ID token rejected: {0}")]
    IdToken(String),
}

impl From<IdpError> for OidcError {
    fn from(e: IdpError) -> Self {
        Self::Provider(e.to_string())
    }
}

/// Algorithms accepted on ID tokens: asymmetric only (the HMAC variants would use the client
/// secret as key, which a public client does not have and a confidential one should not risk).
const ID_TOKEN_ALGS: [CoreJwsSigningAlgorithm; 6] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

fn client(
    discovered: &Discovered,
    settings: &IdpSettings,
    redirect_uri: &str,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    OidcError,
> {
    let secret = settings
        .client_secret
        .as_ref()
        .map(|s| ClientSecret::new(s.expose_secret().to_owned()));
    let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(|_| OidcError::RedirectUri)?;
    Ok(CoreClient::from_provider_metadata(
        discovered.metadata.clone(),
        ClientId::new(settings.client_id.clone()),
        secret,
    )
    .set_redirect_uri(redirect))
}

/// Starts a sign-in at the organisation's provider.
pub fn begin(
    discovered: &Discovered,
    settings: &IdpSettings,
    redirect_uri: &str,
    login_hint: Option<&str>,
) -> Result<AuthStart, OidcError> {
    let client = client(discovered, settings, redirect_uri)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in settings
        .request_scopes()
        .into_iter()
        .filter(|s| s != "openid")
    {
        request = request.add_scope(Scope::new(scope));
    }
    if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
        request = request.add_extra_param("login_hint", hint.to_owned());
    }
    let (url, state, nonce) = request.url();
    Ok(AuthStart {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: SecretString::from(verifier.secret().clone()),
    })
}

/// Finishes a sign-in: exchanges `code` (with the PKCE verifier) and verifies the ID token
/// against `nonce`. Returns the ID token's claims.
pub async fn finish(
    directory: &IdpDirectory,
    settings: &IdpSettings,
    redirect_uri: &str,
    code: &str,
    pkce_verifier: &SecretString,
    nonce: &str,
) -> Result<Map<String, Value>, OidcError> {
    let discovered = directory.get(&settings.issuer).await?;
    let client = client(&discovered, settings, redirect_uri)?;
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| OidcError::Provider(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(
            pkce_verifier.expose_secret().to_owned(),
        ))
        .request_async(directory.http())
        .await
        .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
    let id_token = openidconnect::TokenResponse::id_token(&response)
        .ok_or(OidcError::NoIdToken)?
        .clone();
    match verify_id_token(&discovered, settings, redirect_uri, &id_token, nonce) {
        Err(IdTokenFailure::UnknownKey) => {
            // The provider may have rotated its keys since we cached them.
            let refreshed = directory
                .refresh_for_unknown_key(&settings.issuer)
                .await?
                .ok_or_else(|| OidcError::IdToken("unknown signing key".into()))?;
            verify_id_token(&refreshed, settings, redirect_uri, &id_token, nonce)
                .map_err(IdTokenFailure::into_error)
        }
        other => other.map_err(IdTokenFailure::into_error),
    }
}

enum IdTokenFailure {
    UnknownKey,
    Other(OidcError),
}

impl IdTokenFailure {
    fn into_error(self) -> OidcError {
        match self {
            Self::UnknownKey => OidcError::IdToken("unknown signing key".into()),
            Self::Other(e) => e,
        }
    }
}

fn verify_id_token(
    discovered: &Arc<Discovered>,
    settings: &IdpSettings,
    redirect_uri: &str,
    id_token: &CoreIdToken,
    nonce: &str,
) -> Result<Map<String, Value>, IdTokenFailure> {
    let client = client(discovered, settings, redirect_uri).map_err(IdTokenFailure::Other)?;
    let verifier = client.id_token_verifier().set_allowed_algs(ID_TOKEN_ALGS);
    match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
        Ok(_) => {}
        Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        )) => {
            return Err(IdTokenFailure::UnknownKey);
        }
        Err(e) => return Err(IdTokenFailure::Other(OidcError::IdToken(e.to_string()))),
    }
    // Verified above; re-read the payload as plain JSON so any claim name can be mapped.
    payload_claims(&id_token.to_string())
        .ok_or(IdTokenFailure::Other(OidcError::IdToken("payload".into())))
}

/// The payload of a compact JWS as a JSON object (no verification: call only on verified tokens).
fn payload_claims(jwt: &str) -> Option<Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_of_a_compact_jws_is_read_as_json() {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let jwt = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"sub":"u","groups":["a"]}"#)
        );
        let claims = payload_claims(&jwt).unwrap();
        assert_eq!(claims["groups"][0], "a");
        assert!(payload_claims("not-a-jwt").is_none());
    }
}
