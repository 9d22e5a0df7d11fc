//! `GET /api/openapi.json`: the OpenAPI document generated from the handlers' annotations.

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;

use crate::state::AppState;

/// The OpenAPI description of the companion API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "PecDesk companion API",
        description = "PEC per i team / PEC for teams"
    ),
    paths(
        crate::http::health::healthz,
        crate::http::health::readyz,
        crate::http::health::metrics,
        crate::auth::dev::dev_login,
        crate::http::me::get_me,
        crate::http::me::list_mailboxes,
    ),
    components(schemas(crate::error::ErrorEnvelope, crate::error::ErrorBody))
)]
pub struct ApiDoc;

/// The route serving the document.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi().merge_from(<crate::auth::sso::SsoApiDoc as OpenApi>::openapi()))
}
