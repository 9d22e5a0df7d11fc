//! Administration of an organisation: mailboxes with their IMAP and SMTP settings, teams
//! and their members, grants of the five policies to users and teams. Used by the HTTP API
//! (after `Operation::Administer`) and by the `pecdesk mailbox|team|grant` commands (which
//! act on the database directly, actor NULL in the audit log).
//!
//! Security invariants kept here:
//! - a password is sealed with the master key on its way in ([`mailboxes::set_endpoint`])
//!   and never leaves: views say only `password_set`; audit details name the fields
//!   changed, never values; the request types hold it as [`SecretString`] (redacted
//!   `Debug`);
//! - `plain` (no encryption) is accepted only towards a loopback host;
//! - every id is looked up in the caller's organisation first: another organisation's
//!   mailbox, team, user or grant answers 404.

use std::net::IpAddr;

use pecdesk_core::ids::EmailAddress;
use pecdesk_core::policy::{Policy, Role};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};

use crate::auth::secrets::MasterKey;
use crate::error::{Error, Result};
use crate::limits;
use crate::store::admin::{
    self as db, GrantFilter, GrantRow, Holder, MailboxFields, MailboxSettingsRow, TeamAdminRow,
};
use crate::store::audit::{Action, Chain, Entry};
use crate::store::mailboxes::{self, EndpointInput, Protocol, Security};
use crate::store::{Store, WriteTx, ms_to_rfc3339, now_ms, parse_ts, users};

/// How many days before the app password expires the warning shows.
pub const APP_PASSWORD_WARNING_DAYS: i64 = 14;
const DAY_MS: i64 = 86_400_000;
/// Longest mailbox or team name.
const NAME_MAX: usize = 200;
/// Longest host name (RFC 1035).
const HOST_MAX: usize = 253;
/// Longest user name and password.
const USER_MAX: usize = 320;
const PASSWORD_MAX: usize = 1024;
/// Longest folder name.
const FOLDER_MAX: usize = 255;

/// Who acts: the organisation and the user (`None` from the command line).
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The organisation acted on.
    pub org_id: &'a str,
    /// The administrator (`None`: the `pecdesk` command line).
    pub user_id: Option<&'a str>,
}

/// `null` → `Some(None)`, absent → `None`, value → `Some(Some(v))`.
pub(crate) fn double_option<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// ---- requests ------------------------------------------------------------------------

/// IMAP or SMTP settings. On creation every field but `password`'s absence is required; on
/// `PATCH` only the fields present change and an absent `password` keeps the stored one.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    /// Host name or address.
    pub host: Option<String>,
    /// TCP port (1..=65535).
    pub port: Option<i64>,
    /// `tls` (implicit TLS), `starttls`, or `plain` (only towards a loopback host).
    pub security: Option<Security>,
    /// User name.
    pub user: Option<String>,
    /// Password or app password: write-only, sealed at rest, never returned.
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretString>,
    /// IMAP only: the folder of sent messages (`null`: found by SPECIAL-USE `\Sent`).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub sent_folder: Option<Option<String>>,
}

/// Body of `POST /api/v1/mailboxes`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMailboxRequest {
    /// The PEC address (unique).
    pub address: String,
    /// Display name.
    pub name: String,
    /// How to read the box.
    pub imap: Option<EndpointRequest>,
    /// How to send from it.
    pub smtp: Option<EndpointRequest>,
    /// When the (app) password expires (RFC 3339 or `YYYY-MM-DD`): warned 14 days before.
    pub app_password_expires_at: Option<String>,
    /// The box's size by contract, for servers without IMAP QUOTA.
    pub quota_bytes: Option<i64>,
    /// Whether the companion polls it (default: true when `imap` is given).
    pub ingest_enabled: Option<bool>,
    /// The SLA calendar (`{time_zone?, office_hours?, patron_day?}`; absent: Monday to
    /// Friday 09:00–18:00, Europe/Rome, no patron day).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub sla: Option<pecdesk_core::sla::SlaSettings>,
}

/// Body of `PATCH /api/v1/mailboxes/{id}`: only the fields present change (`null` clears
/// the expiry date and the quota).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchMailboxRequest {
    /// Display name.
    pub name: Option<String>,
    /// IMAP settings to change (absent `password`: the stored one stays).
    pub imap: Option<EndpointRequest>,
    /// SMTP settings to change (absent `password`: the stored one stays).
    pub smtp: Option<EndpointRequest>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub app_password_expires_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub quota_bytes: Option<Option<i64>>,
    /// Whether the companion polls it (needs complete IMAP settings).
    pub ingest_enabled: Option<bool>,
    /// The provider's sending limits at once: `aruba` (no per-minute limit, 500 recipients,
    /// 100 MB) or `legalmail` (6 a minute, 500 recipients, 100 MB). The `send_*` fields
    /// given beside it win.
    pub send_preset: Option<crate::outbox::Preset>,
    /// Messages per minute (`0`: no throttle; `null`: the service default).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub send_per_minute: Option<Option<i64>>,
    /// Recipients per message (`null`: 500).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub send_max_recipients: Option<Option<i64>>,
    /// Bytes per message (`null`: 100 MB).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub send_max_bytes: Option<Option<i64>>,
    /// The SLA calendar, replaced whole (`{time_zone?, office_hours?, patron_day?}`, absent
    /// fields at their default; `null`: back to Monday to Friday 09:00–18:00, Europe/Rome,
    /// no patron day).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Object>)]
    pub sla: Option<Option<pecdesk_core::sla::SlaSettings>>,
    /// Retention of the mailbox's messages: `{days: N}` (1..=36500) or `{days: null}`
    /// (kept forever, nothing may be purged).
    pub retention: Option<crate::domain::retention::Retention>,
    /// The archive policy: `{expunge_after_days: N}` (N ≥ 1: messages older than N days
    /// leave the provider's box once stored byte for byte) or `{expunge_after_days: null}`
    /// (off).
    pub archive: Option<ArchiveRequest>,
}

/// The archive policy in `PATCH /api/v1/mailboxes/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    /// Days (at least 1) after which a stored message is expunged from the box; `null`:
    /// never (the policy is off). Required.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub expunge_after_days: Option<Option<i64>>,
}

/// The archive policy as shown back.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ArchiveView {
    /// Days after which stored messages are expunged from the box (`null`: off).
    pub expunge_after_days: Option<i64>,
}

/// The last archive run (on `health.archive`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ArchiveRunView {
    /// When the last poll with the policy on ended.
    pub last_run_at: Option<String>,
    /// Messages it expunged from the box.
    pub expunged: i64,
    /// Bytes it freed.
    pub bytes_freed: i64,
    /// Why nothing can be expunged (words an administrator can act on), when so.
    pub unavailable: Option<String>,
    /// Messages expunged from the box so far (all runs).
    pub total_expunged: i64,
    /// Bytes freed so far (all runs).
    pub total_bytes_freed: i64,
}

/// Body of `POST /api/v1/teams`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTeamRequest {
    /// Name (unique in the organisation).
    pub name: String,
    /// Made of people outside the organisation (an external firm).
    #[serde(default)]
    pub external: bool,
}

/// Body of `PATCH /api/v1/teams/{id}`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTeamRequest {
    pub name: Option<String>,
    pub external: Option<bool>,
}

/// Body of `POST /api/v1/grants`: one holder (user or team), one policy or one role.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    pub mailbox_id: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    /// `MAIL_ACCOUNT_READER`, `MAIL_ACCOUNT_MANAGER`, `MAIL_ACTIVITY_READER`,
    /// `MAIL_ACTIVITY_WRITER` or `MAIL_ACTIVITY_MANAGER`.
    pub policy: Option<String>,
    /// `Responsabile` (all five), `Assegnatario` (activity reader + writer) or
    /// `Smistatore` (activity manager + account reader + account manager).
    pub role: Option<String>,
}

// ---- views ---------------------------------------------------------------------------

/// Connection settings as shown back: never the password, only whether one is stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: String,
    /// Whether a password is stored (it is never returned).
    pub password_set: bool,
    /// IMAP only: the Sent folder the admin named (absent: SPECIAL-USE `\Sent`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_folder: Option<String>,
}

/// What the poller last saw of the mailbox (`mailbox_health`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HealthView {
    pub last_success_at: Option<String>,
    pub last_error_at: Option<String>,
    /// `auth`, `tls`, `connect`, `protocol`, ...
    pub last_error_code: Option<String>,
    /// In words an administrator can act on.
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
    pub next_attempt_at: Option<String>,
    /// Whether the server offered IDLE at the last connection.
    pub idle: Option<bool>,
    /// The last archive run (`GET /api/v1/mailboxes/{id}` only; absent before any run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveRunView>,
}

/// Where `quota` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuotaSource {
    /// IMAP QUOTA, as the server reported it.
    Imap,
    /// The size the administrator entered (`quota_bytes`).
    Configured,
}

/// The box's occupation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QuotaView {
    /// Bytes used (only from IMAP QUOTA).
    pub used_bytes: Option<i64>,
    pub total_bytes: Option<i64>,
    pub source: QuotaSource,
    /// When the server reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_at: Option<String>,
}

/// The app password's expiry and its warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AppPasswordView {
    pub expires_at: String,
    /// Whole days left (negative once expired).
    pub expires_in_days: i64,
    /// True within 14 days of the expiry and after it.
    pub warning: bool,
    /// What to do (Italian / English), with the warning only.
    pub message: Option<String>,
}

/// A mailbox as its administrator sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MailboxAdminView {
    pub id: String,
    pub address: String,
    pub name: String,
    pub ingest_enabled: bool,
    pub imap: Option<EndpointView>,
    pub smtp: Option<EndpointView>,
    pub app_password: Option<AppPasswordView>,
    pub quota: Option<QuotaView>,
    /// Absent until the poller has tried the mailbox.
    pub health: Option<HealthView>,
    /// The sending limits in force (the outbox throttles to `per_minute`; campaigns
    /// validate against the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_limits: Option<crate::outbox::SendLimits>,
    /// The SLA calendar due dates count on (`{time_zone, office_hours: {mon: ["09:00-18:00"],
    /// ...}, patron_day}`; shown by `GET /api/v1/mailboxes/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub sla: Option<pecdesk_core::sla::SlaSettings>,
    /// Retention of the mailbox's messages (`{days: null}`: kept forever; shown by
    /// `GET /api/v1/mailboxes/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<crate::domain::retention::Retention>,
    /// The archive policy (shown by `GET /api/v1/mailboxes/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveView>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// A team as its administrator sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TeamAdminView {
    pub id: String,
    pub name: String,
    pub external: bool,
    pub members: i64,
}

/// One grant: a policy on a mailbox, to a user or a team.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantView {
    pub id: String,
    pub mailbox_id: String,
    pub mailbox_address: String,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub policy: String,
}

/// Answer of `POST /api/v1/grants`: the grants the request asked for (those already held
/// included) and how many were new.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantsResponse {
    pub grants: Vec<GrantView>,
    pub created: usize,
}

impl From<GrantRow> for GrantView {
    fn from(r: GrantRow) -> Self {
        Self {
            id: r.id,
            mailbox_id: r.mailbox_id,
            mailbox_address: r.mailbox_address,
            user_id: r.user_id,
            user_name: r.user_name,
            team_id: r.team_id,
            team_name: r.team_name,
            policy: r.policy,
        }
    }
}

impl From<TeamAdminRow> for TeamAdminView {
    fn from(r: TeamAdminRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            external: r.external,
            members: r.members,
        }
    }
}

/// The app password's state at `now` (ms): days left, and a warning within
/// [`APP_PASSWORD_WARNING_DAYS`] of the expiry or after it.
pub fn app_password_view(expires_at: i64, now: i64) -> AppPasswordView {
    let left = expires_at - now;
    let days = left.div_euclid(DAY_MS);
    let date = ms_to_rfc3339(expires_at);
    let day = date.get(..10).unwrap_or(&date).to_owned();
    let (warning, message) = if left <= 0 {
        (
            true,
            Some(format!(
                "la password per app è scaduta il {day}: creane una nuova presso il gestore e \
                 inseriscila qui / the app password expired on {day}: create a new one at the \
                 provider and enter it here"
            )),
        )
    } else if left <= APP_PASSWORD_WARNING_DAYS * DAY_MS {
        (
            true,
            Some(format!(
                "la password per app scade il {day} (tra {days} giorni): rinnovala presso il \
                 gestore e aggiornala qui / the app password expires on {day} (in {days} days): \
                 renew it at the provider and update it here"
            )),
        )
    } else {
        (false, None)
    };
    AppPasswordView {
        expires_at: date,
        expires_in_days: days,
        warning,
        message,
    }
}

fn endpoint_view(
    host: Option<String>,
    port: Option<i32>,
    security: Option<String>,
    user: Option<String>,
    password_set: bool,
    sent_folder: Option<String>,
) -> Option<EndpointView> {
    Some(EndpointView {
        host: host?,
        port: u16::try_from(port?).unwrap_or(0),
        security: Security::parse(&security?)?,
        user: user?,
        password_set,
        sent_folder,
    })
}

/// The administrator's view of a stored mailbox at `now` (ms).
pub fn mailbox_view(r: MailboxSettingsRow, now: i64) -> MailboxAdminView {
    let quota = match (r.quota_used_kb, r.quota_total_kb, r.quota_bytes) {
        (used, Some(total), _) => Some(QuotaView {
            used_bytes: used.map(|kb| kb.saturating_mul(1024)),
            total_bytes: Some(total.saturating_mul(1024)),
            source: QuotaSource::Imap,
            read_at: r.quota_read_at.map(ms_to_rfc3339),
        }),
        (_, None, Some(bytes)) => Some(QuotaView {
            used_bytes: None,
            total_bytes: Some(bytes),
            source: QuotaSource::Configured,
            read_at: None,
        }),
        _ => None,
    };
    let health = r.has_health.then(|| HealthView {
        last_success_at: r.last_success_at.map(ms_to_rfc3339),
        last_error_at: r.last_error_at.map(ms_to_rfc3339),
        last_error_code: r.last_error_code.clone(),
        last_error: r.last_error.clone(),
        consecutive_failures: r.consecutive_failures.unwrap_or(0),
        next_attempt_at: r.next_attempt_at.map(ms_to_rfc3339),
        idle: r.idle,
        archive: None,
    });
    MailboxAdminView {
        imap: endpoint_view(
            r.imap_host,
            r.imap_port,
            r.imap_security,
            r.imap_user,
            r.imap_password_set,
            r.imap_sent_folder,
        ),
        smtp: endpoint_view(
            r.smtp_host,
            r.smtp_port,
            r.smtp_security,
            r.smtp_user,
            r.smtp_password_set,
            None,
        ),
        app_password: r
            .app_password_expires_at
            .map(|at| app_password_view(at, now)),
        quota,
        send_limits: None,
        sla: None,
        retention: None,
        archive: None,
        health,
        id: r.id,
        address: r.address,
        name: r.name,
        ingest_enabled: r.ingest_enabled,
        created_at: ms_to_rfc3339(r.created_at),
        updated_at: r.updated_at.map(ms_to_rfc3339),
    }
}

// ---- validation ----------------------------------------------------------------------

/// Whether `host` is a loopback host (`localhost`, 127.0.0.0/8, `::1`).
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A host name (RFC 1123 labels) or an IP address; IPv6 brackets are dropped.
fn check_host(field: &str, host: &str) -> Result<String> {
    limits::line(field, host, HOST_MAX)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(bare.to_owned());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if host.is_empty() || !host.trim_end_matches('.').split('.').all(label_ok) {
        return Err(Error::invalid(format!(
            "campo `{field}`: nome host o indirizzo IP non valido / field `{field}`: not a valid \
             host name or IP address"
        )));
    }
    Ok(host.to_ascii_lowercase())
}

fn check_port(field: &str, port: i64) -> Result<u16> {
    u16::try_from(port).ok().filter(|p| *p != 0).ok_or_else(|| {
        Error::invalid(format!(
            "campo `{field}`: porta tra 1 e 65535 / field `{field}`: port between 1 and 65535"
        ))
    })
}

fn check_name(field: &str, name: &str) -> Result<String> {
    limits::line(field, name, NAME_MAX)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid(format!(
            "campo `{field}`: obbligatorio / field `{field}`: required"
        )));
    }
    Ok(name.to_owned())
}

fn check_quota(q: i64) -> Result<i64> {
    if q <= 0 {
        return Err(Error::invalid(
            "campo `quota_bytes`: un numero di byte positivo / field `quota_bytes`: a positive number of bytes",
        ));
    }
    Ok(q)
}

fn check_date(s: &str) -> Result<i64> {
    limits::line("app_password_expires_at", s, 40)?;
    parse_ts(s).ok_or_else(|| {
        Error::invalid(
            "campo `app_password_expires_at`: data RFC 3339 o AAAA-MM-GG / field \
             `app_password_expires_at`: an RFC 3339 date-time or YYYY-MM-DD",
        )
    })
}

/// Settings of one protocol after merging a request with what is stored, checked.
#[derive(Debug)]
struct ValidEndpoint {
    host: String,
    port: u16,
    security: Security,
    user: String,
    /// The new password (`None`: the stored one stays).
    password: Option<SecretString>,
    /// Whether the endpoint ends with a password (new or stored).
    has_password: bool,
}

/// What is stored of one protocol.
#[derive(Debug, Default)]
struct Stored {
    host: Option<String>,
    port: Option<i32>,
    security: Option<String>,
    user: Option<String>,
    password_set: bool,
}

impl Stored {
    fn imap(r: &MailboxSettingsRow) -> Self {
        Self {
            host: r.imap_host.clone(),
            port: r.imap_port,
            security: r.imap_security.clone(),
            user: r.imap_user.clone(),
            password_set: r.imap_password_set,
        }
    }
    fn smtp(r: &MailboxSettingsRow) -> Self {
        Self {
            host: r.smtp_host.clone(),
            port: r.smtp_port,
            security: r.smtp_security.clone(),
            user: r.smtp_user.clone(),
            password_set: r.smtp_password_set,
        }
    }
}

fn missing(p: &str, field: &str) -> Error {
    Error::invalid(format!(
        "impostazioni {up} incomplete: manca `{p}.{field}` / {up} settings incomplete: \
         `{p}.{field}` is missing",
        up = p.to_uppercase()
    ))
}

/// Merges `req` over `stored` for protocol `p` (`imap` or `smtp`) and checks the result.
fn merge_endpoint(p: &str, stored: Stored, req: &EndpointRequest) -> Result<ValidEndpoint> {
    let host = match (&req.host, stored.host) {
        (Some(h), _) => check_host(&format!("{p}.host"), h)?,
        (None, Some(h)) => h,
        (None, None) => return Err(missing(p, "host")),
    };
    let port = match (req.port, stored.port) {
        (Some(n), _) => check_port(&format!("{p}.port"), n)?,
        (None, Some(n)) => check_port(&format!("{p}.port"), i64::from(n))?,
        (None, None) => return Err(missing(p, "port")),
    };
    let security = match (
        req.security,
        stored.security.as_deref().and_then(Security::parse),
    ) {
        (Some(s), _) | (None, Some(s)) => s,
        (None, None) => return Err(missing(p, "security")),
    };
    let user = match (&req.user, stored.user) {
        (Some(u), _) => {
            limits::line(&format!("{p}.user"), u, USER_MAX)?;
            if u.is_empty() {
                return Err(missing(p, "user"));
            }
            u.clone()
        }
        (None, Some(u)) => u,
        (None, None) => return Err(missing(p, "user")),
    };
    if let Some(pw) = &req.password {
        let text = pw.expose_secret();
        if text.is_empty() {
            return Err(missing(p, "password"));
        }
        // Never echo the value: only the field's name is in the message.
        limits::text(&format!("{p}.password"), text, PASSWORD_MAX)?;
    }
    let has_password = req.password.is_some() || stored.password_set;
    if !has_password {
        return Err(missing(p, "password"));
    }
    // A password over an unencrypted connection would travel in clear: only towards this
    // machine (tests, a local bridge).
    if security == Security::Plain && !is_loopback(&host) {
        return Err(Error::invalid(format!(
            "`{p}.security` plain (senza cifratura) è ammesso solo verso localhost, 127.0.0.0/8 o \
             ::1: usa tls o starttls verso {host} / `{p}.security` plain (no encryption) is allowed \
             only towards localhost, 127.0.0.0/8 or ::1: use tls or starttls towards {host}"
        )));
    }
    if p == "smtp" && req.sent_folder.is_some() {
        return Err(Error::invalid(
            "`sent_folder` vale solo per IMAP / `sent_folder` applies to IMAP only",
        ));
    }
    Ok(ValidEndpoint {
        host,
        port,
        security,
        user,
        password: req.password.clone(),
        has_password,
    })
}

fn check_sent_folder(f: &str) -> Result<String> {
    limits::line("imap.sent_folder", f, FOLDER_MAX)?;
    if f.trim().is_empty() {
        return Err(missing("imap", "sent_folder"));
    }
    Ok(f.to_owned())
}

/// A unique violation (the address or name is taken) as 409 with `msg`.
fn conflict_on_unique(e: Error, msg: &str) -> Error {
    match e {
        Error::Database(sqlx::Error::Database(db)) if db.is_unique_violation() => {
            Error::conflict(msg)
        }
        e => e,
    }
}

async fn write_endpoint(
    tx: &mut WriteTx,
    master: &MasterKey,
    mailbox_id: &str,
    protocol: Protocol,
    e: &ValidEndpoint,
) -> Result<()> {
    mailboxes::set_endpoint(
        tx,
        master,
        mailbox_id,
        protocol,
        &EndpointInput {
            host: &e.host,
            port: e.port,
            security: e.security,
            user: &e.user,
            secret: e.password.as_ref(),
        },
    )
    .await
}

fn ingest_needs_imap() -> Error {
    Error::invalid(
        "per leggere la casella (ingest_enabled) servono le impostazioni IMAP complete / reading \
         the mailbox (ingest_enabled) needs complete IMAP settings",
    )
}

// ---- mailboxes -----------------------------------------------------------------------

/// Creates a mailbox with its settings; returns the administrator's view.
pub async fn create_mailbox(
    store: &Store,
    master: &MasterKey,
    actor: Actor<'_>,
    req: CreateMailboxRequest,
) -> Result<MailboxAdminView> {
    limits::line("address", &req.address, USER_MAX)?;
    let address = EmailAddress::parse(req.address.trim())?;
    let name = check_name("name", &req.name)?;
    let imap = req
        .imap
        .as_ref()
        .map(|r| merge_endpoint("imap", Stored::default(), r))
        .transpose()?;
    let smtp = req
        .smtp
        .as_ref()
        .map(|r| merge_endpoint("smtp", Stored::default(), r))
        .transpose()?;
    let sent_folder = match req
        .imap
        .as_ref()
        .and_then(|r| r.sent_folder.clone())
        .flatten()
    {
        Some(f) => Some(check_sent_folder(&f)?),
        None => None,
    };
    let expires = req
        .app_password_expires_at
        .as_deref()
        .map(check_date)
        .transpose()?;
    let quota = req.quota_bytes.map(check_quota).transpose()?;
    let ingest = req.ingest_enabled.unwrap_or(imap.is_some());
    if ingest && imap.is_none() {
        return Err(ingest_needs_imap());
    }
    let sla = req
        .sla
        .as_ref()
        .map(crate::domain::sla::check_settings)
        .transpose()?;

    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let id = users::insert_mailbox(&mut tx, actor.org_id, address.as_str(), &name)
        .await
        .map_err(|e| {
            conflict_on_unique(
                e,
                "esiste già una casella con questo indirizzo / a mailbox with this address already exists",
            )
        })?;
    if let Some(e) = &imap {
        write_endpoint(&mut tx, master, &id, Protocol::Imap, e).await?;
    }
    if let Some(e) = &smtp {
        write_endpoint(&mut tx, master, &id, Protocol::Smtp, e).await?;
    }
    db::set_mailbox_fields(
        &mut tx,
        &id,
        &MailboxFields {
            name: &name,
            imap_sent_folder: sent_folder.as_deref(),
            app_password_expires_at: expires,
            quota_bytes: quota,
            ingest_enabled: ingest,
        },
    )
    .await?;
    if let Some((_, json)) = &sla {
        mailboxes::set_sla_calendar(&mut tx, &id, Some(json)).await?;
    }
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::MailboxCreate,
        object_type: "mailbox",
        object_id: &id,
        details: serde_json::json!({
            "imap": imap.is_some(),
            "smtp": smtp.is_some(),
            "ingest_enabled": ingest,
            "sla": sla.is_some(),
        }),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(mailbox.id = %id, "mailbox created");
    get_mailbox(store, actor.org_id, &id).await
}

/// The administrator's view of mailbox `id` (404 when not of the organisation).
pub async fn get_mailbox(store: &Store, org_id: &str, id: &str) -> Result<MailboxAdminView> {
    let row = db::mailbox_settings(store, org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut v = mailbox_view(row, now_ms());
    v.send_limits = Some(crate::outbox::limits(store, id).await?);
    v.sla = Some(crate::domain::sla::calendar(store, id).await?.settings());
    v.retention = Some(crate::domain::retention::retention(store, id).await?);
    v.archive = Some(ArchiveView {
        expunge_after_days: crate::store::archive::policy(store, id).await?,
    });
    if let Some(h) = v.health.as_mut()
        && let Some(r) = crate::store::archive::last_run(store, id).await?
        && (r.archive_run_at.is_some() || r.archive_unavailable.is_some())
    {
        let (total_expunged, total_bytes_freed) = crate::store::archive::totals(store, id).await?;
        h.archive = Some(ArchiveRunView {
            last_run_at: r.archive_run_at.map(ms_to_rfc3339),
            expunged: r.archive_expunged.unwrap_or(0),
            bytes_freed: r.archive_bytes_freed.unwrap_or(0),
            unavailable: r.archive_unavailable,
            total_expunged,
            total_bytes_freed,
        });
    }
    Ok(v)
}

/// The archive policy of a PATCH: `Some(days)` to write (`None` inside: off).
fn check_archive(req: &ArchiveRequest) -> Result<Option<i64>> {
    match req.expunge_after_days {
        None => Err(Error::invalid(
            "campo `archive.expunge_after_days`: un numero di giorni (almeno 1) o null per \
             disattivare / field `archive.expunge_after_days`: a number of days (at least 1) \
             or null to turn it off",
        )),
        Some(Some(d)) if !(1..=36_500).contains(&d) => Err(Error::invalid(
            "`archive.expunge_after_days`: tra 1 e 36500 giorni / between 1 and 36500 days",
        )),
        Some(d) => Ok(d),
    }
}

/// Every mailbox of the organisation as its administrator sees it.
pub async fn list_mailboxes(store: &Store, org_id: &str) -> Result<Vec<MailboxAdminView>> {
    let now = now_ms();
    Ok(db::mailboxes_settings(store, org_id)
        .await?
        .into_iter()
        .map(|r| mailbox_view(r, now))
        .collect())
}

/// Changes the fields present in `req`; an absent password keeps the stored one.
pub async fn update_mailbox(
    store: &Store,
    master: &MasterKey,
    actor: Actor<'_>,
    id: &str,
    req: PatchMailboxRequest,
) -> Result<MailboxAdminView> {
    let name = req
        .name
        .as_deref()
        .map(|n| check_name("name", n))
        .transpose()?;
    let expires = match &req.app_password_expires_at {
        Some(Some(s)) => Some(Some(check_date(s)?)),
        Some(None) => Some(None),
        None => None,
    };
    let quota = match req.quota_bytes {
        Some(Some(q)) => Some(Some(check_quota(q)?)),
        Some(None) => Some(None),
        None => None,
    };
    let sent_folder = match req.imap.as_ref().and_then(|r| r.sent_folder.clone()) {
        Some(Some(f)) => Some(Some(check_sent_folder(&f)?)),
        other => other,
    };
    let sla = match &req.sla {
        Some(Some(s)) => Some(Some(crate::domain::sla::check_settings(s)?.1)),
        Some(None) => Some(None),
        None => None,
    };
    let retention = req
        .retention
        .as_ref()
        .map(crate::domain::retention::check_retention)
        .transpose()?;
    let archive = req.archive.as_ref().map(check_archive).transpose()?;

    // Read inside the transaction: it holds the organisation's chain head, so two edits of
    // the same mailbox apply one after the other, each merging over the other's result.
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let stored = db::mailbox_settings_tx(&mut tx, actor.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let imap = req
        .imap
        .as_ref()
        .map(|r| merge_endpoint("imap", Stored::imap(&stored), r))
        .transpose()?;
    let smtp = req
        .smtp
        .as_ref()
        .map(|r| merge_endpoint("smtp", Stored::smtp(&stored), r))
        .transpose()?;
    let imap_complete = imap.as_ref().is_some_and(|e| e.has_password)
        || (stored.imap_host.is_some() && stored.imap_password_set);
    let ingest = req.ingest_enabled.unwrap_or(stored.ingest_enabled);
    if ingest && req.ingest_enabled == Some(true) && !imap_complete {
        return Err(ingest_needs_imap());
    }

    let mut fields: Vec<&str> = Vec::new();
    let mut secrets: Vec<&str> = Vec::new();
    if let Some(e) = &imap {
        write_endpoint(&mut tx, master, id, Protocol::Imap, e).await?;
        fields.push("imap");
        if e.password.is_some() {
            secrets.push("imap");
        }
    }
    if let Some(e) = &smtp {
        write_endpoint(&mut tx, master, id, Protocol::Smtp, e).await?;
        fields.push("smtp");
        if e.password.is_some() {
            secrets.push("smtp");
        }
    }
    for (present, field) in [
        (name.is_some(), "name"),
        (sent_folder.is_some(), "imap.sent_folder"),
        (expires.is_some(), "app_password_expires_at"),
        (quota.is_some(), "quota_bytes"),
        (req.ingest_enabled.is_some(), "ingest_enabled"),
        (req.send_preset.is_some(), "send_preset"),
        (req.send_per_minute.is_some(), "send_per_minute"),
        (req.send_max_recipients.is_some(), "send_max_recipients"),
        (req.send_max_bytes.is_some(), "send_max_bytes"),
        (sla.is_some(), "sla"),
        (retention.is_some(), "retention"),
        (archive.is_some(), "archive.expunge_after_days"),
    ] {
        if present {
            fields.push(field);
        }
    }
    let folder = match sent_folder {
        Some(f) => f,
        None => stored.imap_sent_folder.clone(),
    };
    db::set_mailbox_fields(
        &mut tx,
        id,
        &MailboxFields {
            name: name.as_deref().unwrap_or(&stored.name),
            imap_sent_folder: folder.as_deref(),
            app_password_expires_at: expires.unwrap_or(stored.app_password_expires_at),
            quota_bytes: quota.unwrap_or(stored.quota_bytes),
            ingest_enabled: ingest,
        },
    )
    .await?;
    write_send_limits(&mut tx, id, &req).await?;
    if let Some(calendar) = &sla {
        mailboxes::set_sla_calendar(&mut tx, id, calendar.as_deref()).await?;
    }
    if let Some(days) = archive {
        crate::store::archive::set_policy(&mut tx, id, days).await?;
    }
    let mut details = serde_json::json!({ "fields": fields, "secrets_changed": secrets });
    if let Some(days) = retention {
        // Old and new retention: what a later purge was allowed to take depends on it.
        let old = crate::store::retention::retention_days_tx(&mut tx, id).await?;
        crate::store::retention::set_retention_days(&mut tx, id, days).await?;
        details["retention_days"] = serde_json::json!({"old": old, "new": days});
    }
    if let Some(days) = archive {
        // The policy's value is not personal data: the audit tells what it became.
        details["archive_expunge_after_days"] = serde_json::json!(days);
    }
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::MailboxUpdate,
        object_type: "mailbox",
        object_id: id,
        details,
    })
    .await?;
    tx.commit().await?;
    tracing::info!(mailbox.id = %id, "mailbox settings changed");
    get_mailbox(store, actor.org_id, id).await
}

/// A mailbox's state at a glance, in the administrator's mailbox list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MailboxSummary {
    pub ingest_enabled: bool,
    /// Whether IMAP settings with a password are stored.
    pub imap_configured: bool,
    /// The last error's code while the poller keeps failing (`auth`, `tls`, ...).
    pub failing: Option<String>,
    pub consecutive_failures: i64,
    pub last_success_at: Option<String>,
    /// The app password expires within 14 days or has expired.
    pub app_password_warning: bool,
    /// What to do about it (Italian / English).
    pub app_password_message: Option<String>,
}

impl From<&MailboxAdminView> for MailboxSummary {
    fn from(v: &MailboxAdminView) -> Self {
        let h = v.health.as_ref();
        let failures = h.map_or(0, |h| h.consecutive_failures);
        Self {
            ingest_enabled: v.ingest_enabled,
            imap_configured: v.imap.as_ref().is_some_and(|e| e.password_set),
            failing: h
                .filter(|_| failures > 0)
                .and_then(|h| h.last_error_code.clone()),
            consecutive_failures: failures,
            last_success_at: h.and_then(|h| h.last_success_at.clone()),
            app_password_warning: v.app_password.as_ref().is_some_and(|a| a.warning),
            app_password_message: v.app_password.as_ref().and_then(|a| a.message.clone()),
        }
    }
}

/// The summary of every mailbox of the organisation, by mailbox id.
pub async fn summaries(
    store: &Store,
    org_id: &str,
) -> Result<std::collections::HashMap<String, MailboxSummary>> {
    Ok(list_mailboxes(store, org_id)
        .await?
        .iter()
        .map(|v| (v.id.clone(), MailboxSummary::from(v)))
        .collect())
}

// ---- teams ---------------------------------------------------------------------------

const TEAM_TAKEN: &str =
    "esiste già un team con questo nome / a team with this name already exists";

/// Creates a team.
pub async fn create_team(
    store: &Store,
    actor: Actor<'_>,
    req: CreateTeamRequest,
) -> Result<TeamAdminView> {
    let name = check_name("name", &req.name)?;
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let id = users::insert_team(&mut tx, actor.org_id, &name, req.external)
        .await
        .map_err(|e| conflict_on_unique(e, TEAM_TAKEN))?;
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::TeamCreate,
        object_type: "team",
        object_id: &id,
        details: serde_json::json!({ "external": req.external }),
    })
    .await?;
    tx.commit().await?;
    Ok(TeamAdminView {
        id,
        name,
        external: req.external,
        members: 0,
    })
}

/// Renames a team or changes whether it is external.
pub async fn update_team(
    store: &Store,
    actor: Actor<'_>,
    id: &str,
    req: PatchTeamRequest,
) -> Result<TeamAdminView> {
    let name = req
        .name
        .as_deref()
        .map(|n| check_name("name", n))
        .transpose()?;
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let team = db::team_tx(&mut tx, actor.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let new_name = name.clone().unwrap_or(team.name.clone());
    let external = req.external.unwrap_or(team.external);
    db::update_team(&mut tx, id, &new_name, external)
        .await
        .map_err(|e| conflict_on_unique(e, TEAM_TAKEN))?;
    let mut fields = Vec::new();
    if name.is_some() {
        fields.push("name");
    }
    if req.external.is_some() {
        fields.push("external");
    }
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::TeamUpdate,
        object_type: "team",
        object_id: id,
        details: serde_json::json!({ "fields": fields }),
    })
    .await?;
    tx.commit().await?;
    Ok(TeamAdminView {
        id: team.id,
        name: new_name,
        external,
        members: team.members,
    })
}

/// Adds (`add`) or removes a member; whether anything changed. Team and user must be of
/// the organisation (404 otherwise); only a change is audited.
pub async fn set_member(
    store: &Store,
    actor: Actor<'_>,
    team_id: &str,
    user_id: &str,
    add: bool,
) -> Result<bool> {
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    if db::team_tx(&mut tx, actor.org_id, team_id).await?.is_none()
        || !db::user_in_org_tx(&mut tx, actor.org_id, user_id).await?
    {
        return Err(Error::NotFound);
    }
    let changed = if add {
        crate::store::grants::add_member(&mut tx, team_id, user_id).await?
    } else {
        db::remove_member(&mut tx, team_id, user_id).await?
    };
    if changed {
        tx.audit(Entry {
            org_id: Some(actor.org_id),
            actor_id: actor.user_id,
            action: if add {
                Action::TeamMemberAdd
            } else {
                Action::TeamMemberRemove
            },
            object_type: "team",
            object_id: team_id,
            details: serde_json::json!({ "user_id": user_id }),
        })
        .await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// The organisation's teams with member counts.
pub async fn list_teams(store: &Store, org_id: &str) -> Result<Vec<TeamAdminView>> {
    Ok(db::teams(store, org_id)
        .await?
        .into_iter()
        .map(TeamAdminView::from)
        .collect())
}

// ---- grants --------------------------------------------------------------------------

/// The role named `s` (`Responsabile`, `Assegnatario`, `Smistatore`; any case).
pub fn parse_role(s: &str) -> Option<Role> {
    match s.to_ascii_lowercase().as_str() {
        "responsabile" => Some(Role::Responsabile),
        "assegnatario" => Some(Role::Assegnatario),
        "smistatore" => Some(Role::Smistatore),
        _ => None,
    }
}

/// The policies a grant request names: one policy, or a role's bundle.
fn requested_policies(policy: Option<&str>, role: Option<&str>) -> Result<Vec<Policy>> {
    match (policy, role) {
        (Some(p), None) => Policy::parse(p).map(|p| vec![p]).ok_or_else(|| {
            Error::invalid(
                "policy sconosciuta: MAIL_ACCOUNT_READER, MAIL_ACCOUNT_MANAGER, \
                 MAIL_ACTIVITY_READER, MAIL_ACTIVITY_WRITER, MAIL_ACTIVITY_MANAGER / unknown \
                 policy: MAIL_ACCOUNT_READER, MAIL_ACCOUNT_MANAGER, MAIL_ACTIVITY_READER, \
                 MAIL_ACTIVITY_WRITER, MAIL_ACTIVITY_MANAGER",
            )
        }),
        (None, Some(r)) => parse_role(r).map(|r| r.policies().to_vec()).ok_or_else(|| {
            Error::invalid(
                "ruolo sconosciuto: Responsabile, Assegnatario, Smistatore / unknown role: \
                     Responsabile, Assegnatario, Smistatore",
            )
        }),
        _ => Err(Error::invalid(
            "indica policy oppure role (uno dei due) / give policy or role (exactly one)",
        )),
    }
}

/// The organisation's grants, narrowed by the filter.
pub async fn list_grants(store: &Store, f: &GrantFilter<'_>) -> Result<Vec<GrantView>> {
    Ok(db::grants(store, f)
        .await?
        .into_iter()
        .map(GrantView::from)
        .collect())
}

/// Grants a policy (or a role's policies) on a mailbox to a user or a team. A policy the
/// holder already has is not granted twice (the write transaction serialises the
/// organisation's writers, so the check holds).
pub async fn add_grant(
    store: &Store,
    actor: Actor<'_>,
    req: CreateGrantRequest,
) -> Result<GrantsResponse> {
    limits::ids(&[
        ("mailbox_id", Some(&req.mailbox_id)),
        ("user_id", req.user_id.as_ref()),
        ("team_id", req.team_id.as_ref()),
    ])?;
    let policies = requested_policies(req.policy.as_deref(), req.role.as_deref())?;
    let holder = match (&req.user_id, &req.team_id) {
        (Some(u), None) => Holder::User(u),
        (None, Some(t)) => Holder::Team(t),
        _ => {
            return Err(Error::invalid(
                "indica user_id oppure team_id (uno dei due) / give user_id or team_id (exactly one)",
            ));
        }
    };
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let holder_ok = match holder {
        Holder::User(u) => db::user_in_org_tx(&mut tx, actor.org_id, u).await?,
        Holder::Team(t) => db::team_tx(&mut tx, actor.org_id, t).await?.is_some(),
    };
    if !holder_ok || !db::mailbox_in_org_tx(&mut tx, actor.org_id, &req.mailbox_id).await? {
        return Err(Error::NotFound);
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for p in policies {
        let id = match db::existing_grant(&mut tx, &req.mailbox_id, holder, p.as_str()).await? {
            Some(id) => id,
            None => {
                let id =
                    db::insert_grant(&mut tx, actor.org_id, &req.mailbox_id, holder, p.as_str())
                        .await?;
                tx.audit(Entry {
                    org_id: Some(actor.org_id),
                    actor_id: actor.user_id,
                    action: Action::GrantAdd,
                    object_type: "grant",
                    object_id: &id,
                    details: serde_json::json!({
                        "mailbox_id": req.mailbox_id,
                        "user_id": req.user_id,
                        "team_id": req.team_id,
                        "policy": p.as_str(),
                    }),
                })
                .await?;
                created += 1;
                id
            }
        };
        ids.push(id);
    }
    let mut grants = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(g) = db::grant_tx(&mut tx, actor.org_id, id).await? {
            grants.push(GrantView::from(g));
        }
    }
    tx.commit().await?;
    Ok(GrantsResponse { grants, created })
}

/// Revokes grant `id`: the holder loses that policy on the mailbox. No message or activity
/// is touched; the audit entry keeps what was revoked.
pub async fn revoke_grant(store: &Store, actor: Actor<'_>, id: &str) -> Result<GrantView> {
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let g = db::grant_tx(&mut tx, actor.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    db::delete_grant(&mut tx, id).await?;
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::GrantRevoke,
        object_type: "grant",
        object_id: id,
        details: serde_json::json!({
            "mailbox_id": g.mailbox_id,
            "user_id": g.user_id,
            "team_id": g.team_id,
            "policy": g.policy,
        }),
    })
    .await?;
    tx.commit().await?;
    Ok(GrantView::from(g))
}

/// Writes the sending limits of a PATCH: the preset's first, then the fields given.
async fn write_send_limits(
    tx: &mut crate::store::WriteTx,
    id: &str,
    req: &PatchMailboxRequest,
) -> Result<()> {
    let preset = req.send_preset.map(crate::outbox::Preset::limits);
    let check = |field: &str, v: Option<Option<i64>>, min: i64| -> Result<Option<Option<i64>>> {
        match v {
            Some(Some(n)) if n < min => Err(Error::invalid(format!(
                "`{field}`: deve essere almeno {min} / must be at least {min}"
            ))),
            other => Ok(other),
        }
    };
    let per_minute =
        check("send_per_minute", req.send_per_minute, 0)?.or(preset.map(|p| Some(i64::from(p.0))));
    let recipients = check("send_max_recipients", req.send_max_recipients, 1)?
        .or(preset.map(|p| Some(i64::from(p.1))));
    let bytes = check("send_max_bytes", req.send_max_bytes, 1)?
        .or(preset.map(|p| Some(i64::try_from(p.2).unwrap_or(i64::MAX))));
    use crate::store::mailboxes::SendLimit;
    for (limit, value) in [
        (SendLimit::PerMinute, per_minute),
        (SendLimit::MaxRecipients, recipients),
        (SendLimit::MaxBytes, bytes),
    ] {
        let Some(value) = value else { continue };
        crate::store::mailboxes::set_send_limit(tx, id, limit, value).await?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn the_app_password_warns_within_fourteen_days_and_after_expiry() {
        let far = app_password_view(NOW + 15 * DAY_MS + 1, NOW);
        assert!(!far.warning && far.message.is_none());
        assert_eq!(far.expires_in_days, 15);
        let near = app_password_view(NOW + 14 * DAY_MS, NOW);
        assert!(near.warning);
        assert_eq!(near.expires_in_days, 14);
        let msg = near.message.unwrap();
        assert!(
            msg.contains("scade") && msg.contains("expires") && msg.contains("14"),
            "{msg}"
        );
        let past = app_password_view(NOW - DAY_MS / 2, NOW);
        assert!(past.warning);
        assert_eq!(past.expires_in_days, -1);
        assert!(past.message.unwrap().contains("scaduta"));
    }

    #[test]
    fn loopback_is_localhost_127_slash_8_and_ipv6_one() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.9.8.7",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "10.0.0.1",
            "imap.example.it",
            "localhost.example.it",
            "::2",
            "128.0.0.1",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn hosts_are_names_or_addresses() {
        assert_eq!(
            check_host("h", "IMAPS.Pec.Example.IT").unwrap(),
            "imaps.pec.example.it"
        );
        assert_eq!(check_host("h", "[::1]").unwrap(), "::1");
        for bad in [
            "",
            "a b",
            "-x.it",
            "x..it",
            "imap.example.it\r\n",
            "ex_ample.it",
        ] {
            assert!(check_host("h", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plain_towards_a_remote_host_is_refused_and_names_the_rule() {
        let req = EndpointRequest {
            host: Some("imap.example.it".into()),
            port: Some(143),
            security: Some(Security::Plain),
            user: Some("u".into()),
            password: Some(SecretString::from("segreto")),
            sent_folder: None,
        };
        let e = merge_endpoint("imap", Stored::default(), &req).unwrap_err();
        assert!(matches!(e, Error::Invalid(_)));
        assert!(e.to_string().contains("127.0.0.0/8"), "{e}");
        assert!(!e.to_string().contains("segreto"));
        let local = EndpointRequest {
            host: Some("127.0.0.1".into()),
            ..req
        };
        assert!(merge_endpoint("imap", Stored::default(), &local).is_ok());
    }

    #[test]
    fn roles_expand_to_their_policies() {
        assert_eq!(
            requested_policies(None, Some("Responsabile"))
                .unwrap()
                .len(),
            5
        );
        assert_eq!(
            requested_policies(None, Some("assegnatario")).unwrap(),
            vec![Policy::MailActivityReader, Policy::MailActivityWriter]
        );
        assert!(requested_policies(Some("MAIL_ACCOUNT_READER"), Some("Smistatore")).is_err());
        assert!(requested_policies(Some("READ_ALL"), None).is_err());
    }
}
