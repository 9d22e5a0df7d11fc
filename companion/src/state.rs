//! Shared state of every request: settings, store, token keys, metrics.

use std::sync::Arc;

use pecdesk_core::signature::TrustAnchors;

use crate::auth::tokens::TokenKeys;
use crate::config::Settings;
use crate::http::addin::XpiCache;
use crate::http::import_body::ImportBudget;
use crate::metrics::Metrics;
use crate::store::Store;

/// Application state, cheap to clone (one `Arc`).
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    store: Store,
    tokens: TokenKeys,
    metrics: Metrics,
    trust: Arc<TrustAnchors>,
    import_budget: ImportBudget,
    xpi_cache: XpiCache,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// Builds the state over an open store; loads (or creates, once) the token keys.
    pub async fn new(settings: Settings, store: Store) -> anyhow::Result<Self> {
        let tokens = TokenKeys::load_or_create(&store, &settings).await?;
        let trust = crate::trust::load(&settings)?;
        let import_budget = ImportBudget::new(
            settings.http.import_memory_budget,
            settings.import_body_limit,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                import_budget,
                settings,
                store,
                tokens,
                metrics: Metrics::default(),
                trust,
                xpi_cache: XpiCache::default(),
                shutdown: tokio::sync::watch::Sender::new(false),
            }),
        })
    }

    /// The settings the service was started with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Keys of companion-issued access tokens.
    pub fn tokens(&self) -> &TokenKeys {
        &self.inner.tokens
    }

    /// Anchors of the signature check of imported messages.
    pub fn trust(&self) -> &Arc<TrustAnchors> {
        &self.inner.trust
    }

    /// Bytes of message imports allowed in memory at once.
    pub fn import_budget(&self) -> &ImportBudget {
        &self.inner.import_budget
    }

    /// The Thunderbird extension last built (`/webext/pecdesk.xpi`).
    pub fn xpi_cache(&self) -> &XpiCache {
        &self.inner.xpi_cache
    }

    /// Turns `true` when the server begins to stop: long-lived responses (event streams)
    /// end, so the graceful shutdown does not wait for them forever.
    pub fn shutdown_watch(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.shutdown.subscribe()
    }

    /// Tells long-lived responses to end (see [`AppState::shutdown_watch`]).
    pub fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Request counters for `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
