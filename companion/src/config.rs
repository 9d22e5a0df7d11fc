//! Typed settings, loaded once: defaults, then a TOML file, then `PECDESK_`-prefixed
//! environment variables (`__` nests), then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Everything the companion reads at start.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Folder of the SQLite file (and other local state).
    pub data_dir: PathBuf,
    /// `postgres://...` switches storage to PostgreSQL; a secret because it may hold a password.
    pub database_url: Option<SecretString>,
    /// Seed the demo organisations and enable dev login (loopback only).
    pub demo: bool,
    /// Enable dev login (loopback only) without seeding.
    pub dev_mode: bool,
    /// Lifetime of companion-issued access tokens, in seconds.
    pub access_token_ttl_secs: u64,
    /// Largest JSON body accepted, in bytes (413 beyond).
    pub json_body_limit: usize,
    /// Largest raw message accepted by import, in bytes (413 beyond).
    pub import_body_limit: usize,
    /// Size of the database connection pool.
    pub max_connections: u32,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Extra CA certificates (PEM) that complete signature chains; they make no one a PEC
    /// provider (the provider list does, see `docs/trust.md`).
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
    /// Limits of the HTTP server: timeouts, connection cap, import memory (`[http]`).
    #[serde(default)]
    pub http: crate::server::HttpLimits,
    /// Checkpoints of the audit chains outside the database (`[audit]`).
    #[serde(default)]
    pub audit: crate::checkpoint::CheckpointSettings,
    /// IMAP polling of the mailboxes (`[imap]`).
    #[serde(default)]
    pub imap: crate::imap::ImapSettings,
    /// Mass sends (`[campaigns]`).
    #[serde(default)]
    pub campaigns: crate::domain::campaigns::CampaignSettings,
    /// Sending through the outbox (`[outbox]`).
    #[serde(default)]
    pub outbox: crate::outbox::OutboxSettings,
    /// Webhook deliveries (`[webhooks]`).
    #[serde(default)]
    pub webhooks: crate::webhooks::WebhookSettings,
    /// SLA and mailbox alarms (`[alarms]`).
    #[serde(default)]
    pub alarms: crate::jobs::alarms::AlarmSettings,
    /// The URL users' mail clients reach the companion at (the add-ins' manifest and
    /// `config.json` carry it). Absent: `http://{listen}`. Must be https unless its host is
    /// loopback; see [`Settings::public_url`].
    #[serde(default)]
    pub public_url: Option<String>,
    /// Where the add-ins' files are (`[addin]`).
    #[serde(default)]
    pub addin: AddinSettings,
    /// Where the web desk's files are (`[desk]`).
    #[serde(default)]
    pub desk: DeskSettings,
}

/// The folder the companion serves the web desk from (`[desk]`; see docs/desk.md),
/// relative to the current directory unless absolute.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeskSettings {
    /// The desk's own files (`index.html`, `desk.js`, `pages/`); the modules it shares
    /// with the task pane come from `/addin/`.
    pub dir: PathBuf,
}

impl Default for DeskSettings {
    fn default() -> Self {
        Self {
            dir: "companion/desk".into(),
        }
    }
}

/// Folders the companion serves the add-ins from (`[addin]`), relative to the current
/// directory unless absolute.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AddinSettings {
    /// The add-ins' sources: `pane/`, `outlook/`, `webext/`.
    pub dir: PathBuf,
    /// `outlook.xml` and `thunderbird.json`.
    pub manifests_dir: PathBuf,
    /// The `--target web` output of `scripts/build-wasm`.
    pub wasm_dir: PathBuf,
}

impl Default for AddinSettings {
    fn default() -> Self {
        Self {
            dir: "addin".into(),
            manifests_dir: "manifests".into(),
            wasm_dir: "target/pecdesk-wasm/web".into(),
        }
    }
}

/// The defaults, serialisable so figment can layer over them.
#[derive(Debug, Serialize)]
struct Defaults {
    listen: String,
    data_dir: String,
    demo: bool,
    dev_mode: bool,
    access_token_ttl_secs: u64,
    json_body_limit: usize,
    import_body_limit: usize,
    max_connections: u32,
    log_format: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: "./pecdesk-data".into(),
            demo: false,
            dev_mode: false,
            access_token_ttl_secs: 3600,
            json_body_limit: 1024 * 1024,
            import_body_limit: 30 * 1024 * 1024,
            max_connections: 4,
            log_format: "text".into(),
        }
    }
}

/// Command-line overrides (the last layer).
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--demo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demo: Option<bool>,
}

impl Settings {
    /// Loads defaults → `config` TOML file (when given or when `./pecdesk.toml` exists) →
    /// `PECDESK_*` environment → `overrides`.
    pub fn load(config: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Defaults::default()));
        match config {
            Some(path) => {
                anyhow::ensure!(path.exists(), "config file {} not found", path.display());
                fig = fig.merge(Toml::file(path));
            }
            None => fig = fig.merge(Toml::file("pecdesk.toml")),
        }
        fig = fig
            .merge(Env::prefixed("PECDESK_").split("__").ignore(&["test_pg"]))
            .merge(Serialized::defaults(overrides));
        let mut settings: Self = fig.extract()?;
        if settings
            .database_url
            .as_ref()
            .is_some_and(|u| u.expose_secret().trim().is_empty())
        {
            settings.database_url = None;
        }
        if let Some(url) = &settings.database_url
            && settings.postgres_url().is_none()
        {
            // Said, not ignored: a mistyped URL used to fall back to SQLite silently.
            anyhow::bail!(
                "database_url non valido: deve iniziare con postgres:// (ricevuto {}) / invalid \
                 database_url: it must start with postgres:// (got {})",
                redact_url(url.expose_secret()),
                redact_url(url.expose_secret())
            );
        }
        Ok(settings)
    }

    /// Which database start-up errors name: the SQLite file, or the PostgreSQL URL with
    /// its password hidden.
    pub fn database_label(&self) -> String {
        match self.postgres_url() {
            Some(url) => format!("PostgreSQL {}", redact_url(url)),
            None => format!("SQLite {}", self.data_dir.join("pecdesk.sqlite3").display()),
        }
    }

    /// Settings for tests and embedding: defaults with the given data dir.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let d = Defaults::default();
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            database_url: None,
            demo: d.demo,
            dev_mode: d.dev_mode,
            access_token_ttl_secs: d.access_token_ttl_secs,
            json_body_limit: d.json_body_limit,
            import_body_limit: d.import_body_limit,
            max_connections: d.max_connections,
            log_format: d.log_format,
            ca_bundle: None,
            http: crate::server::HttpLimits::default(),
            audit: crate::checkpoint::CheckpointSettings::default(),
            imap: crate::imap::ImapSettings::default(),
            campaigns: crate::domain::campaigns::CampaignSettings::default(),
            outbox: crate::outbox::OutboxSettings::default(),
            webhooks: crate::webhooks::WebhookSettings::default(),
            alarms: crate::jobs::alarms::AlarmSettings::default(),
            public_url: None,
            addin: AddinSettings::default(),
            desk: DeskSettings::default(),
        }
    }

    /// The URL users' clients reach the companion at, without a trailing `/`: the
    /// configured `public_url`, else `http://{listen}`.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_owned(),
            _ => format!("http://{}", self.listen),
        }
    }

    /// Refuses a public URL the add-ins could not use safely: not http(s), with a query or
    /// fragment, or plain http on a host that is not loopback (tokens would cross the
    /// network in clear, and Outlook refuses http add-ins anyway).
    pub fn check_public_url(&self) -> anyhow::Result<()> {
        let url = self.public_url();
        let bad = |why: &str| {
            anyhow::anyhow!(
                "public_url non valido ({url}): {why}; imposta public_url = \"https://pecdesk.esempio.it\" \
                 (o PECDESK_PUBLIC_URL) con l'indirizzo che i client di posta raggiungono / \
                 invalid public_url ({url}): {why}; set public_url = \"https://pecdesk.example.com\" \
                 (or PECDESK_PUBLIC_URL) to the address mail clients reach"
            )
        };
        let parsed =
            openidconnect::url::Url::parse(&url).map_err(|_| bad("non è un URL / not a URL"))?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("niente ? o # / no query or fragment"));
        }
        let loopback = match parsed.host() {
            Some(openidconnect::url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(openidconnect::url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(openidconnect::url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(bad("manca l'host / no host")),
        };
        match parsed.scheme() {
            "https" => Ok(()),
            "http" if loopback => Ok(()),
            "http" => Err(bad(
                "serve https se l'host non è loopback / https is required unless the host is loopback",
            )),
            _ => Err(bad("solo http o https / http or https only")),
        }
    }

    /// Whether `POST /api/v1/auth/dev-login` may answer (still loopback only).
    pub fn dev_login_enabled(&self) -> bool {
        self.demo || self.dev_mode
    }

    /// The PostgreSQL URL, when configured.
    pub fn postgres_url(&self) -> Option<&str> {
        self.database_url
            .as_ref()
            .map(|s| s.expose_secret())
            .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
    }
}

/// `url` with the password of its `user:password@` part replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The commented example printed by `pecdesk config example`.
pub const EXAMPLE: &str = r#"# pecdesk.toml — configurazione del servizio companion / companion service configuration
# Ordine / order: valori predefiniti / defaults → questo file / this file →
# variabili PECDESK_* (es. PECDESK_LISTEN, PECDESK_DATABASE_URL) → opzioni della riga di comando.

# Indirizzo di ascolto / listen address
listen = "127.0.0.1:8080"

# Cartella dei dati (il file SQLite vive qui) / data folder (the SQLite file lives here)
data_dir = "./pecdesk-data"

# PostgreSQL al posto di SQLite / PostgreSQL instead of SQLite (segreto / secret)
# database_url = "postgres://pecdesk:password@127.0.0.1:5432/pecdesk"

# Dati dimostrativi e accesso di sviluppo (solo da loopback) / demo data and dev login (loopback only)
demo = false
# Accesso di sviluppo senza dati dimostrativi / dev login without demo data
dev_mode = false

# Durata dei token di accesso (secondi) / access token lifetime (seconds)
access_token_ttl_secs = 3600

# Limiti del corpo delle richieste (byte) / request body limits (bytes)
json_body_limit = 1048576
import_body_limit = 31457280

# Connessioni al database / database connections
max_connections = 4

# Formato dei log: "text" o "json" / log format
log_format = "text"

# Indirizzo con cui i client di posta raggiungono il servizio (manifesto Outlook, estensione
# Thunderbird); https obbligatorio se l'host non è loopback. Predefinito: http://{listen}
# / the URL mail clients reach the companion at (Outlook manifest, Thunderbird extension);
# https unless the host is loopback. Default: http://{listen}
# public_url = "https://pecdesk.esempio.it"

# Certificati di CA in più (PEM): completano le catene ma non rendono nessuno un gestore PEC
# (l'elenco dei gestori è incorporato; quello di AgID si importa con `pecdesk trust import`)
# / extra CA certificates (PEM): they complete chains but make no one a PEC provider (the
# provider list is built in; import AgID's with `pecdesk trust import`), see docs/trust.md
# ca_bundle = "/etc/ssl/certs/ca-certificates.crt"

# Limiti del server HTTP / HTTP server limits
[http]
# Secondi per ricevere l'intestazione di una richiesta (e massima inattività di una
# connessione) / seconds to receive a request head (and longest idle keep-alive)
header_read_timeout_secs = 15
# Secondi per leggere il corpo e rispondere (poi 408) / seconds to read the body and answer
request_timeout_secs = 120
# Connessioni servite insieme / connections served at once
max_connections = 1024
# Byte di messaggi in importazione contemporanea (gli altri attendono) / bytes of messages
# being imported at once (more wait)
import_memory_budget = 33554432

# Punti di controllo del registro di audit fuori dal database / audit checkpoints outside
# the database (see docs/audit.md)
[audit]
# checkpoint_path = "/var/lib/pecdesk-checkpoints/audit.jsonl"
# checkpoint_webhook = "https://archivio.example/ingest"
# checkpoint_interval_secs = 3600

# Lettura IMAP delle caselle con l'ingestione attiva / IMAP polling of the mailboxes with
# ingestion enabled (see docs/operations.md, "IMAP")
[imap]
enabled = true
# Secondi tra due letture senza IDLE (e della posta inviata) / seconds between polls
# without IDLE (and of the Sent folder)
poll_interval_secs = 60
# IDLE rinnovato almeno ogni / IDLE re-issued at least every (seconds, at most 1500)
idle_timeout_secs = 1500
# Attesa dopo un errore, raddoppiata a ogni errore fino al massimo / wait after a failure,
# doubled at each failure up to the maximum (seconds)
retry_base_secs = 10
max_backoff_secs = 900
# Messaggi per lotto / messages per batch
batch_size = 200
# Byte di messaggi in memoria per lotto / bytes of messages in memory per batch
batch_bytes = 33554432
# Secondi di possesso di una casella da parte di una replica / seconds a replica holds a
# mailbox before another may take it over
lease_secs = 120
# Tempo massimo per connessione e comandi / longest wait for connecting and each command
timeout_secs = 120
# Secondi tra due riletture dell'elenco delle caselle / seconds between re-reads of the
# mailbox list
refresh_secs = 30

# Invio tramite la coda in uscita / sending through the outbox (see docs/operations.md,
# "Invio / Sending")
[outbox]
enabled = true
# Secondi tra due passate senza lavoro / seconds between passes when idle
poll_interval_secs = 2
# Messaggi presi per casella a ogni passata / rows claimed per mailbox per pass
batch_size = 100
# Messaggi al minuto per casella se la casella non lo dice (0: nessun limite) / messages per
# minute per mailbox when the mailbox sets none (0: no throttle)
default_per_minute = 0
# Secondi di possesso di un messaggio in invio / seconds a worker holds a row it sends
claim_secs = 600
# Invio incerto (interrotto): attesa della ricevuta di accettazione prima di inviare di nuovo
# / uncertain send (interrupted): wait for the acceptance receipt before sending again
uncertain_wait_secs = 900
# Tentativi per errori temporanei, attesa iniziale e massima (secondi) / attempts on
# transient failures, first and longest wait (seconds)
max_attempts = 8
retry_base_secs = 60
max_backoff_secs = 3600
# Tempo massimo per connessione, accesso e invio / longest wait for connecting, login and
# each submission (seconds)
timeout_secs = 60

# Webhook: consegna degli eventi alle integrazioni / webhooks: delivering events to
# integrations (see docs/operations.md, "Webhook")
[webhooks]
enabled = true
# Secondi tra due passate senza lavoro / seconds between passes when idle
poll_interval_secs = 2
# Consegne prese a ogni passata, e inviate insieme / deliveries claimed per pass, and sent
# at once
batch_size = 50
concurrency = 8
# Tentativi, attesa iniziale e massima (secondi, con variazione casuale) / attempts, first
# and longest wait (seconds, with jitter)
max_attempts = 10
retry_base_secs = 30
max_backoff_secs = 21600
# Tempo per la risposta del destinatario / seconds a receiver has to answer
timeout_secs = 10
# Secondi di possesso di una consegna / seconds a worker holds a delivery it sends
claim_secs = 120
# Destinazioni su indirizzi privati o locali (sempre con --demo) / targets on private or
# loopback addresses (always with --demo)
allow_private_targets = false
# Allarmi di scadenza e delle caselle / SLA and mailbox alarms (see docs/operations.md,
# "Allarmi / Alarms"). Ogni allarme scatta una volta sola anche con più repliche / each
# alarm fires once, even with several replicas.
[alarms]
enabled = true
# Secondi tra due passate / seconds between passes
interval_secs = 60
# Preavviso prima della scadenza e segnalazione ai responsabili dopo (secondi) / warning
# before the due date and escalation to the supervisors after it (seconds)
before_secs = 86400
escalation_after_secs = 86400
# PEC inviata senza ricevuta di consegna dopo (secondi) / sent PEC without delivery receipt
# after (seconds)
unconfirmed_after_secs = 86400
# Casella piena entro, password in scadenza entro (giorni); lettura in errore da (minuti) /
# mailbox full within, password expiring within (days); ingestion failing for (minutes)
quota_days = 7
password_days = 14
ingest_failing_minutes = 60
# Scadenze e invii più vecchi di questi giorni non sono più guardati / due dates and sends
# older than this many days are not looked at any more
lookback_days = 30
# Server SMTP degli e-mail di allarme (senza: conservati come "non inviati") / SMTP server
# of the alarm e-mails (unset: kept as "not sent"). smtp:// in chiaro solo verso loopback /
# plain smtp:// towards loopback only; else smtp://host:587?tls=required or smtps://
# smtp_url = "smtps://utente:password@smtp.ente.it:465"
from = "PecDesk <pecdesk@localhost>"
max_attempts = 8
retry_base_secs = 60
timeout_secs = 30

# File dei componenti aggiuntivi (Outlook, Thunderbird), relativi alla cartella corrente
# / the add-ins' files (Outlook, Thunderbird), relative to the current directory
# (see addin/README.md)
[addin]
# Sorgenti: pane/, outlook/, webext/ / sources
dir = "addin"
# outlook.xml e thunderbird.json
manifests_dir = "manifests"
# Il WebAssembly compilato da ./scripts/build-wasm / the WebAssembly built by it
wasm_dir = "target/pecdesk-wasm/web"

# La scrivania web servita a / (see docs/desk.md) / the web desk served at /
[desk]
# I file della scrivania, relativi alla cartella corrente / the desk's files, relative to
# the current directory
dir = "companion/desk"

# Invii massivi / mass sends (see docs/API.md, "Campaigns")
[campaigns]
# Destinatari al massimo per invio / recipients at most per send
max_recipients = 20000
"#;

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_to_the_defaults() {
        let fig =
            Figment::from(Serialized::defaults(Defaults::default())).merge(Toml::string(EXAMPLE));
        let s: Settings = fig.extract().expect("example parses");
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert!(!s.demo);
        assert!(s.database_url.is_none());
    }

    #[test]
    fn example_config_sets_the_addin_folders_and_no_public_url() {
        let fig =
            Figment::from(Serialized::defaults(Defaults::default())).merge(Toml::string(EXAMPLE));
        let s: Settings = fig.extract().expect("example parses");
        assert_eq!(s.addin.dir, PathBuf::from("addin"));
        assert_eq!(s.addin.manifests_dir, PathBuf::from("manifests"));
        assert_eq!(s.addin.wasm_dir, PathBuf::from("target/pecdesk-wasm/web"));
        assert_eq!(s.desk.dir, PathBuf::from("companion/desk"));
        assert_eq!(s.public_url(), "http://127.0.0.1:8080");
        s.check_public_url().expect("loopback http is fine");
    }

    #[test]
    fn public_url_must_be_https_unless_loopback() {
        let mut s = Settings::for_data_dir("/tmp/x");
        for ok in [
            "https://pecdesk.esempio.it",
            "https://pecdesk.esempio.it/",
            "https://10.0.0.5:8443",
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
        ] {
            s.public_url = Some(ok.into());
            s.check_public_url().unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(!s.public_url().ends_with('/'), "{ok}");
        }
        for bad in [
            "http://pecdesk.esempio.it",
            "http://0.0.0.0:8080",
            "http://192.168.1.2:8080",
            "ftp://pecdesk.esempio.it",
            "https://pecdesk.esempio.it/?x=1",
            "pecdesk.esempio.it",
        ] {
            s.public_url = Some(bad.into());
            let e = s.check_public_url().expect_err(bad);
            assert!(format!("{e}").contains("public_url"), "{bad}: {e}");
        }
        // Derived from a listen address that is not loopback: refused too, with the fix.
        s.public_url = None;
        s.listen = "0.0.0.0:8080".parse().expect("addr");
        let e = s.check_public_url().expect_err("0.0.0.0");
        assert!(format!("{e}").contains("PECDESK_PUBLIC_URL"), "{e}");
    }

    #[test]
    fn debug_output_redacts_the_database_url() {
        let mut s = Settings::for_data_dir("/tmp/x");
        s.database_url = Some(SecretString::from("postgres://u:hunter2@h/db"));
        assert!(!format!("{s:?}").contains("hunter2"));
        assert_eq!(s.postgres_url(), Some("postgres://u:hunter2@h/db"));
        assert!(!s.database_label().contains("hunter2"));
        assert!(s.database_label().contains("postgres://u:***@h/db"));
    }

    #[test]
    fn a_database_url_that_is_not_postgres_is_refused_not_ignored() {
        let o = Overrides {
            database_url: Some("mysql://u:pw@h/db".into()),
            ..Overrides::default()
        };
        let e = Settings::load(None, &o).expect_err("refused");
        let msg = format!("{e:#}");
        assert!(
            msg.contains("postgres://") && msg.contains("mysql://u:***@h/db"),
            "{msg}"
        );
    }
}
