//! Corporate SSO end to end, against a real OpenID provider (npm `oidc-provider`, started
//! here from `tests/oidc/server.mjs` on 127.0.0.1): the browser-less code flow for two users
//! of two organisations, refresh rotation and reuse detection, logout, IdP bearer tokens
//! (accepted, rotated keys, and every forgery refused with 401), provisioning, disabled users.
//!
//! The provider's signing keys are the committed test-only PEM files in `tests/oidc/keys`,
//! so the attack tests forge tokens with keys the provider really publishes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pecdesk_companion::with_pool;
use reqwest::{Method, StatusCode, Url};
use serde_json::{Value, json};
use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use crate::both_engines;
use crate::helpers::{Answer, Engine, TestApp, assert_envelope, into_answer, spawn_app};

both_engines!(
    the_openapi_document_describes_the_sso_routes;
    needs_idp:
    two_users_of_two_organisations_sign_in_with_the_code_flow,
    a_replayed_refresh_token_is_refused_and_revokes_its_family,
    logout_revokes_the_refresh_token_and_the_access_token,
    an_idp_bearer_token_of_the_organisation_is_accepted_and_provisions_the_user,
    forged_or_invalid_idp_tokens_all_get_401,
    idp_key_rotation_is_picked_up_without_restart,
    id_tokens_signed_with_a_rotated_idp_key_are_verified_without_restart,
    a_disabled_user_loses_access_at_once_with_every_kind_of_token,
    a_user_of_a_domain_the_organisation_does_not_allow_is_refused,
    login_refuses_unknown_clients_unregistered_redirects_and_unknown_orgs,
    sign_in_options_name_the_idp_and_never_its_secret,
    a_callback_works_only_once,
    the_desk_browser_gets_its_tokens_in_the_fragment_of_a_redirect,
    idp_settings_are_for_administrators_and_the_secret_is_sealed,
);

/// Thunderbird's `identity.getRedirectURL()` form, registered at the test provider.
const EXTENSION_REDIRECT: &str =
    "https://7c1f0e2a-4d3b-4c8e-9a51-2f6d8b0e4a17.extensions.allizom.org/";
/// Audience of the provider's JWT access tokens (`tests/oidc/server.mjs`).
const API_AUDIENCE: &str = "api://pecdesk";

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc")
}

fn key_pem(name: &str) -> Vec<u8> {
    std::fs::read(oidc_dir().join("keys").join(format!("{name}.pem"))).expect("test key")
}

/// The running test provider; killed on drop.
struct Idp {
    child: Child,
    acme: String,
    globex: String,
    http: reqwest::Client,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

impl Idp {
    /// Starts `node tests/oidc/server.mjs` and waits for its `ready` line. Without `npm ci`
    /// in tests/oidc the stories are ignored (cfg `pecdesk_oidc`, see `both_engines!`); run
    /// anyway, or in CI, a missing install fails here.
    async fn start() -> Self {
        let dir = oidc_dir();
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "tests/oidc/node_modules missing: run `npm ci` in tests/oidc (SSO stories may not be skipped in CI)"
        );
        let mut child = Command::new("node")
            .arg("server.mjs")
            .args(["--port", "0", "--watch-stdin"])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start node tests/oidc/server.mjs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        // Not a sleep: waits for the line the provider prints once it listens.
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("provider ready within 30 s")
            .expect("provider stdout")
            .expect("provider printed a line");
        let mut parts = line.split_whitespace();
        assert_eq!(
            parts.next(),
            Some("ready"),
            "unexpected provider output: {line}"
        );
        let acme = parts.next().expect("acme issuer").to_owned();
        let globex = parts.next().expect("globex issuer").to_owned();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            child,
            acme,
            globex,
            http,
        }
    }

    /// Follows the provider's redirects from `url` (logging in `login_hint` without a browser)
    /// until a redirect leaves the provider; returns that URL.
    async fn follow(&self, start: &str) -> Url {
        let mut url = Url::parse(start).expect("url");
        let mut jar: BTreeMap<String, String> = BTreeMap::new();
        for _ in 0..12 {
            let cookie = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let resp = self
                .http
                .get(url.clone())
                .header("cookie", cookie)
                .send()
                .await
                .expect("idp request");
            for set in resp.headers().get_all("set-cookie") {
                let pair = set
                    .to_str()
                    .expect("cookie")
                    .split(';')
                    .next()
                    .unwrap_or_default();
                if let Some((k, v)) = pair.split_once('=') {
                    jar.insert(k.trim().to_owned(), v.trim().to_owned());
                }
            }
            assert!(
                resp.status().is_redirection(),
                "idp answered {} at {url}",
                resp.status()
            );
            let location = resp.headers()["location"].to_str().expect("location");
            let next = url.join(location).expect("location url");
            if !next.as_str().starts_with(&self.acme) && !next.as_str().starts_with(&self.globex) {
                return next;
            }
            url = next;
        }
        panic!("too many redirects at the provider");
    }

    /// A real JWT access token for `api://pecdesk` from a provider: the code flow of the
    /// public client, done by the test like Outlook's SSO would.
    async fn access_token(&self, issuer: &str, login_hint: &str) -> String {
        let verifier = format!("v{}", uuid::Uuid::new_v4().simple()).repeat(2);
        let challenge = B64URL.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let mut auth = Url::parse(&format!("{issuer}/auth")).expect("auth url");
        auth.query_pairs_mut()
            .append_pair("client_id", "pecdesk-public")
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email api")
            .append_pair("resource", API_AUDIENCE)
            .append_pair("redirect_uri", EXTENSION_REDIRECT)
            .append_pair("state", "s")
            .append_pair("nonce", "n")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("login_hint", login_hint);
        let back = self.follow(auth.as_str()).await;
        let code = query(&back, "code").expect("code");
        let resp = self
            .http
            .post(format!("{issuer}/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "pecdesk-public"),
                ("code", &code),
                ("redirect_uri", EXTENSION_REDIRECT),
                ("code_verifier", &verifier),
                ("resource", API_AUDIENCE),
            ])
            .send()
            .await
            .expect("token request");
        let body: Value = resp.json().await.expect("token json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    async fn rotate(&self, issuer: &str) -> String {
        let resp = self
            .http
            .post(format!("{issuer}/admin/rotate"))
            .send()
            .await
            .expect("rotate");
        let body: Value = resp.json().await.expect("rotate json");
        body["kid"].as_str().expect("kid").to_owned()
    }
}

fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Two organisations wired to the two issuers of the provider.
struct Sso {
    app: TestApp,
    idp: Idp,
    acme_id: String,
    globex_id: String,
    acme_admin: String,
}

impl Sso {
    fn callback(&self) -> String {
        self.app.url("/api/v1/auth/callback")
    }

    /// The desk's sign-in: companion login → provider → companion callback (JSON tokens).
    async fn desk_sign_in(&self, org: &str, email: &str) -> Answer {
        let login = self
            .login_redirect(org, "desk", &self.callback(), email)
            .await;
        let back = self.idp.follow(&login).await;
        assert!(
            back.as_str().starts_with(&self.callback()),
            "back to {back}"
        );
        self.get_plain(back.as_str()).await
    }

    /// Thunderbird's sign-in: the provider redirects to the extension's URL, which hands
    /// `code`, `state` and `iss` to the companion's callback.
    async fn thunderbird_sign_in(&self, org: &str, email: &str) -> Answer {
        let login = self
            .login_redirect(org, "thunderbird", EXTENSION_REDIRECT, email)
            .await;
        let back = self.idp.follow(&login).await;
        assert!(
            back.as_str().starts_with(EXTENSION_REDIRECT),
            "back to {back}"
        );
        let mut cb = Url::parse(&self.callback()).expect("url");
        cb.set_query(back.query());
        self.get_plain(cb.as_str()).await
    }

    async fn login_redirect(&self, org: &str, client: &str, redirect: &str, email: &str) -> String {
        let a = self.login(org, client, redirect, email).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "login: {:?}", a.body);
        a.headers["location"].to_str().expect("location").to_owned()
    }

    async fn login(&self, org: &str, client: &str, redirect: &str, email: &str) -> Answer {
        let mut url = Url::parse(&self.app.url("/api/v1/auth/login")).expect("url");
        url.query_pairs_mut()
            .append_pair("org", org)
            .append_pair("client", client)
            .append_pair("redirect_uri", redirect)
            .append_pair("login_hint", email);
        self.get_plain(url.as_str()).await
    }

    async fn get_plain(&self, url: &str) -> Answer {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        into_answer(client.get(url).send().await.expect("request")).await
    }

    async fn refresh(&self, refresh_token: &str) -> Answer {
        self.app
            .send(
                Method::POST,
                "/api/v1/auth/refresh",
                None,
                Some(json!({"refresh_token": refresh_token})),
            )
            .await
    }

    async fn me(&self, token: &str) -> Answer {
        self.app.get(token, "/api/v1/me").await
    }
}

async fn insert_org_with_admin(app: &TestApp, name: &str, admin_email: &str) -> String {
    let org_id = uuid::Uuid::now_v7().to_string();
    let admin_id = uuid::Uuid::now_v7().to_string();
    with_pool!(app.store, |p| {
        sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, 0)")
            .bind(&org_id)
            .bind(name)
            .execute(p)
            .await
            .expect("org");
        sqlx::query("INSERT INTO users (id, org_id, email, name, is_admin, created_at) VALUES ($1, $2, $3, 'Admin', true, 0)")
            .bind(&admin_id)
            .bind(&org_id)
            .bind(admin_email)
            .execute(p)
            .await
            .expect("admin");
    });
    org_id
}

/// The app (demo mode: dev login works for the two admins) with Acme on the provider's first
/// issuer as a confidential client and Globex on the second as a public (PKCE-only) client.
async fn sso(engine: Engine) -> Sso {
    let idp = Idp::start().await;
    let app = spawn_app(engine).await;
    let acme_id = insert_org_with_admin(&app, "Acme", "admin@acme.test").await;
    let globex_id = insert_org_with_admin(&app, "Globex", "admin@globex.test").await;
    let acme_admin = app.login("admin@acme.test").await;
    let globex_admin = app.login("admin@globex.test").await;
    let callback = app.url("/api/v1/auth/callback");
    let put = app
        .put(
            &acme_admin,
            "/api/v1/auth/idp",
            json!({
                "issuer": idp.acme, "client_id": "pecdesk", "client_secret": "acme-secret",
                "scopes": ["openid", "email", "profile", "groups"],
                "claims": {"email": "email", "name": "name", "groups": "groups"},
                "allowed_domains": ["acme.test"], "audiences": [API_AUDIENCE],
                "redirect_uris": {"desk": [callback], "thunderbird": [EXTENSION_REDIRECT]}
            }),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{:?}", put.body);
    let put = app
        .put(
            &globex_admin,
            "/api/v1/auth/idp",
            json!({
                "issuer": idp.globex, "client_id": "pecdesk-public",
                "scopes": ["email", "profile", "groups"],
                "claims": {"group_teams": {"backoffice": "Back office"}},
                "allowed_domains": ["globex.test"], "audiences": [API_AUDIENCE],
                "redirect_uris": {"desk": [callback], "thunderbird": [EXTENSION_REDIRECT]}
            }),
        )
        .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{:?}", put.body);
    Sso {
        app,
        idp,
        acme_id,
        globex_id,
        acme_admin,
    }
}

fn tokens(a: &Answer) -> (String, String) {
    assert_eq!(a.status, StatusCode::OK, "sign-in: {:?}", a.body);
    assert_eq!(a.body["token_type"], "Bearer");
    (
        a.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned(),
        a.body["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned(),
    )
}

fn assert_401(a: &Answer, what: &str) {
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", a.body);
    assert!(
        a.headers.contains_key("www-authenticate"),
        "{what}: no WWW-Authenticate"
    );
    assert_envelope(a, "unauthorized");
}

fn team_names(me: &Answer) -> Vec<String> {
    let mut names: Vec<String> = me.body["teams"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn two_users_of_two_organisations_sign_in_with_the_code_flow(engine: Engine) {
    let s = sso(engine).await;

    let (alice, alice_refresh) = tokens(&s.desk_sign_in("Acme", "alice@acme.test").await);
    let me = s.me(&alice).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["user"]["email"], "alice@acme.test");
    assert_eq!(me.body["user"]["name"], "Alice Rossi");
    assert_eq!(me.body["user"]["org_id"], s.acme_id.as_str());
    assert_eq!(
        team_names(&me),
        ["legal", "protocol"],
        "teams from groups: {:?}",
        me.body
    );

    let (carol, _) = tokens(
        &s.thunderbird_sign_in(&s.globex_id, "carol@globex.test")
            .await,
    );
    let me = s.me(&carol).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["user"]["email"], "carol@globex.test");
    assert_eq!(me.body["user"]["org_id"], s.globex_id.as_str());
    assert_eq!(
        team_names(&me),
        ["Back office"],
        "mapped group: {:?}",
        me.body
    );

    // A second sign-in finds the same user (linked by issuer + subject), no duplicate.
    let (again, _) = tokens(&s.thunderbird_sign_in("Acme", "alice@acme.test").await);
    assert_eq!(
        s.me(&again).await.body["user"]["id"],
        s.me(&alice).await.body["user"]["id"]
    );

    // Refresh rotates: a new refresh token, a working access token.
    let r = s.refresh(&alice_refresh).await;
    let (alice2, alice_refresh2) = tokens(&r);
    assert_ne!(alice_refresh2, alice_refresh);
    assert_eq!(s.me(&alice2).await.status, StatusCode::OK);
}

async fn a_replayed_refresh_token_is_refused_and_revokes_its_family(engine: Engine) {
    let s = sso(engine).await;
    let (_, first) = tokens(&s.desk_sign_in("Acme", "bob@acme.test").await);
    let (access2, second) = tokens(&s.refresh(&first).await);
    assert_eq!(s.me(&access2).await.status, StatusCode::OK);

    assert_401(&s.refresh(&first).await, "replayed refresh token");
    // The replay revoked the whole family: the successor and its access token are dead too.
    assert_401(&s.refresh(&second).await, "successor after replay");
    assert_401(&s.me(&access2).await, "access token of a revoked family");
    // Another sign-in of the same user is unaffected.
    let (other, _) = tokens(&s.desk_sign_in("Acme", "bob@acme.test").await);
    assert_eq!(s.me(&other).await.status, StatusCode::OK);
}

async fn logout_revokes_the_refresh_token_and_the_access_token(engine: Engine) {
    let s = sso(engine).await;
    let (access, refresh) = tokens(&s.desk_sign_in("Acme", "alice@acme.test").await);
    let out = s
        .app
        .send(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_401(&s.me(&access).await, "access token after logout");
    assert_401(&s.refresh(&refresh).await, "refresh token after logout");

    // Logout with the bearer token alone works too.
    let (access, refresh) = tokens(&s.thunderbird_sign_in("Acme", "alice@acme.test").await);
    let out = s
        .app
        .send(Method::POST, "/api/v1/auth/logout", Some(&access), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{:?}", out.body);
    assert_401(
        &s.refresh(&refresh).await,
        "refresh token after bearer logout",
    );
    let nothing = s
        .app
        .send(Method::POST, "/api/v1/auth/logout", None, None)
        .await;
    assert_401(&nothing, "logout without any token");
}

async fn an_idp_bearer_token_of_the_organisation_is_accepted_and_provisions_the_user(
    engine: Engine,
) {
    let s = sso(engine).await;
    let token = s.idp.access_token(&s.idp.acme, "bob@acme.test").await;
    let me = s.me(&token).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["user"]["email"], "bob@acme.test");
    assert_eq!(me.body["user"]["org_id"], s.acme_id.as_str());
    assert_eq!(team_names(&me), ["protocol"]);
    // The same person signing in through the code flow is the same user.
    let (access, _) = tokens(&s.desk_sign_in("Acme", "bob@acme.test").await);
    assert_eq!(
        s.me(&access).await.body["user"]["id"],
        me.body["user"]["id"]
    );

    let carol = s.idp.access_token(&s.idp.globex, "carol@globex.test").await;
    let me = s.me(&carol).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["user"]["org_id"], s.globex_id.as_str());
}

fn forge(pem_name: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_rsa_pem(&key_pem(pem_name)).expect("pem");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

async fn forged_or_invalid_idp_tokens_all_get_401(engine: Engine) {
    let s = sso(engine).await;
    // The victim exists and a genuine token works, so every 401 below is about the token.
    let genuine = s.idp.access_token(&s.idp.acme, "alice@acme.test").await;
    assert_eq!(s.me(&genuine).await.status, StatusCode::OK);
    let payload = genuine.split('.').nth(1).expect("payload");
    let claims: Value =
        serde_json::from_slice(&B64URL.decode(payload).expect("b64")).expect("claims");
    let now = chrono::Utc::now().timestamp();
    let with = |name: &str, value: Value| {
        let mut c = claims.clone();
        c[name] = value;
        c
    };
    let b64 = |v: &Value| B64URL.encode(v.to_string());

    // Sanity: a token we sign with the provider's real key and untouched claims verifies.
    assert_eq!(
        s.me(&forge("acme-1", "acme-1", &claims)).await.status,
        StatusCode::OK
    );

    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "acme-1"})),
        b64(&claims)
    );
    let hs256 = {
        // HS256 keyed with the provider's published RSA public key (algorithm confusion).
        let jwks: Value = s
            .idp
            .http
            .get(format!("{}/jwks", s.idp.acme))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json");
        let public = jwks.to_string();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("acme-1".into());
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .expect("hs256")
    };
    let tampered = {
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        parts[1] = b64(&with("email", json!("admin@acme.test")));
        parts.join(".")
    };
    // A genuine Globex token with its issuer rewritten to Acme's.
    let carol = s.idp.access_token(&s.idp.globex, "carol@globex.test").await;
    let relabelled = {
        let mut parts: Vec<String> = carol.split('.').map(str::to_owned).collect();
        let mut c: Value =
            serde_json::from_slice(&B64URL.decode(&parts[1]).expect("b64")).expect("claims");
        c["iss"] = json!(s.idp.acme);
        parts[1] = b64(&c);
        parts.join(".")
    };
    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        ("HS256 with the RSA public key", hs256),
        (
            "wrong issuer",
            forge(
                "acme-1",
                "acme-1",
                &with("iss", json!("https://idp.evil.test")),
            ),
        ),
        (
            "issuer of the other organisation",
            forge("acme-1", "acme-1", &with("iss", json!(s.idp.globex))),
        ),
        (
            "wrong audience",
            forge(
                "acme-1",
                "acme-1",
                &with("aud", json!("api://someone-else")),
            ),
        ),
        (
            "expired",
            forge("acme-1", "acme-1", &with("exp", json!(now - 600))),
        ),
        (
            "not yet valid",
            forge("acme-1", "acme-1", &with("nbf", json!(now + 600))),
        ),
        ("unknown kid", forge("rogue-1", "rogue-1", &claims)),
        ("known kid, wrong key", forge("rogue-1", "acme-1", &claims)),
        ("tampered payload", tampered),
        // Globex's provider really signs with globex-1: its tokens cannot act for Acme.
        (
            "another organisation's IdP key",
            forge("globex-1", "globex-1", &claims),
        ),
        (
            "another organisation's IdP token relabelled as Acme's",
            relabelled,
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in &cases {
        assert_401(&s.me(token).await, what);
    }
    // Unchanged, Globex's token is Globex's: it names Globex's user, never Acme's.
    let a = s.me(&carol).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["user"]["org_id"], s.globex_id.as_str());
    assert_eq!(
        s.app.get(&carol, "/api/v1/auth/idp").await.status,
        StatusCode::FORBIDDEN
    );

    // And a replayed refresh token (the last attack of the list).
    let (_, first) = tokens(&s.desk_sign_in("Acme", "alice@acme.test").await);
    tokens(&s.refresh(&first).await);
    assert_401(&s.refresh(&first).await, "replayed refresh token");
}

async fn idp_key_rotation_is_picked_up_without_restart(engine: Engine) {
    let s = sso(engine).await;
    let before = s.idp.access_token(&s.idp.acme, "bob@acme.test").await;
    assert_eq!(s.me(&before).await.status, StatusCode::OK);
    let kid = s.idp.rotate(&s.idp.acme).await;
    assert_eq!(kid, "acme-2");
    let after = s.idp.access_token(&s.idp.acme, "bob@acme.test").await;
    assert_eq!(
        jsonwebtoken::decode_header(&after)
            .expect("header")
            .kid
            .as_deref(),
        Some("acme-2")
    );
    let me = s.me(&after).await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "bearer token with the rotated key: {:?}",
        me.body
    );
    // The old key is still published, so tokens signed before the rotation keep working.
    assert_eq!(s.me(&before).await.status, StatusCode::OK);
}

async fn id_tokens_signed_with_a_rotated_idp_key_are_verified_without_restart(engine: Engine) {
    let s = sso(engine).await;
    // The first sign-in caches the provider's keys (acme-1 only).
    let (first, _) = tokens(&s.desk_sign_in("Acme", "alice@acme.test").await);
    assert_eq!(s.me(&first).await.status, StatusCode::OK);
    assert_eq!(s.idp.rotate(&s.idp.acme).await, "acme-2");
    // This ID token is signed with acme-2: the relying party refreshes the JWKS once.
    let (second, _) = tokens(&s.thunderbird_sign_in("Acme", "alice@acme.test").await);
    assert_eq!(s.me(&second).await.status, StatusCode::OK);
}

async fn a_disabled_user_loses_access_at_once_with_every_kind_of_token(engine: Engine) {
    let s = sso(engine).await;
    let (access, refresh) = tokens(&s.desk_sign_in("Acme", "alice@acme.test").await);
    let idp_token = s.idp.access_token(&s.idp.acme, "alice@acme.test").await;
    assert_eq!(s.me(&access).await.status, StatusCode::OK);
    assert_eq!(s.me(&idp_token).await.status, StatusCode::OK);

    with_pool!(s.app.store, |p| {
        sqlx::query("UPDATE users SET disabled = true WHERE email = 'alice@acme.test'")
            .execute(p)
            .await
            .expect("disable");
    });
    assert_401(&s.me(&access).await, "companion token of a disabled user");
    assert_401(&s.me(&idp_token).await, "IdP token of a disabled user");
    assert_401(&s.refresh(&refresh).await, "refresh of a disabled user");
    let again = s.desk_sign_in("Acme", "alice@acme.test").await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{:?}", again.body);
    assert_envelope(&again, "forbidden");
}

async fn a_user_of_a_domain_the_organisation_does_not_allow_is_refused(engine: Engine) {
    let s = sso(engine).await;
    let a = s.desk_sign_in("Acme", "mallory@evil.test").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    assert_envelope(&a, "forbidden");
    let bearer = s.idp.access_token(&s.idp.acme, "mallory@evil.test").await;
    assert_401(&s.me(&bearer).await, "IdP token of a disallowed domain");
    let users: i64 = with_pool!(s.app.store, |p| {
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE email = 'mallory@evil.test'")
            .fetch_one(p)
            .await
            .expect("count")
    });
    assert_eq!(users, 0, "no account was provisioned");
}

async fn login_refuses_unknown_clients_unregistered_redirects_and_unknown_orgs(engine: Engine) {
    let s = sso(engine).await;
    let cb = s.callback();
    let a = s.login("Acme", "outlook", &cb, "alice@acme.test").await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    let a = s
        .login("Acme", "desk", "https://evil.test/steal", "alice@acme.test")
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", a.body);
    assert_envelope(&a, "invalid");
    assert!(
        !a.headers.contains_key("location"),
        "never redirects to an unregistered URI"
    );
    let a = s.login("Nessuna", "desk", &cb, "alice@acme.test").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_envelope(&a, "not_found");
    // The authorization URL carries PKCE S256, state, nonce and the registered redirect URI.
    let url = Url::parse(
        &s.login_redirect("Acme", "desk", &cb, "alice@acme.test")
            .await,
    )
    .expect("url");
    assert!(url.as_str().starts_with(&s.idp.acme));
    assert_eq!(
        query(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert!(query(&url, "code_challenge").is_some_and(|c| c.len() == 43));
    assert!(query(&url, "state").is_some_and(|c| c.len() >= 16));
    assert!(query(&url, "nonce").is_some_and(|c| c.len() >= 16));
    assert_eq!(query(&url, "redirect_uri").as_deref(), Some(cb.as_str()));
}

async fn sign_in_options_name_the_idp_and_never_its_secret(engine: Engine) {
    let s = sso(engine).await;
    let a = s
        .app
        .send(
            reqwest::Method::GET,
            "/api/v1/auth/options?org=Acme",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["org_id"], s.acme_id.as_str());
    assert_eq!(a.body["issuer"], s.idp.acme.as_str());
    assert_eq!(a.body["client_id"], "pecdesk");
    assert!(a.body["entra"].is_null(), "not an Entra ID issuer");
    assert!(
        !a.body.to_string().contains("acme-secret"),
        "the client secret never leaves the companion"
    );
    let a = s
        .app
        .send(
            reqwest::Method::GET,
            "/api/v1/auth/options?org=Nessuna",
            None,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_envelope(&a, "not_found");
}

async fn a_callback_works_only_once(engine: Engine) {
    let s = sso(engine).await;
    let login = s
        .login_redirect("Acme", "desk", &s.callback(), "alice@acme.test")
        .await;
    let back = s.idp.follow(&login).await;
    tokens(&s.get_plain(back.as_str()).await);
    assert_401(&s.get_plain(back.as_str()).await, "replayed callback");
    let mut forged = back.clone();
    forged.set_query(Some("code=abc&state=not-a-state"));
    assert_401(&s.get_plain(forged.as_str()).await, "unknown state");
}

/// The desk's browser lands on the callback itself (`Accept: text/html`): it is sent back
/// to `/` with the tokens in the fragment (never in a query, never stored), and a failed
/// sign-in to `/#signin-failed=STATUS`.
async fn the_desk_browser_gets_its_tokens_in_the_fragment_of_a_redirect(engine: Engine) {
    let s = sso(engine).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let navigate = |url: String| {
        let b = browser.clone();
        async move {
            b.get(url)
                .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
                .send()
                .await
                .expect("callback")
        }
    };
    let login = s
        .login_redirect("Acme", "desk", &s.callback(), "alice@acme.test")
        .await;
    let back = s.idp.follow(&login).await;
    let resp = navigate(back.to_string()).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let fragment = location
        .strip_prefix("/#signed-in&")
        .unwrap_or_else(|| panic!("to the desk: {location}"));
    let params: BTreeMap<String, String> = Url::parse(&format!("http://desk/?{fragment}"))
        .expect("fragment")
        .query_pairs()
        .into_owned()
        .collect();
    let me = s.me(&params["access_token"]).await;
    assert_eq!(me.body["user"]["email"], "alice@acme.test");
    assert_eq!(
        s.refresh(&params["refresh_token"]).await.status,
        StatusCode::OK
    );

    // Replayed: the state is gone; the browser goes back to the desk with the status only.
    let again = navigate(back.to_string()).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(again.headers()["location"], "/#signin-failed=401");

    // A script asking for JSON (the Outlook dialog, Thunderbird) still gets JSON.
    let login = s
        .login_redirect("Acme", "desk", &s.callback(), "alice@acme.test")
        .await;
    let back = s.idp.follow(&login).await;
    tokens(&s.get_plain(back.as_str()).await);
}

async fn idp_settings_are_for_administrators_and_the_secret_is_sealed(engine: Engine) {
    let s = sso(engine).await;
    let a = s.app.get(&s.acme_admin, "/api/v1/auth/idp").await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["has_client_secret"], true);
    assert_eq!(
        a.body["redirect_uris"]["thunderbird"][0],
        EXTENSION_REDIRECT
    );
    assert!(
        !a.body.to_string().contains("acme-secret"),
        "the secret is never shown"
    );
    let sealed: String = with_pool!(s.app.store, |p| {
        sqlx::query_scalar("SELECT client_secret_sealed FROM idp_settings WHERE org_id = $1")
            .bind(&s.acme_id)
            .fetch_one(p)
            .await
            .expect("row")
    });
    assert!(sealed.starts_with("v1:") && !sealed.contains("acme-secret"));

    let (alice, _) = tokens(&s.desk_sign_in("Acme", "alice@acme.test").await);
    let a = s.app.get(&alice, "/api/v1/auth/idp").await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = s
        .app
        .put(
            &alice,
            "/api/v1/auth/idp",
            json!({"issuer": "https://x.test", "client_id": "x"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = s
        .app
        .put(
            &s.acme_admin,
            "/api/v1/auth/idp",
            json!({"issuer": "http://idp.example.com", "client_id": "x"}),
        )
        .await;
    assert_eq!(
        a.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "plain http issuer: {:?}",
        a.body
    );
}

async fn the_openapi_document_describes_the_sso_routes(engine: Engine) {
    let app = spawn_app(engine).await;
    let doc = app.send(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    for path in [
        "/api/v1/auth/login",
        "/api/v1/auth/callback",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/idp",
    ] {
        assert!(
            doc.body["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    // The colleague's routes are still there.
    assert!(doc.body["paths"]["/api/v1/auth/dev-login"].is_object());
}
