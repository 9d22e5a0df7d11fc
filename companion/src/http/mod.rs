//! The HTTP API: each module exposes `router()`; [`build_app`](crate::build_app) merges them.

pub mod health;
pub mod me;
pub mod openapi;

use axum::Router;

use crate::state::AppState;

/// Every route of the API (without the outer layers).
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(health::router())
        .merge(openapi::router())
        .merge(me::router())
        .merge(crate::auth::router())
}
