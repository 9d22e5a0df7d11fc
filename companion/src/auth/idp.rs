//! Per-organisation identity provider (IdP) settings and the discovery + JWKS cache.
//!
//! Each organisation connects one OpenID provider (Entra ID, Keycloak, Google Workspace, ...).
//! The companion fetches the provider's discovery document and its JSON Web Key Set once and
//! caches them. When a token arrives signed with a key id (`kid`) the cache does not know, the
//! provider probably rotated its keys: the cache is refreshed at once, so rotation needs no
//! restart. To keep an attacker who sends made-up `kid`s from turning the companion into a
//! request amplifier, such forced refreshes happen at most once per `min_refresh_interval`
//! per issuer; the cache also expires on its own after `max_age`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use openidconnect::core::CoreProviderMetadata;
use openidconnect::{IssuerUrl, reqwest};
use pecdesk_core::ids::EmailAddress;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Scopes asked for when the settings name none.
pub const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];

/// Which claims carry the user's e-mail, display name and groups, and how groups become teams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaimMapping {
    /// Claim with the e-mail address (`email`; Entra ID often needs `preferred_username`).
    pub email: String,
    /// Claim with the display name (`name`).
    pub name: String,
    /// Claim with the list of groups (`groups`; Keycloak's default mapper also uses `groups`).
    pub groups: String,
    /// Group value → team name. Empty: every group becomes a team of the same name.
    /// Not empty: only the listed groups become teams (Entra ID sends group object ids).
    pub group_teams: BTreeMap<String, String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            email: "email".into(),
            name: "name".into(),
            groups: "groups".into(),
            group_teams: BTreeMap::new(),
        }
    }
}

/// One organisation's OpenID provider settings.
#[derive(Debug, Clone)]
pub struct IdpSettings {
    /// The organisation these settings belong to.
    pub org_id: String,
    /// The issuer URL exactly as the provider writes it in `iss`.
    pub issuer: String,
    /// The companion's client id at the provider.
    pub client_id: String,
    /// The client secret; `None` for a public client (PKCE only). Encrypted at rest.
    pub client_secret: Option<SecretString>,
    /// Scopes to request (`openid` is always added).
    pub scopes: Vec<String>,
    /// Claim mapping.
    pub claims: ClaimMapping,
    /// E-mail domains allowed to sign in (lower case). Empty: any domain.
    pub allowed_domains: Vec<String>,
    /// Accepted `aud` values of IdP-issued bearer tokens (add-ins). Empty: the client id.
    pub audiences: Vec<String>,
}

/// The user a set of verified claims describes, after the organisation's mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedIdentity {
    /// The provider's stable subject (`sub`).
    pub subject: String,
    /// E-mail, parsed (lower case).
    pub email: EmailAddress,
    /// Display name (falls back to the e-mail).
    pub name: String,
    /// Team names from the group claim, after `group_teams`.
    pub teams: Vec<String>,
}

/// Why verified claims cannot sign anyone in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// No `sub`.
    #[error("the token has no subject")]
    NoSubject,
    /// The mapped e-mail claim is missing or not an address.
    #[error("the token has no usable e-mail claim")]
    NoEmail,
    /// The provider says the e-mail is not verified.
    #[error("the e-mail address is not verified")]
    EmailNotVerified,
    /// The e-mail domain is not in `allowed_domains`.
    #[error("the e-mail domain is not allowed for this organisation")]
    DomainNotAllowed,
}

impl IdpSettings {
    /// Scopes for the authorization request: `openid` first, then the configured ones.
    pub fn request_scopes(&self) -> Vec<String> {
        let configured: Vec<String> = if self.scopes.is_empty() {
            DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.scopes.clone()
        };
        let mut out = vec!["openid".to_owned()];
        out.extend(configured.into_iter().filter(|s| s != "openid"));
        out
    }

    /// Audiences accepted on IdP bearer tokens.
    pub fn bearer_audiences(&self) -> Vec<String> {
        if self.audiences.is_empty() {
            vec![self.client_id.clone()]
        } else {
            self.audiences.clone()
        }
    }

    /// `true` when `email`'s domain may sign in to this organisation.
    pub fn email_domain_allowed(&self, email: &str) -> bool {
        let Some((_, domain)) = email.rsplit_once('@') else {
            return false;
        };
        self.allowed_domains.is_empty()
            || self
                .allowed_domains
                .iter()
                .any(|d| d.trim_start_matches('@').eq_ignore_ascii_case(domain))
    }

    /// Team names for the given group values.
    pub fn teams_from_groups(&self, groups: &[String]) -> Vec<String> {
        let mut teams: Vec<String> = if self.claims.group_teams.is_empty() {
            groups
                .iter()
                .map(|g| g.trim().to_owned())
                .filter(|g| !g.is_empty())
                .collect()
        } else {
            groups
                .iter()
                .filter_map(|g| self.claims.group_teams.get(g).cloned())
                .collect()
        };
        teams.sort();
        teams.dedup();
        teams
    }

    /// Applies the claim mapping and the domain rule to verified claims.
    pub fn map_claims(&self, claims: &Map<String, Value>) -> Result<MappedIdentity, ClaimsError> {
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let subject = subject.ok_or(ClaimsError::NoSubject)?.to_owned();
        let email = claims
            .get(&self.claims.email)
            .and_then(Value::as_str)
            .map(str::trim);
        let email = email
            .and_then(|e| EmailAddress::parse(e).ok())
            .ok_or(ClaimsError::NoEmail)?;
        // Only an explicit `false` counts: Entra ID access tokens carry no `email_verified`.
        if claims.get("email_verified").and_then(Value::as_bool) == Some(false) {
            return Err(ClaimsError::EmailNotVerified);
        }
        if !self.email_domain_allowed(email.as_str()) {
            return Err(ClaimsError::DomainNotAllowed);
        }
        let name = claims
            .get(&self.claims.name)
            .and_then(Value::as_str)
            .map(str::trim);
        let name = name
            .filter(|n| !n.is_empty())
            .map_or_else(|| email.to_string(), str::to_owned);
        let groups: Vec<String> = match claims.get(&self.claims.groups) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(one)) => vec![one.clone()],
            _ => Vec::new(),
        };
        Ok(MappedIdentity {
            subject,
            email,
            name,
            teams: self.teams_from_groups(&groups),
        })
    }
}

/// Why discovery or a key lookup failed.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The issuer is not a valid URL.
    #[error("invalid issuer URL")]
    BadIssuer,
    /// Fetching or parsing the discovery document or the JWKS failed.
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The `kid` is not in the provider's key set, even after a refresh (or the refresh was
    /// rate-limited).
    #[error("no key with this kid")]
    UnknownKid,
}

/// What the cache knows about one provider.
#[derive(Debug)]
pub struct Discovered {
    /// Discovery document with the JWKS set, for the relying-party flow.
    pub metadata: CoreProviderMetadata,
    /// The same key set, for verifying bearer tokens with `jsonwebtoken`.
    pub jwks: JwkSet,
    fetched_at: Instant,
}

impl Discovered {
    /// The key with this `kid`, if published.
    pub fn key(&self, kid: &str) -> Option<&Jwk> {
        self.jwks.find(kid)
    }
}

#[derive(Debug, Default)]
struct Entry {
    current: Option<Arc<Discovered>>,
    last_forced: Option<Instant>,
}

/// Discovery + JWKS cache shared by all organisations (keyed by issuer).
#[derive(Debug)]
pub struct IdpDirectory {
    http: reqwest::Client,
    min_refresh_interval: Duration,
    max_age: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    fetches: AtomicU64,
}

impl IdpDirectory {
    /// A cache that forces at most one refresh per `min_refresh_interval` per issuer and
    /// re-fetches anything older than `max_age`.
    pub fn new(min_refresh_interval: Duration, max_age: Duration) -> Result<Self, IdpError> {
        let http = http_client().map_err(|e| IdpError::Discovery(e.to_string()))?;
        Ok(Self {
            http,
            min_refresh_interval,
            max_age,
            entries: Mutex::default(),
            fetches: AtomicU64::new(0),
        })
    }

    /// The HTTP client used to talk to providers (no redirects followed).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// How many discovery+JWKS fetches happened (metrics and tests).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The cached provider data, fetched if missing or older than `max_age`.
    pub async fn get(&self, issuer: &str) -> Result<Arc<Discovered>, IdpError> {
        if let Some(found) = self.cached(issuer)
            && found.fetched_at.elapsed() < self.max_age
        {
            return Ok(found);
        }
        self.fetch(issuer).await
    }

    /// The key `kid` of `issuer`; an unknown `kid` triggers one rate-limited refresh.
    pub async fn key(&self, issuer: &str, kid: &str) -> Result<(Arc<Discovered>, Jwk), IdpError> {
        let current = self.get(issuer).await?;
        if let Some(jwk) = current.key(kid) {
            return Ok((current.clone(), jwk.clone()));
        }
        let refreshed = self
            .refresh_for_unknown_key(issuer)
            .await?
            .ok_or(IdpError::UnknownKid)?;
        let jwk = refreshed.key(kid).cloned().ok_or(IdpError::UnknownKid)?;
        Ok((refreshed, jwk))
    }

    /// Re-fetches after a token named a key we do not have, unless a forced refresh of this
    /// issuer happened less than `min_refresh_interval` ago (then `Ok(None)`).
    pub async fn refresh_for_unknown_key(
        &self,
        issuer: &str,
    ) -> Result<Option<Arc<Discovered>>, IdpError> {
        {
            let mut entries = self
                .entries
                .lock()
                .map_err(|_| IdpError::Discovery("cache poisoned".into()))?;
            let entry = entries.entry(issuer.to_owned()).or_default();
            if entry
                .last_forced
                .is_some_and(|t| t.elapsed() < self.min_refresh_interval)
            {
                tracing::debug!(idp.issuer = issuer, "jwks refresh rate-limited");
                return Ok(None);
            }
            entry.last_forced = Some(Instant::now());
        }
        tracing::info!(idp.issuer = issuer, "unknown kid: refreshing jwks");
        self.fetch(issuer).await.map(Some)
    }

    fn cached(&self, issuer: &str) -> Option<Arc<Discovered>> {
        self.entries.lock().ok()?.get(issuer)?.current.clone()
    }

    async fn fetch(&self, issuer: &str) -> Result<Arc<Discovered>, IdpError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let issuer_url = IssuerUrl::new(issuer.to_owned()).map_err(|_| IdpError::BadIssuer)?;
        // Fetches the discovery document, checks that its `issuer` is exactly ours, then the JWKS.
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &self.http)
            .await
            .map_err(|e| IdpError::Discovery(error_chain(&e)))?;
        let jwks_json = serde_json::to_value(metadata.jwks())
            .map_err(|e| IdpError::Discovery(e.to_string()))?;
        let jwks: JwkSet =
            serde_json::from_value(jwks_json).map_err(|e| IdpError::Discovery(e.to_string()))?;
        let found = Arc::new(Discovered {
            metadata,
            jwks,
            fetched_at: Instant::now(),
        });
        if let Ok(mut entries) = self.entries.lock() {
            entries.entry(issuer.to_owned()).or_default().current = Some(found.clone());
        }
        Ok(found)
    }
}

/// The HTTP client for providers: short timeouts, no redirects (discovery and token requests
/// must hit exactly the configured endpoints).
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .build()
}

/// An error and its sources on one line (for logs; never contains tokens).
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        out.push_str(": ");
        out.push_str(&inner.to_string());
        source = inner.source();
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> IdpSettings {
        IdpSettings {
            org_id: "org".into(),
            issuer: "https://idp.example".into(),
            client_id: "pecdesk".into(),
            client_secret: None,
            scopes: vec!["email".into(), "groups".into()],
            claims: ClaimMapping::default(),
            allowed_domains: vec!["acme.test".into()],
            audiences: vec![],
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn openid_is_always_the_first_scope() {
        assert_eq!(settings().request_scopes(), ["openid", "email", "groups"]);
        let mut s = settings();
        s.scopes.clear();
        assert_eq!(s.request_scopes(), ["openid", "email", "profile"]);
    }

    #[test]
    fn claims_map_to_an_identity_with_teams_from_groups() {
        let id = settings()
            .map_claims(&claims(json!({"sub": "u1", "email": "Alice@ACME.test", "name": "Alice", "groups": ["legal", "protocol", "legal"]})))
            .unwrap();
        assert_eq!(id.email.as_str(), "alice@acme.test");
        assert_eq!(id.name, "Alice");
        assert_eq!(id.teams, ["legal", "protocol"]);
    }

    #[test]
    fn group_mapping_keeps_only_mapped_groups() {
        let mut s = settings();
        s.claims
            .group_teams
            .insert("0f1e-guid".into(), "Ufficio legale".into());
        let id = s
            .map_claims(&claims(
                json!({"sub": "u1", "email": "a@acme.test", "groups": ["0f1e-guid", "other"]}),
            ))
            .unwrap();
        assert_eq!(id.teams, ["Ufficio legale"]);
        assert_eq!(id.name, "a@acme.test");
    }

    #[test]
    fn a_custom_email_claim_is_used() {
        let mut s = settings();
        s.claims.email = "preferred_username".into();
        let id = s
            .map_claims(&claims(
                json!({"sub": "u1", "preferred_username": "b@acme.test"}),
            ))
            .unwrap();
        assert_eq!(id.email.as_str(), "b@acme.test");
    }

    #[test]
    fn claims_without_subject_or_email_or_from_another_domain_are_refused() {
        let s = settings();
        assert_eq!(
            s.map_claims(&claims(json!({"email": "a@acme.test"}))),
            Err(ClaimsError::NoSubject)
        );
        assert_eq!(
            s.map_claims(&claims(json!({"sub": "x"}))),
            Err(ClaimsError::NoEmail)
        );
        assert_eq!(
            s.map_claims(&claims(json!({"sub": "x", "email": "m@evil.test"}))),
            Err(ClaimsError::DomainNotAllowed)
        );
        assert_eq!(
            s.map_claims(&claims(
                json!({"sub": "x", "email": "a@acme.test", "email_verified": false})
            )),
            Err(ClaimsError::EmailNotVerified)
        );
        // A suffix is not a domain match.
        assert!(!s.email_domain_allowed("a@notacme.test"));
    }

    #[test]
    fn bearer_audiences_default_to_the_client_id() {
        let mut s = settings();
        assert_eq!(s.bearer_audiences(), ["pecdesk"]);
        s.audiences = vec!["api://pecdesk".into()];
        assert_eq!(s.bearer_audiences(), ["api://pecdesk"]);
    }

    #[tokio::test]
    async fn forced_jwks_refreshes_are_rate_limited_per_issuer() {
        let dir = IdpDirectory::new(Duration::from_secs(60), Duration::from_secs(3600)).unwrap();
        // Nothing listens on port 9: the fetch fails fast, but it is attempted.
        let issuer = "http://127.0.0.1:9/idp";
        assert!(dir.refresh_for_unknown_key(issuer).await.is_err());
        assert_eq!(dir.fetch_count(), 1);
        // A second unknown kid within the interval does not reach the provider.
        assert!(dir.refresh_for_unknown_key(issuer).await.unwrap().is_none());
        assert_eq!(dir.fetch_count(), 1);
        // Another issuer has its own budget.
        assert!(
            dir.refresh_for_unknown_key("http://127.0.0.1:9/other")
                .await
                .is_err()
        );
        assert_eq!(dir.fetch_count(), 2);
        assert!(matches!(
            dir.key(issuer, "k").await,
            Err(IdpError::Discovery(_))
        ));
    }
}
