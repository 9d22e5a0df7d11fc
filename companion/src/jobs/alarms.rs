//! SLA and mailbox alarms: each fires exactly once, even with several replicas.
//!
//! One pass ([`run_alarms`], "now" a parameter) does two things:
//! 1. **Evaluate.** For every open activity with a due date: `before` (the configured lead
//!    time before the due date) and `overdue` (at the due date) to the assignee (or the
//!    assigned team's members), `escalation` (the configured time after the due date) to the
//!    supervisors, the users holding `MAIL_ACTIVITY_MANAGER` on the mailbox (Responsabile).
//!    Only the stage the activity is in now fires: a replica that was down for two days
//!    does not send "due tomorrow" for an activity already escalated. Also: a sent PEC with a
//!    recipient still without delivery receipt the configured time after it was sent; a
//!    mailbox whose quota runs out within N days at the rate between its readings of the
//!    last week; an app password expiring within N days; a mailbox whose ingestion has been
//!    failing for more than N minutes (to the mailbox managers, `MAIL_ACCOUNT_MANAGER`, or
//!    the administrators when it has none). Each is claimed with
//!    [`store::claim`](crate::store::alarms::claim): one INSERT under a unique key, so one
//!    replica wins, and the winner queues its e-mails and writes `alarm.fire` in the same
//!    transaction.
//! 2. **Deliver.** Queued e-mails are claimed (committed before any SMTP), sent through the
//!    `[alarms] smtp_url` server and marked sent; a failure is retried with backoff. Without
//!    an SMTP server the deliveries are kept as `unsent`, visible in the API.
//!
//! Titles and addresses are personal data: they go into the e-mail only, never into logs
//! or audit details (ids only).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::activities::outgoing;
use crate::error::Result;
use crate::state::AppState;
use crate::store::alarms::{self as db, DeliveryJob, NewAlarm};
use crate::store::{Store, new_id, now_ms, outbox as store_outbox};

const HOUR_MS: i64 = 3600 * 1000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Alarms (`[alarms]` in `pecdesk.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AlarmSettings {
    /// Whether `pecdesk serve` runs the scheduler.
    pub enabled: bool,
    /// Seconds between two passes (`serve --demo`: at most 10).
    pub interval_secs: u64,
    /// `before`: seconds before the due date.
    pub before_secs: u64,
    /// `escalation`: seconds after the due date.
    pub escalation_after_secs: u64,
    /// Due dates and sends older than this many days are not looked at any more.
    pub lookback_days: u64,
    /// A sent PEC with a recipient unconfirmed this many seconds after sending alarms.
    pub unconfirmed_after_secs: u64,
    /// A mailbox whose quota runs out within this many days alarms.
    pub quota_days: u64,
    /// An app password expiring within this many days alarms.
    pub password_days: u64,
    /// Ingestion failing for more than this many minutes alarms.
    pub ingest_failing_minutes: u64,
    /// `smtp://host:port` (plain, loopback only), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://user:password@host:465`; unset: the e-mails are kept as
    /// "not sent". A secret: it may hold a password.
    pub smtp_url: Option<SecretString>,
    /// The e-mails' sender (`From`).
    pub from: String,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// First wait after a failed attempt, doubled for each further attempt (seconds).
    pub retry_base_secs: u64,
    /// Seconds allowed for connecting and each submission.
    pub timeout_secs: u64,
}

impl Default for AlarmSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_secs: 60,
            before_secs: 24 * 3600,
            escalation_after_secs: 24 * 3600,
            lookback_days: 30,
            unconfirmed_after_secs: 24 * 3600,
            quota_days: 7,
            password_days: 14,
            ingest_failing_minutes: 60,
            smtp_url: None,
            from: "PecDesk <pecdesk@localhost>".into(),
            max_attempts: 8,
            retry_base_secs: 60,
            timeout_secs: 30,
        }
    }
}

fn secs_ms(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// The kinds of alarm (`alarms.kind`).
pub mod kind {
    /// An activity's due date: stages `before`, `overdue`, `escalation`.
    pub const ACTIVITY_DUE: &str = "activity_due";
    /// A sent PEC with a recipient still without delivery receipt.
    pub const PEC_UNCONFIRMED: &str = "pec_unconfirmed";
    /// A mailbox's quota runs out soon.
    pub const QUOTA: &str = "quota";
    /// A mailbox's app password expires soon.
    pub const APP_PASSWORD: &str = "app_password";
    /// A mailbox's ingestion is failing.
    pub const INGEST_FAILING: &str = "ingest_failing";
    /// Every kind.
    pub const ALL: [&str; 5] = [
        ACTIVITY_DUE,
        PEC_UNCONFIRMED,
        QUOTA,
        APP_PASSWORD,
        INGEST_FAILING,
    ];
}

/// The stage of a kind without stages.
pub const WARNING: &str = "warning";

/// Where an activity due at `due` stands at `now`: `before` from `before_ms` ahead of the
/// due date, `overdue` from the due date, `escalation` from `escalation_ms` after it; the
/// instant the stage began. `None` while it is further away than `before_ms`.
pub fn activity_stage(
    due: i64,
    now: i64,
    before_ms: i64,
    escalation_ms: i64,
) -> Option<(&'static str, i64)> {
    if now >= due.saturating_add(escalation_ms) {
        Some(("escalation", due.saturating_add(escalation_ms)))
    } else if now >= due {
        Some(("overdue", due))
    } else if now >= due.saturating_sub(before_ms) {
        Some(("before", due.saturating_sub(before_ms)))
    } else {
        None
    }
}

/// Days until the box is full at the rate between two readings `(at_ms, used_kb)`; `Some(0.0)`
/// when it is full, `None` when it does not grow (or the readings are less than an hour
/// apart, too close to tell a rate).
pub fn quota_days_left(old: (i64, i64), new: (i64, i64), total_kb: i64) -> Option<f64> {
    if total_kb > 0 && new.1 >= total_kb {
        return Some(0.0);
    }
    let dt = new.0 - old.0;
    let grown = new.1 - old.1;
    if dt < HOUR_MS || grown <= 0 || total_kb <= 0 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let days = (total_kb - new.1) as f64 / (grown as f64 / dt as f64) / DAY_MS as f64;
    Some(days)
}

/// Refuses an SMTP URL that would carry the e-mails (titles, names) in clear over the
/// network: plain `smtp://` is for loopback only; STARTTLS (`?tls=required`) or `smtps://`
/// elsewhere.
pub fn check_smtp_url(url: &str) -> std::result::Result<(), String> {
    smtp_target(url).map(|_| ())
}

/// How the alarm e-mails reach the SMTP server: its host and the TLS mode of the URL.
#[derive(Debug, PartialEq, Eq)]
struct SmtpTarget {
    host: String,
    tls: Option<TlsMode>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum TlsMode {
    /// `smtp://...?tls=required`: STARTTLS.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

/// Parses and checks an `[alarms] smtp_url` (see [`check_smtp_url`]).
fn smtp_target(url: &str) -> std::result::Result<SmtpTarget, String> {
    let bad = || {
        "[alarms] smtp_url non valido: usa smtp://host:porta, smtp://host:587?tls=required o \
         smtps://utente:password@host:465 / invalid [alarms] smtp_url: use smtp://host:port, \
         smtp://host:587?tls=required or smtps://user:password@host:465"
            .to_owned()
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (authority, query) = match rest.split_once('?') {
        Some((a, q)) => (a, q),
        None => (rest, ""),
    };
    let authority = authority.split('/').next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        return Err(bad());
    }
    let tls = query.split('&').any(|kv| kv == "tls=required");
    let target = |tls| SmtpTarget {
        host: host.to_owned(),
        tls,
    };
    match scheme {
        "smtps" => Ok(target(Some(TlsMode::Wrapper))),
        "smtp" if tls => Ok(target(Some(TlsMode::StartTls))),
        "smtp" => {
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(target(None))
            } else {
                Err(
                    "[alarms] smtp_url senza cifratura è ammesso solo verso loopback: usa \
                     ?tls=required (STARTTLS) o smtps:// / plain [alarms] smtp_url is allowed \
                     only towards loopback: use ?tls=required (STARTTLS) or smtps://"
                        .to_owned(),
                )
            }
        }
        _ => Err(bad()),
    }
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmReport {
    /// Alarms this pass claimed (fired).
    pub fired: usize,
    /// E-mails the SMTP server took.
    pub sent: usize,
    /// E-mails that failed (retried later or given up).
    pub failed: usize,
}

/// Who runs a pass: the settings, this replica's id and the desk's address for links.
#[derive(Debug, Clone)]
pub struct Runner {
    pub settings: AlarmSettings,
    /// This replica's id (`alarm_deliveries.claimed_by`).
    pub worker: String,
    /// The companion's public URL (links in the e-mails).
    pub public_url: String,
    /// Extra TLS roots for the SMTP server (the companion's `ca_bundle`).
    pub ca_bundle: Option<PathBuf>,
}

impl Runner {
    /// A runner with a fresh worker id.
    pub fn new(settings: AlarmSettings, public_url: String) -> Self {
        Self {
            settings,
            worker: format!("alarms-{}", new_id()),
            public_url,
            ca_bundle: None,
        }
    }
}

/// One pass at `now` (ms): fire what is due, then send the queued e-mails.
pub async fn run_alarms(store: &Store, runner: &Runner, now: i64) -> Result<AlarmReport> {
    let fired = evaluate(store, &runner.settings, now).await?;
    let (sent, failed) = deliver(store, runner, now).await?;
    Ok(AlarmReport {
        fired,
        sent,
        failed,
    })
}

/// Claims `a` for `recipients` (nobody: the organisation's administrators); whether this
/// call fired it.
async fn fire(
    store: &Store,
    s: &AlarmSettings,
    a: &NewAlarm<'_>,
    mut recipients: Vec<String>,
    now: i64,
) -> Result<bool> {
    if db::exists(store, a).await? {
        return Ok(false);
    }
    if recipients.is_empty() {
        recipients = db::admins(store, a.org_id).await?;
    }
    let fired = db::claim(store, a, &recipients, s.smtp_url.is_some(), now).await?;
    if let Some(id) = &fired {
        tracing::info!(
            alarm.id = %id, alarm.kind = a.kind, alarm.stage = a.stage,
            object.kind = a.object_type, object.id = a.object_id,
            recipients = recipients.len(), "alarm fired"
        );
    }
    Ok(fired.is_some())
}

/// Fires every alarm due at `now`; how many this call fired.
pub async fn evaluate(store: &Store, s: &AlarmSettings, now: i64) -> Result<usize> {
    let mut fired = 0;
    let lookback = i64::try_from(s.lookback_days)
        .unwrap_or(365)
        .saturating_mul(DAY_MS);
    let (before, escalation) = (secs_ms(s.before_secs), secs_ms(s.escalation_after_secs));

    // Activities' due dates.
    for act in db::due_activities(store, now - lookback, now.saturating_add(before)).await? {
        let Some((stage, since)) = activity_stage(act.due_at, now, before, escalation) else {
            continue;
        };
        let a = NewAlarm {
            org_id: &act.org_id,
            mailbox_id: Some(&act.mailbox_id),
            kind: kind::ACTIVITY_DUE,
            stage,
            object_type: "activity",
            object_id: &act.id,
            // A moved due date is a new occurrence: it alarms again.
            occurrence: act.due_at,
            due_at: since,
        };
        if db::exists(store, &a).await? {
            continue;
        }
        let mut to = if stage == "escalation" {
            Vec::new()
        } else {
            db::assignees(
                store,
                &act.org_id,
                act.assignee_id.as_deref(),
                act.team_id.as_deref(),
            )
            .await?
        };
        if to.is_empty() {
            // Escalation, or nobody assigned: the Responsabile of the mailbox.
            to = db::holders(store, &act.org_id, &act.mailbox_id, "MAIL_ACTIVITY_MANAGER").await?;
        }
        fired += usize::from(fire(store, s, &a, to, now).await?);
    }

    // Sent PECs with a recipient still unconfirmed.
    let late = secs_ms(s.unconfirmed_after_secs);
    for row in db::sent_between(store, now - late - lookback, now - late).await? {
        let a = NewAlarm {
            org_id: &row.org_id,
            mailbox_id: Some(&row.mailbox_id),
            kind: kind::PEC_UNCONFIRMED,
            stage: WARNING,
            object_type: "outbox",
            object_id: &row.id,
            occurrence: 0,
            due_at: row.sent_at + late,
        };
        if db::exists(store, &a).await? {
            continue;
        }
        let Some(view) = store_outbox::view(store, &row.id).await? else {
            continue;
        };
        let v = outgoing::view_of(store, &row.org_id, view, now).await?;
        if !v
            .recipients
            .iter()
            .any(|r| r.state != "delivered" && r.state != "failed")
        {
            continue;
        }
        let mut to = Vec::new();
        if let Some(activity) = &row.activity_id
            && let Some(act) = db::assignment_of(store, activity).await?
        {
            to = db::assignees(store, &row.org_id, act.0.as_deref(), act.1.as_deref()).await?;
        }
        if let Some(by) = &row.campaign_by
            && to.is_empty()
        {
            to.push(by.clone());
        }
        if to.is_empty() {
            to = db::holders(store, &row.org_id, &row.mailbox_id, "MAIL_ACCOUNT_MANAGER").await?;
        }
        fired += usize::from(fire(store, s, &a, to, now).await?);
    }

    // Mailboxes: password, ingestion, quota.
    for m in db::mailbox_states(store).await? {
        let managers = || db::holders(store, &m.org_id, &m.id, "MAIL_ACCOUNT_MANAGER");
        let mailbox = |kind, occurrence, due_at| NewAlarm {
            org_id: &m.org_id,
            mailbox_id: Some(&m.id),
            kind,
            stage: WARNING,
            object_type: "mailbox",
            object_id: &m.id,
            occurrence,
            due_at,
        };
        if let Some(exp) = m.app_password_expires_at {
            let warn_from = exp.saturating_sub(secs_ms(s.password_days.saturating_mul(86_400)));
            if now >= warn_from && now < exp.saturating_add(lookback) {
                let a = mailbox(kind::APP_PASSWORD, exp, warn_from);
                if !db::exists(store, &a).await? {
                    fired += usize::from(fire(store, s, &a, managers().await?, now).await?);
                }
            }
        }
        if m.ingest_enabled
            && let Some(err) = m.last_error_at
            && m.last_success_at.is_none_or(|ok| err > ok)
        {
            // Failing since the last success (or, never connected, since the last error).
            let since = m.last_success_at.unwrap_or(err);
            let from = since.saturating_add(secs_ms(s.ingest_failing_minutes.saturating_mul(60)));
            if now >= from {
                let a = mailbox(kind::INGEST_FAILING, m.last_success_at.unwrap_or(0), from);
                if !db::exists(store, &a).await? {
                    fired += usize::from(fire(store, s, &a, managers().await?, now).await?);
                }
            }
        }
        if let (Some(used), Some(total), Some(read_at)) =
            (m.quota_used_kb, m.quota_total_kb, m.quota_read_at)
        {
            let oldest =
                db::record_quota(store, &m.id, read_at, used, total, read_at - 7 * DAY_MS).await?;
            let days = oldest.and_then(|old| quota_days_left(old, (read_at, used), total));
            #[allow(clippy::cast_precision_loss)]
            if days.is_some_and(|d| d <= s.quota_days as f64) {
                // At most one a week while the projection holds.
                let a = mailbox(kind::QUOTA, now / (7 * DAY_MS), read_at);
                if !db::exists(store, &a).await? {
                    fired += usize::from(fire(store, s, &a, managers().await?, now).await?);
                }
            }
        }
    }
    Ok(fired)
}

/// The transport of `url`; with TLS, the companion's `ca_bundle` (an on-premise relay's
/// private CA) is trusted beside the public roots, as the outbox does.
fn smtp_transport(
    url: &str,
    timeout: Duration,
    ca_bundle: Option<&Path>,
) -> std::result::Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let target = smtp_target(url)?;
    let unusable = |e: &dyn std::fmt::Display| {
        format!("[alarms] smtp_url non utilizzabile / unusable [alarms] smtp_url ({e})")
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| unusable(&e))?
        .timeout(Some(timeout));
    if let (Some(path), Some(mode)) = (ca_bundle, target.tls) {
        let mut params = TlsParameters::builder(target.host);
        match std::fs::read(path).map(|pem| Certificate::from_pem(&pem)) {
            Ok(Ok(c)) => params = params.add_root_certificate(c),
            _ => tracing::warn!("alarms: ca_bundle not readable, left out"),
        }
        let params = params.build_rustls().map_err(|e| unusable(&e))?;
        b = b.tls(match mode {
            TlsMode::StartTls => Tls::Required(params),
            TlsMode::Wrapper => Tls::Wrapper(params),
        });
    }
    Ok(b.build())
}

/// Sends the queued e-mails this replica can claim; (sent, failed).
async fn deliver(store: &Store, runner: &Runner, now: i64) -> Result<(usize, usize)> {
    let s = &runner.settings;
    let Some(url) = &s.smtp_url else {
        return Ok((0, 0));
    };
    db::recover_deliveries(store, now).await?;
    let timeout = Duration::from_secs(s.timeout_secs.max(1));
    let until = now + secs_ms(s.timeout_secs.max(1)).saturating_mul(4);
    let jobs = db::claim_deliveries(store, &runner.worker, now, until, 50).await?;
    if jobs.is_empty() {
        return Ok((0, 0));
    }
    let transport = smtp_transport(url.expose_secret(), timeout, runner.ca_bundle.as_deref())
        .map_err(|e| e.replace(url.expose_secret(), "***"));
    let (mut sent, mut failed) = (0, 0);
    for job in jobs {
        let outcome = match &transport {
            Ok(t) => send_one(store, runner, t, &job).await,
            Err(e) => Err((false, e.clone())),
        };
        match outcome {
            Ok(reply) => {
                db::mark_sent(store, &job.id, &runner.worker, now_ms().max(now), &reply).await?;
                sent += 1;
            }
            Err((transient, error)) => {
                failed += 1;
                let retry = transient && job.attempts < i64::from(s.max_attempts);
                let wait =
                    secs_ms(s.retry_base_secs).saturating_mul(1 << (job.attempts - 1).clamp(0, 16));
                tracing::warn!(
                    alarm.id = %job.alarm_id, delivery.id = %job.id, attempts = job.attempts,
                    retry, error = %error, "alarm e-mail not sent"
                );
                db::mark_failed(
                    store,
                    &job.id,
                    &runner.worker,
                    now,
                    retry.then_some(now.saturating_add(wait)),
                    &error,
                )
                .await?;
            }
        }
    }
    Ok((sent, failed))
}

/// Sends one e-mail; the server's reply, or (transient?, words for the user).
async fn send_one(
    store: &Store,
    runner: &Runner,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    job: &DeliveryJob,
) -> std::result::Result<String, (bool, String)> {
    let (subject, body) = compose(store, runner, job).await.map_err(|e| {
        (
            true,
            format!("e-mail non composto / e-mail not composed ({e})"),
        )
    })?;
    let bad = |what: &str| {
        (
            false,
            format!(
                "indirizzo non valido ({what}): correggi le impostazioni / invalid address \
                 ({what}): fix the settings"
            ),
        )
    };
    let to = format!("{} <{}>", job.name.replace(['<', '>', '"'], ""), job.email);
    let msg = Message::builder()
        .from(runner.settings.from.parse().map_err(|_| bad("from"))?)
        .to(to
            .parse()
            .or_else(|_| job.email.parse())
            .map_err(|_| bad("to"))?)
        .subject(subject)
        .message_id(Some(format!("<alarm-{}@pecdesk>", job.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|_| bad("message"))?;
    match transport.send(msg).await {
        Ok(r) => Ok(
            format!("{} {}", r.code(), r.message().collect::<Vec<_>>().join(" "))
                .trim()
                .to_owned(),
        ),
        Err(e) => Err((
            !e.is_permanent(),
            format!(
                "server SMTP degli allarmi: invio non riuscito / alarm SMTP server: send failed \
                 ({})",
                e.status().map_or_else(|| "-".to_owned(), |c| c.to_string())
            ),
        )),
    }
}

/// A time as the office reads it: Italian wall-clock time (`Europe/Rome`, summer time
/// included) with its offset, so a reader abroad can convert it.
fn when(ms: i64) -> String {
    let zone = pecdesk_core::sla::Zone::EuropeRome;
    let offset = zone.offset_minutes_at(ms);
    format!(
        "{} (ora italiana / Italian time, UTC+{:02}:{:02})",
        zone.local(ms).format("%d/%m/%Y %H:%M"),
        offset / 60,
        offset % 60
    )
}

/// Subject and body of a delivery's e-mail, Italian first, English second.
async fn compose(store: &Store, runner: &Runner, job: &DeliveryJob) -> Result<(String, String)> {
    let link = format!("{}/", runner.public_url);
    let reference = format!(
        "Riferimento / reference: alarm {}, {} {}",
        job.alarm_id, job.object_type, job.object_id
    );
    let (subject, it, en) = match (job.kind.as_str(), job.object_type.as_str()) {
        (kind::ACTIVITY_DUE, "activity") => {
            let title = db::activity_title(store, &job.object_id)
                .await?
                .unwrap_or_default();
            let before = secs_ms(runner.settings.before_secs);
            let esc = secs_ms(runner.settings.escalation_after_secs);
            let due = match job.stage.as_str() {
                "before" => job.due_at + before,
                "escalation" => job.due_at - esc,
                _ => job.due_at,
            };
            match job.stage.as_str() {
                "before" => (
                    if before == DAY_MS {
                        format!("[PecDesk] Scadenza domani: {title}")
                    } else {
                        format!("[PecDesk] In scadenza / Due soon: {title}")
                    },
                    format!("L'attività «{title}» scade il {}.", when(due)),
                    format!("The activity \"{title}\" is due on {}.", when(due)),
                ),
                "overdue" => (
                    format!("[PecDesk] Scaduta / Overdue: {title}"),
                    format!(
                        "L'attività «{title}» è scaduta il {} e non è chiusa.",
                        when(due)
                    ),
                    format!(
                        "The activity \"{title}\" was due on {} and is not closed.",
                        when(due)
                    ),
                ),
                _ => (
                    format!(
                        "[PecDesk] Scadenza superata, segnalata ai responsabili / Escalated: {title}"
                    ),
                    format!(
                        "L'attività «{title}» è scaduta il {} e non è ancora chiusa: la ricevi \
                         come responsabile della casella.",
                        when(due)
                    ),
                    format!(
                        "The activity \"{title}\" was due on {} and is still not closed: you \
                         receive this as a supervisor of the mailbox.",
                        when(due)
                    ),
                ),
            }
        }
        (kind::PEC_UNCONFIRMED, _) => (
            "[PecDesk] PEC senza ricevuta di consegna / PEC without delivery receipt".to_owned(),
            format!(
                "Una PEC inviata non ha ancora la ricevuta di consegna per almeno un \
                 destinatario (dal {}). Controlla l'esito nella scrivania.",
                when(job.due_at)
            ),
            format!(
                "A sent PEC still lacks the delivery receipt of at least one recipient (since \
                 {}). Check its outcome in the desk.",
                when(job.due_at)
            ),
        ),
        (k, _) => {
            let name = db::mailbox_label(store, &job.object_id)
                .await?
                .map(|(n, a)| format!("{n} <{a}>"))
                .unwrap_or_default();
            match k {
                kind::QUOTA => (
                    format!("[PecDesk] Casella quasi piena / Mailbox almost full: {name}"),
                    format!(
                        "Al ritmo attuale la casella {name} si riempirà entro {} giorni: \
                         archivia o libera spazio.",
                        runner.settings.quota_days
                    ),
                    format!(
                        "At the current rate the mailbox {name} will be full within {} days: \
                         archive or free space.",
                        runner.settings.quota_days
                    ),
                ),
                kind::APP_PASSWORD => (
                    format!(
                        "[PecDesk] Password della casella in scadenza / Mailbox password \
                         expiring: {name}"
                    ),
                    format!(
                        "La password della casella {name} scade presto: un amministratore la \
                         rinnovi presso il gestore e la aggiorni in PecDesk."
                    ),
                    format!(
                        "The password of the mailbox {name} expires soon: an administrator \
                         must renew it at the provider and update it in PecDesk."
                    ),
                ),
                _ => (
                    format!(
                        "[PecDesk] Lettura della casella non riuscita / Mailbox ingestion \
                         failing: {name}"
                    ),
                    format!(
                        "PecDesk non riesce a leggere la casella {name} dal {}: controlla lo \
                         stato della connessione nell'amministrazione.",
                        when(job.due_at)
                    ),
                    format!(
                        "PecDesk has been failing to read the mailbox {name} since {}: check \
                         the connection's health in the administration.",
                        when(job.due_at)
                    ),
                ),
            }
        }
    };
    let body = format!("{it}\r\n\r\n{en}\r\n\r\n{link}\r\n\r\n{reference}\r\n");
    Ok((subject, body))
}

/// The running scheduler of one process (the shared background loop).
pub type AlarmWorker = crate::jobs::Worker;

/// Starts the scheduler: a pass every `interval` (the service's `[alarms]` settings; in
/// `serve --demo` at most every 10 seconds).
pub fn start(state: &AppState) -> AlarmWorker {
    let settings = state.settings();
    let mut s = settings.alarms.clone();
    if settings.demo {
        s.interval_secs = s.interval_secs.min(10);
    }
    let mut runner = Runner::new(s, settings.public_url());
    runner.ca_bundle = settings.ca_bundle.clone();
    let every = Duration::from_secs(runner.settings.interval_secs.max(1));
    let id: Arc<str> = Arc::from(runner.worker.as_str());
    let (store, runner) = (state.store().clone(), Arc::new(runner));
    crate::jobs::spawn("alarms", id, move || {
        let (store, runner) = (store.clone(), Arc::clone(&runner));
        async move {
            match run_alarms(&store, &runner, now_ms()).await {
                Ok(r) if r.fired > 0 || r.sent > 0 || r.failed > 0 => {
                    tracing::info!(fired = r.fired, sent = r.sent, failed = r.failed, "alarms");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "alarm pass failed"),
            }
            every
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn only_the_current_stage_of_a_due_date_fires() {
        let (due, b, e) = (100 * HOUR_MS, 24 * HOUR_MS, 24 * HOUR_MS);
        assert_eq!(activity_stage(due, due - b - 1, b, e), None);
        assert_eq!(
            activity_stage(due, due - b, b, e),
            Some(("before", due - b))
        );
        assert_eq!(
            activity_stage(due, due - 1, b, e),
            Some(("before", due - b))
        );
        assert_eq!(activity_stage(due, due, b, e), Some(("overdue", due)));
        assert_eq!(
            activity_stage(due, due + e - 1, b, e),
            Some(("overdue", due))
        );
        assert_eq!(
            activity_stage(due, due + 10 * e, b, e),
            Some(("escalation", due + e))
        );
    }

    #[test]
    fn times_in_e_mails_are_italian_wall_clock_with_the_offset() {
        // 2026-01-15 09:30 UTC is 10:30 in winter; 2026-07-15 09:30 UTC is 11:30 in summer.
        let winter = chrono::DateTime::parse_from_rfc3339("2026-01-15T09:30:00Z").unwrap();
        let summer = chrono::DateTime::parse_from_rfc3339("2026-07-15T09:30:00Z").unwrap();
        assert_eq!(
            when(winter.timestamp_millis()),
            "15/01/2026 10:30 (ora italiana / Italian time, UTC+01:00)"
        );
        assert_eq!(
            when(summer.timestamp_millis()),
            "15/07/2026 11:30 (ora italiana / Italian time, UTC+02:00)"
        );
    }

    #[test]
    fn quota_runs_out_at_the_rate_between_two_readings() {
        // 100 MB a day, 700 MB left: 7 days.
        let d = quota_days_left((0, 1_000_000), (DAY_MS, 1_100_000), 1_800_000);
        assert!(d.is_some_and(|d| (d - 7.0).abs() < 1e-9), "{d:?}");
        assert_eq!(quota_days_left((0, 5), (DAY_MS, 5), 10), None);
        assert_eq!(quota_days_left((0, 5), (HOUR_MS - 1, 9), 10), None);
        assert_eq!(quota_days_left((0, 5), (HOUR_MS, 10), 10), Some(0.0));
    }

    #[test]
    fn the_tls_mode_comes_from_the_url() {
        let t = smtp_target("smtps://u:p@mail.example.it:465").unwrap();
        assert_eq!(
            (t.host.as_str(), t.tls),
            ("mail.example.it", Some(TlsMode::Wrapper))
        );
        let t = smtp_target("smtp://mail.example.it:587?tls=required").unwrap();
        assert_eq!(t.tls, Some(TlsMode::StartTls));
        assert_eq!(smtp_target("smtp://127.0.0.1:2525").unwrap().tls, None);
        // A TLS transport with an extra root builds; an unreadable bundle is left out.
        let bundle = std::env::temp_dir().join(format!("pecdesk-none-{}.pem", new_id()));
        assert!(
            smtp_transport(
                "smtps://mail.example.it",
                Duration::from_secs(1),
                Some(&bundle)
            )
            .is_ok()
        );
    }

    #[test]
    fn plain_smtp_is_for_loopback_only() {
        assert!(check_smtp_url("smtp://127.0.0.1:2525").is_ok());
        assert!(check_smtp_url("smtp://localhost").is_ok());
        assert!(check_smtp_url("smtp://[::1]:25").is_ok());
        assert!(check_smtp_url("smtp://u:p@mail.example.it:587?tls=required").is_ok());
        assert!(check_smtp_url("smtps://u:p@mail.example.it").is_ok());
        assert!(check_smtp_url("smtp://mail.example.it:25").is_err());
        assert!(check_smtp_url("smtp://u:p@10.0.0.1").is_err());
        assert!(check_smtp_url("http://127.0.0.1").is_err());
        assert!(check_smtp_url("127.0.0.1:25").is_err());
    }
}
