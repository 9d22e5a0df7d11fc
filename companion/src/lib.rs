//! # pecdesk-companion
//!
//! The PecDesk companion service and its command line (`pecdesk`).
//!
//! [`build_app`] assembles the HTTP API over an [`AppState`]; [`serve`] runs it on a bound
//! listener until `shutdown` resolves (tests use a port-0 listener); [`run`] does the whole
//! start-up of `pecdesk serve`.

pub mod admin_cli;
pub mod archive_cli;
pub mod auth;
pub mod authz;
pub mod campaign_cli;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod evidence;
pub mod extract;
pub mod http;
pub mod imap;
pub mod ingest;
pub mod inspect;
pub mod jobs;
pub mod limits;
pub mod lock;
pub mod metrics;
pub mod outbox;
pub mod rules_cli;
pub mod server;
pub mod simulate;
pub mod state;
pub mod store;
pub mod trust;
pub mod webhooks;

use std::future::Future;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use config::Settings;
pub use state::AppState;
pub use store::Store;

/// The whole HTTP application: every route, body limits, metrics and request logs.
pub fn build_app(state: AppState) -> Router {
    let limit = state.settings().json_body_limit;
    http::router(state.settings().import_body_limit)
        .layer(DefaultBodyLimit::max(limit))
        // NUL or invalid UTF-8 in a path or query string: 422 before any handler.
        .layer(axum::middleware::from_fn(extract::check_uri))
        .layer(axum::middleware::from_fn_with_state(
            std::time::Duration::from_secs(state.settings().http.request_timeout_secs.max(1)),
            server::timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // Logs method and path only: query strings may carry search text (personal data).
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// Serves `state`'s app on `listener` until `shutdown` resolves, then drains requests.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings().http;
    let app = build_app(state.clone());
    let shutdown = async move {
        shutdown.await;
        // Event streams end now; the drain then waits only for ordinary requests.
        state.begin_shutdown();
    };
    server::run(listener, app, &limits, shutdown).await
}

/// Start-up of `pecdesk serve`: lock the SQLite data directory (one server per
/// directory), open the store (migrations), seed the demo when asked, bind, serve until
/// Ctrl-C / SIGTERM. Every start-up error names the address or path that failed.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    // Before anything else: the add-ins would be handed an address they cannot use.
    settings.check_public_url()?;
    if let Some(url) = &settings.alarms.smtp_url {
        use secrecy::ExposeSecret as _;
        jobs::alarms::check_smtp_url(url.expose_secret()).map_err(anyhow::Error::msg)?;
    }
    let _lock = lock::DataDirLock::for_settings(&settings)?;
    let store = Store::connect(&settings).await.with_context(|| {
        format!(
            "database non disponibile / database unavailable: {}",
            settings.database_label()
        )
    })?;
    tracing::info!(engine = ?store.engine(), "database ready");
    // Keys (`<data_dir>/master.key` unless set) and the CA bundle.
    let state = AppState::new(settings.clone(), store.clone())
        .await
        .with_context(|| {
            format!(
                "chiavi o certificati non caricati (cartella dei dati {d}) / cannot load keys or \
                 certificates (data directory {d})",
                d = settings.data_dir.display()
            )
        })?;
    if settings.demo && demo::seed(&store, state.trust()).await? {
        demo::seed_story(&store).await?;
        demo::seed_alarms(&store, store::now_ms()).await?;
        demo::seed_mail_in(&store, state.trust()).await?;
        demo::seed_webhook(&store, state.tokens().master()).await?;
        tracing::info!("demo data seeded");
    }
    // `serve --demo`: the PEC provider simulator in-process; the demo mailboxes send through
    // it and its receipts arrive in them (`simulate::inprocess`).
    // A demo without it still runs: the reason is logged.
    let _demo_simulator = if settings.demo {
        match simulate::inprocess::start_for_demo(&state).await {
            Ok(sim) => Some(sim),
            Err(e) => {
                tracing::warn!(error = %e, "demo PEC simulator not started");
                None
            }
        }
    } else {
        None
    };
    // `serve --demo`: a small mass send through the simulator, once (its outcome per
    // recipient is on screen within minutes).
    if _demo_simulator.is_some()
        && let Err(e) = crate::domain::campaigns::seed_demo(&store, &settings.campaigns).await
    {
        tracing::warn!(error = %e, "demo campaign not created");
    }
    // Mail in: identities of PECs stored before they were recorded, then whatever a
    // crash left between storage and the steps after it (in the background).
    ingest::backfill_identities(&store)
        .await
        .context("identità PEC / PEC identities (0008)")?;
    {
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(e) = ingest::process_pending(&store).await {
                tracing::warn!(error = %e, "processing of stored messages failed at start-up");
            }
        });
    }
    checkpoint::spawn_schedule(
        store.clone(),
        checkpoint::Signer::from_master(state.tokens().master()),
        settings.audit.clone(),
    );
    let listener = TcpListener::bind(settings.listen).await.with_context(|| {
        format!(
            "impossibile ascoltare su {addr} (già in uso da un altro programma? scegli un altro --listen) / \
             cannot listen on {addr} (in use by another program? choose another --listen)",
            addr = settings.listen
        )
    })?;
    // Unset: the address really bound (`--listen 127.0.0.1:0` picks a port).
    let public = match &settings.public_url {
        Some(_) => settings.public_url(),
        None => format!("http://{}", listener.local_addr()?),
    };
    tracing::info!(
        "add-ins: riquadro / task pane {public}/addin/, manifesto Outlook / Outlook manifest \
         {public}/addin/manifest.xml, estensione Thunderbird / Thunderbird extension \
         {public}/webext/pecdesk.xpi"
    );
    tracing::info!(listen = %listener.local_addr()?, "pecdesk companion listening");
    // IMAP pollers of the mailboxes with ingestion enabled (one replica per mailbox).
    let pollers = settings.imap.enabled.then(|| imap::start(state.clone()));
    // The outbox worker (every replica runs one: rows are claimed, never shared).
    let senders = settings
        .outbox
        .enabled
        .then(|| outbox::start(state.clone()));
    // The webhook worker (every replica runs one: deliveries are claimed, never shared).
    let hooks = settings
        .webhooks
        .enabled
        .then(|| webhooks::start(state.clone()));
    // The alarm scheduler (every replica runs one: each alarm is claimed once).
    let alarms = settings.alarms.enabled.then(|| jobs::alarms::start(&state));
    if alarms.is_some() && settings.alarms.smtp_url.is_none() {
        tracing::info!(
            "allarmi: nessun server SMTP ([alarms] smtp_url), gli e-mail restano \"non inviati\" \
             e si leggono in {public}/api/v1/alarms / alarms: no SMTP server ([alarms] smtp_url), \
             the e-mails are kept \"not sent\" and read at {public}/api/v1/alarms"
        );
    }
    serve(state, listener, shutdown_signal()).await?;
    if let Some(a) = alarms {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), a.stop()).await;
    }
    if let Some(h) = hooks {
        // A POST in progress is given its timeout; cut off, its claim expires and the
        // delivery is sent again (receivers de-duplicate by the event id).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), h.stop()).await;
    }
    if let Some(s) = senders {
        // A send in progress concludes or is left uncertain (recovered at the next start).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), s.stop()).await;
    }
    if let Some(p) = pollers {
        // A batch in progress is given a moment to commit; cut off after, it is read again
        // at the next start (nothing stored twice).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), p.stop()).await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
