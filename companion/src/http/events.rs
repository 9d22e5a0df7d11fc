//! `GET /api/v1/events/stream`: the live stream of the desk. Server-sent events, one per
//! change of the caller's organisation that the caller may see, as `{id, type, object}`
//! only, so the desk refetches the object through the authorised API.
//!
//! Source: the organisation's audit chain (the same as webhooks), read every second, so a
//! change made through another replica shows too. Visibility: an event about a message is
//! sent when the caller may read the message, one about an activity when the caller may
//! read the activity (the same checks as their details, with the caller's grants as they
//! are when the event is read); anything else is not sent. Resumable: the SSE `id` is the
//! event id, and a reconnection with `Last-Event-ID` continues after it (at most
//! [`RESUME_WINDOW`] entries back). Read it with `fetch` and the `Authorization` header,
//! like the presence stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use pecdesk_core::authz::{Operation, Person};
use serde::Serialize;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{ErrorEnvelope, Result};
use crate::state::AppState;
use crate::store::grants;
use crate::store::webhooks as db;
use crate::webhooks::events::{self, EventObject};

/// How often the stream reads the log.
const POLL: Duration = Duration::from_secs(1);
/// How often the stream checks that its reader is still an enabled user.
const RECHECK: Duration = Duration::from_secs(30);
/// Entries read per query.
const BATCH: i64 = 200;
/// How far back (entries of the chain) a `Last-Event-ID` may resume.
pub const RESUME_WINDOW: i64 = 10_000;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/events/stream", get(stream_events))
}

/// One event of the stream (`event: change`, `id:` the event id).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StreamEvent {
    /// `<organisation id>:<seq>`: send it back as `Last-Event-ID` to resume.
    pub id: String,
    /// A webhook event type (`activity.created`, ...), or `message.changed` /
    /// `activity.changed` for any other change (taken, trashed, commented, edited ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The message or activity to refetch.
    pub object: EventObject,
}

/// Server-sent events: `event: change`, `id: <event id>`, `data: StreamEvent`, for each
/// change of a message or activity the caller may read, within a second; keep-alive
/// comments every 15 s. `Last-Event-ID` resumes after that event.
#[utoipa::path(get, path = "/api/v1/events/stream", tag = "events", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this event id")),
    responses((status = 200, content_type = "text/event-stream",
               description = "`event: change`, `id`, `data: StreamEvent` per visible change", body = StreamEvent),
              (status = 401, body = ErrorEnvelope)))]
pub async fn stream_events(
    State(state): State<AppState>,
    who: Principal,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let head = db::chain_head(state.store(), &who.org_id).await?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| events::seq_of(&who.org_id, s));
    let after = match resume {
        Some(seq) => seq.clamp((head - RESUME_WINDOW).max(0), head),
        None => head,
    };
    let watch = Watch {
        shutdown: state.shutdown_watch(),
        state,
        who,
        after,
        queue: VecDeque::new(),
        polled: false,
        checked: Instant::now(),
    };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        let event = w.next_event().await?;
        Some((Ok(event), w))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One open stream.
struct Watch {
    state: AppState,
    who: Principal,
    /// The last seq read.
    after: i64,
    /// Events read, not yet sent.
    queue: VecDeque<SseEvent>,
    /// Whether the log was read at least once.
    polled: bool,
    /// When the reader was last checked.
    checked: Instant,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

impl Watch {
    /// The next event; `None` ends the stream (shutdown, user gone, database error).
    async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some(e);
            }
            if *self.shutdown.borrow() {
                return None;
            }
            if self.polled {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    _ = self.shutdown.changed() => return None,
                }
            }
            self.polled = true;
            if self.checked.elapsed() >= RECHECK {
                if !self.still_allowed().await {
                    return None;
                }
                self.checked = Instant::now();
            }
            if let Err(e) = self.read().await {
                tracing::warn!(error = %e, user.id = %self.who.user_id, "event stream ended");
                return None;
            }
        }
    }

    /// Reads the entries after `after`, queueing the visible ones.
    async fn read(&mut self) -> Result<()> {
        let store = self.state.store();
        let org = self.who.org_id.clone();
        let rows = db::source_rows(store, &org, self.after, i64::MAX, BATCH).await?;
        if rows.is_empty() {
            return Ok(());
        }
        // The caller's grants as they are now.
        let person = grants::person(store, &self.who).await?;
        for row in rows {
            self.after = row.seq;
            let Some((id, kind, object)) = events::stream_event(&org, &row) else {
                continue;
            };
            if !visible(&self.state, &self.who, &person, &object).await? {
                continue;
            }
            let data = StreamEvent {
                id: id.clone(),
                kind,
                object,
            };
            let json = serde_json::to_string(&data).map_err(|e| anyhow::anyhow!(e))?;
            self.queue
                .push_back(SseEvent::default().event("change").id(id).data(json));
        }
        Ok(())
    }

    /// The user still exists and is enabled.
    async fn still_allowed(&self) -> bool {
        matches!(
            crate::store::users::user(self.state.store(), &self.who.user_id).await,
            Ok(Some(u)) if !u.disabled && u.org_id == self.who.org_id
        )
    }
}

/// Whether `who` may read the object (the same checks as its detail).
async fn visible(
    state: &AppState,
    who: &Principal,
    person: &Person,
    object: &EventObject,
) -> Result<bool> {
    use crate::error::Error;
    let r = match object.kind.as_str() {
        "message" => crate::domain::messages::load_readable(state.store(), who, person, &object.id)
            .await
            .map(|_| ()),
        "activity" => match crate::domain::activities::load(state.store(), who, &object.id).await {
            Ok(a) => authorize(person, Operation::ReadActivity(&a.facts())),
            Err(e) => Err(e),
        },
        _ => return Ok(false),
    };
    match r {
        Ok(()) => Ok(true),
        Err(Error::NotFound | Error::Forbidden(_)) => Ok(false),
        Err(e) => Err(e),
    }
}
