//! What the add-ins' WebAssembly core checks signatures against, the same as the companion:
//! - `GET /addin/trust/qualified.json`: the list of qualified CAs (format
//!   `pecdesk-qualified-cas/1`) for signed documents (`.p7m`), as imported with
//!   `pecdesk trust import --qualified FILE.xml`;
//! - `GET /addin/trust/providers.json`: the PEC providers the companion's own S/MIME check
//!   trusts (format `pecdesk-pec-providers/1`: the built-in list, the list imported from
//!   AgID, and in demo mode the demo and simulator test providers), so that the pane's check
//!   of the bytes on screen answers as the companion's does. The `ca_bundle` extra anchors
//!   are not included: they complete chains but make no one a PEC provider.
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
    Router::new()
        .route("/addin/trust/qualified.json", get(get_qualified_list))
        .route("/addin/trust/providers.json", get(get_provider_list))
}

/// The PEC providers the companion trusts, as a provider list file.
async fn get_provider_list(State(state): State<AppState>) -> Response {
    let json = pecdesk_core::signature::providers::to_json(
        &state.trust().providers,
        "pecdesk companion (/addin/trust/providers.json)",
    );
    (
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
        json,
    )
        .into_response()
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
