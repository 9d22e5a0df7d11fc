//! Activity endpoints, by feature: [`create`] (single, bulk), [`list`] (list, detail),
//! [`edit`] (fields, linked messages), [`flow`] (transitions, send), [`approval`]
//! (request, decision), [`draft`], [`comments`]. Each module exposes its routes;
//! [`router`] merges them. A handler extracts, loads the caller as a
//! [`Person`](pecdesk_core::authz::Person), calls the domain and answers.

pub mod approval;
pub mod comments;
pub mod create;
pub mod draft;
pub mod edit;
pub mod files;
pub mod flow;
pub mod list;

use axum::Router;

use crate::state::AppState;

// The handlers and their OpenAPI paths, under the names `http::openapi` lists.
pub use approval::{
    __path_decide_approval, __path_request_approval, decide_approval, request_approval,
};
pub use comments::{
    __path_add_comment, __path_edit_comment, __path_list_comments, add_comment, edit_comment,
    list_comments,
};
pub use create::{
    __path_create_activities_bulk, __path_create_activity, create_activities_bulk, create_activity,
};
pub use draft::{__path_put_draft, put_draft};
pub use edit::{__path_link_message, __path_update_activity, link_message, update_activity};
pub use files::{
    __path_delete_draft_file, __path_get_draft_file, __path_put_draft_file, delete_draft_file,
    get_draft_file, put_draft_file,
};
pub use flow::{__path_send_draft, __path_transition_activity, send_draft, transition_activity};
pub use list::{
    __path_activity_workload, __path_get_activity, __path_list_activities, activity_workload,
    get_activity, list_activities,
};

/// Routes of every activity feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(create::router())
        .merge(list::router())
        .merge(edit::router())
        .merge(flow::router())
        .merge(approval::router())
        .merge(draft::router())
        .merge(files::router())
        .merge(comments::router())
}
