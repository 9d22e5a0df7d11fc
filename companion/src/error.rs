//! The one error type of the HTTP layer and its JSON envelope
//! (`{"error": {"code": "...", "message": "..."}}`).
//!
//! 4xx answers carry a message a user can act on (Italian first, English second);
//! internal failures are logged once and answered as an opaque 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Result of a handler or a store call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every error the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No token, or a token that does not verify (401, with `WWW-Authenticate: Bearer`).
    #[error("autenticazione richiesta / authentication required")]
    Unauthorized,
    /// The caller is known but may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The object does not exist or is not visible to the caller (404); other
    /// organisations' objects answer the same way, so their ids leak nothing.
    #[error("non trovato / not found")]
    NotFound,
    /// The path exists but not with this method (405).
    #[error("metodo non ammesso per questo indirizzo / method not allowed on this path")]
    MethodNotAllowed,
    /// Stale `version` or a transition the flow forbids (409).
    #[error("{0}")]
    Conflict(String),
    /// The object existed and was removed for good, e.g. the raw bytes of a purged message
    /// (410); the message says what happened.
    #[error("{0}")]
    Gone(String),
    /// Input that does not make sense (422).
    #[error("{0}")]
    Invalid(String),
    /// Body too large (413).
    #[error("richiesta troppo grande / request body too large")]
    TooLarge,
    /// The request (body included) was not answered in time (408).
    #[error("richiesta troppo lenta, riprova / the request took too long, try again")]
    RequestTimeout,
    /// Malformed request (400).
    #[error("{0}")]
    BadRequest(String),
    /// Something the service needs is not installed or built (503); the message says what
    /// to run.
    #[error("{0}")]
    Unavailable(String),
    /// Database failure: logged, answered as 500.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Any other internal failure: logged, answered as 500.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// Shorthand for [`Error::Forbidden`].
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::Invalid(msg.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Database(sqlx::Error::RowNotFound) => StatusCode::NOT_FOUND,
            Self::Database(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code of the envelope.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Database(sqlx::Error::RowNotFound) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::Invalid(_) => "invalid",
            Self::TooLarge => "too_large",
            Self::RequestTimeout => "request_timeout",
            Self::BadRequest(_) => "bad_request",
            Self::Unavailable(_) => "unavailable",
            Self::Database(_) | Self::Internal(_) => "internal",
        }
    }
}

/// The JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// The error itself.
    pub error: ErrorBody,
}

/// `code` (stable, English) and `message` (Italian / English).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Database(sqlx::Error::RowNotFound) => Self::NotFound.to_string(),
            Self::Database(e) => {
                tracing::error!(error = %e, "database error");
                "errore interno / internal error".to_owned()
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "errore interno / internal error".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code().to_owned(),
                message,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Maps constraint violations where they happen: a unique key → 409.
pub trait ResultExt<T> {
    /// Turns a unique-constraint violation into [`Error::Conflict`] with `msg`.
    fn on_unique(self, msg: &str) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_unique(self, msg: &str) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::conflict(msg),
            _ => Error::Database(e),
        })
    }
}

/// Malformed identifiers (Message-ID, identificativo, e-mail address) answer 422 with the
/// core's bilingual message.
impl From<pecdesk_core::ids::IdError> for Error {
    fn from(e: pecdesk_core::ids::IdError) -> Self {
        Self::Invalid(e.to_string())
    }
}
