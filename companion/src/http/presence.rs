//! Presence, the collision warning of the add-ins: "Aldo is replying to this PEC". The pane
//! says where its user is (`PUT`, repeated every 20 s; an entry expires 60 s after its last
//! refresh), leaves (`DELETE`), and reads who else is there (`GET`, or the event stream).
//!
//! Security: whoever asks must be able to read the message or activity (the check of its
//! detail; otherwise 404, so another organisation's ids leak nothing), and every query
//! names the caller's organisation. The stream re-checks access every 30 s and ends when it
//! is gone. Presence is ephemeral bookkeeping: no audit entry.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, put};
use futures_util::Stream;
use pecdesk_core::authz::Operation;
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, ErrorEnvelope, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;
use crate::store::presence::{self as db, PresenceRow};
use crate::store::{grants, ms_to_rfc3339, now_ms};

/// How often a stream reads the table (a change made on another replica shows within it).
const POLL: Duration = Duration::from_secs(1);
/// How often a stream checks again that its reader may still see the object.
const RECHECK: Duration = Duration::from_secs(30);

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/presence",
            put(put_presence).delete(delete_presence).get(get_presence),
        )
        .route("/api/v1/presence/stream", get(stream_presence))
}

/// What presence is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    /// A message (`/api/v1/messages/{id}`).
    Message,
    /// An activity (`/api/v1/activities/{id}`).
    Activity,
}

impl ObjectKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Activity => "activity",
        }
    }
}

/// What the person is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PresenceState {
    /// The object is open in the pane.
    Viewing,
    /// A reply to it is being written.
    Replying,
}

impl PresenceState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Viewing => "viewing",
            Self::Replying => "replying",
        }
    }
}

/// Body of `PUT /api/v1/presence`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceRequest {
    /// `message` or `activity`.
    pub object: ObjectKind,
    /// Its id.
    pub id: String,
    /// `viewing` or `replying`.
    pub state: PresenceState,
}

/// Body of `DELETE /api/v1/presence`; also the query of the reads.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PresenceObject {
    /// `message` or `activity`.
    pub object: ObjectKind,
    /// Its id.
    pub id: String,
}

/// Who is on an object now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PresenceResponse {
    /// `message` or `activity`.
    pub object: ObjectKind,
    /// Its id.
    pub id: String,
    /// The people there (unexpired), longest there first; the caller too, flagged `me`.
    pub people: Vec<PresencePerson>,
}

/// One person on the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PresencePerson {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// `viewing` or `replying`.
    pub state: PresenceState,
    /// Since when (RFC 3339): the start of this state.
    pub since: String,
    /// Whether this is the caller.
    pub me: bool,
}

/// 404 unless `who` may read the object (the same check as its detail).
async fn check_readable(
    state: &AppState,
    who: &Principal,
    kind: ObjectKind,
    id: &str,
) -> Result<()> {
    crate::limits::text("id", id, crate::limits::ID)?;
    let person = grants::person(state.store(), who).await?;
    let visible = match kind {
        ObjectKind::Message => {
            crate::domain::messages::load_readable(state.store(), who, &person, id)
                .await
                .map(|_| ())
        }
        ObjectKind::Activity => {
            match crate::domain::activities::load(state.store(), who, id).await {
                Ok(a) => authorize(&person, Operation::ReadActivity(&a.facts())),
                Err(e) => Err(e),
            }
        }
    };
    match visible {
        Ok(()) => Ok(()),
        // Visible but not readable, or missing: the same answer.
        Err(Error::NotFound | Error::Forbidden(_)) => Err(Error::NotFound),
        Err(e) => Err(e),
    }
}

/// The caller is on the object (repeat every 20 s; 60 s without a repeat and it is gone).
#[utoipa::path(put, path = "/api/v1/presence", tag = "presence", request_body = PresenceRequest,
    responses((status = 204, description = "recorded"), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope)))]
pub async fn put_presence(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<PresenceRequest>,
) -> Result<StatusCode> {
    check_readable(&state, &who, req.object, &req.id).await?;
    db::touch(
        state.store(),
        &who.org_id,
        req.object.as_str(),
        &req.id,
        &who.user_id,
        req.state.as_str(),
        now_ms(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller left the object (the pane was closed or shows another one).
#[utoipa::path(delete, path = "/api/v1/presence", tag = "presence", request_body = PresenceObject,
    responses((status = 204, description = "removed"), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn delete_presence(
    State(state): State<AppState>,
    who: Principal,
    Json(req): Json<PresenceObject>,
) -> Result<StatusCode> {
    check_readable(&state, &who, req.object, &req.id).await?;
    db::leave(
        state.store(),
        &who.org_id,
        req.object.as_str(),
        &req.id,
        &who.user_id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is on the object now.
#[utoipa::path(get, path = "/api/v1/presence", tag = "presence", params(PresenceObject),
    responses((status = 200, body = PresenceResponse), (status = 401, body = ErrorEnvelope),
              (status = 404, body = ErrorEnvelope)))]
pub async fn get_presence(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<PresenceObject>,
) -> Result<axum::Json<PresenceResponse>> {
    check_readable(&state, &who, q.object, &q.id).await?;
    Ok(axum::Json(view(&state, &who, q.object, &q.id).await?))
}

async fn view(
    state: &AppState,
    who: &Principal,
    kind: ObjectKind,
    id: &str,
) -> Result<PresenceResponse> {
    let rows = db::list(state.store(), &who.org_id, kind.as_str(), id, now_ms()).await?;
    Ok(PresenceResponse {
        object: kind,
        id: id.to_owned(),
        people: rows.into_iter().map(|r| person(who, r)).collect(),
    })
}

fn person(who: &Principal, r: PresenceRow) -> PresencePerson {
    PresencePerson {
        me: r.user_id == who.user_id,
        state: if r.state == "replying" {
            PresenceState::Replying
        } else {
            PresenceState::Viewing
        },
        since: ms_to_rfc3339(r.since_ms),
        name: r.name,
        user_id: r.user_id,
    }
}

/// Server-sent events: `event: presence` with the [`PresenceResponse`] at once and at every
/// change (the table is read every second, so changes made through another replica show
/// too), keep-alive comments every 15 s. Read it with `fetch` and the `Authorization`
/// header, never with a token in the URL.
#[utoipa::path(get, path = "/api/v1/presence/stream", tag = "presence", params(PresenceObject),
    responses((status = 200, content_type = "text/event-stream", description = "`event: presence`, `data: PresenceResponse` at once and at every change"),
              (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn stream_presence(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<PresenceObject>,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    check_readable(&state, &who, q.object, &q.id).await?;
    let watch = Watch {
        shutdown: state.shutdown_watch(),
        state,
        who,
        kind: q.object,
        id: q.id,
        last: None,
        checked: Instant::now(),
    };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        let event = w.next_change().await?;
        Some((Ok(event), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One open stream.
struct Watch {
    state: AppState,
    who: Principal,
    kind: ObjectKind,
    id: String,
    /// The JSON last sent (`None` before the first event).
    last: Option<String>,
    /// When access was last checked.
    checked: Instant,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Watch {
    /// The next event to send; `None` ends the stream (shutdown, access gone, database
    /// error).
    async fn next_change(&mut self) -> Option<Event> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            if self.last.is_some() {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    _ = self.shutdown.changed() => return None,
                }
            }
            if self.checked.elapsed() >= RECHECK {
                if !self.still_allowed().await {
                    return None;
                }
                self.checked = Instant::now();
            }
            let view = match view(&self.state, &self.who, self.kind, &self.id).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, user.id = %self.who.user_id, "presence stream ended");
                    return None;
                }
            };
            let json = serde_json::to_string(&view).ok()?;
            if self.last.as_deref() != Some(json.as_str()) {
                self.last = Some(json.clone());
                return Some(Event::default().event("presence").data(json));
            }
        }
    }

    /// The user still exists, is enabled, and may read the object.
    async fn still_allowed(&self) -> bool {
        let enabled = matches!(
            crate::store::users::user(self.state.store(), &self.who.user_id).await,
            Ok(Some(u)) if !u.disabled && u.org_id == self.who.org_id
        );
        enabled
            && check_readable(&self.state, &self.who, self.kind, &self.id)
                .await
                .is_ok()
    }
}
