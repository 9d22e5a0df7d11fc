//! The HTTP API: each module exposes `router()`; [`build_app`](crate::build_app) merges them.

pub mod activities;
pub mod addin;
pub mod addin_trust;
pub mod admin;
pub mod alarms;
pub mod audit;
pub mod campaigns;
pub mod desk;
pub mod directory;
pub mod events;
pub mod evidence;
pub mod export;
pub mod health;
pub mod import_body;
pub mod me;
pub mod messages;
pub mod notifications;
pub mod openapi;
pub mod presence;
pub mod retention;
pub mod rules;
pub mod sla;
pub mod stats;
pub mod webhooks;

use axum::Router;

use crate::error::Error;
use crate::state::AppState;

/// Every route of the API (without the outer layers). Unknown paths answer 404 and known
/// paths with another method 405, both in the error envelope (axum's own answers are
/// plain text).
pub fn router(import_limit: usize) -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(me::router())
        .merge(messages::router(import_limit))
        .merge(activities::router())
        .merge(audit::router())
        .merge(evidence::router())
        .merge(stats::router())
        .merge(directory::router())
        .merge(admin::router())
        .merge(rules::router())
        .merge(campaigns::router(import_limit))
        .merge(addin::router())
        .merge(addin_trust::router())
        .merge(desk::router())
        .merge(presence::router())
        .merge(notifications::router())
        .merge(webhooks::router())
        .merge(events::router())
        .merge(sla::router())
        .merge(alarms::router())
        .merge(retention::router())
        .merge(crate::auth::router())
        .fallback(|| async { Error::NotFound })
        // After every merge: it applies to the routes registered so far.
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
}
