//! `GET /addin/trust/qualified.json`: the list of qualified CAs (format
//! `pecdesk-qualified-cas/1`) the add-ins' WebAssembly core checks signed documents
//! (`.p7m`) against, as imported with `pecdesk trust import --qualified FILE.xml`.
//!
//! Served without a token, like the rest of `/addin/`: it is public data (the CA services
//! of an EU trusted list), the same for every organisation, and the pane may need it before
//! the user has signed in.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{ErrorBody, ErrorEnvelope};
use crate::state::AppState;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/addin/trust/qualified.json", get(get_qualified_list))
}

/// The qualified CA list, or 404 saying how to load one.
async fn get_qualified_list(State(state): State<AppState>) -> Response {
    match state.qualified() {
        Some(list) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                // The list changes only on restart after an import.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            list.json.clone(),
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(ErrorEnvelope {
                error: ErrorBody {
                    code: "not_found".to_owned(),
                    message: "nessun elenco delle CA qualificate caricato: l'amministratore lo \
                              importa con `pecdesk trust import --qualified ELENCO.xml` e riavvia \
                              / no qualified CA list loaded: the administrator imports one with \
                              `pecdesk trust import --qualified LIST.xml` and restarts"
                        .to_owned(),
                },
            }),
        )
            .into_response(),
    }
}
