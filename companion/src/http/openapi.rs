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
        crate::http::messages::list_messages,
        crate::http::messages::lookup_message,
        crate::http::messages::import_message,
        crate::http::messages::get_message,
        crate::http::messages::get_raw,
        crate::http::messages::classify_message,
        crate::http::messages::list_folders,
        crate::http::messages::take_message,
        crate::http::messages::trash_message,
        crate::http::messages::restore_message,
        crate::http::messages::work_message,
        crate::http::messages::unwork_message,
        crate::http::messages::list_variants,
        crate::http::messages::get_variant_raw,
        crate::http::activities::create_activity,
        crate::http::activities::create_activities_bulk,
        crate::http::activities::list_activities,
        crate::http::activities::activity_workload,
        crate::http::activities::get_activity,
        crate::http::activities::update_activity,
        crate::http::activities::transition_activity,
        crate::http::activities::link_message,
        crate::http::activities::list_comments,
        crate::http::activities::add_comment,
        crate::http::activities::edit_comment,
        crate::http::activities::put_draft,
        crate::http::activities::put_draft_file,
        crate::http::activities::get_draft_file,
        crate::http::activities::delete_draft_file,
        crate::http::activities::request_approval,
        crate::http::activities::decide_approval,
        crate::http::activities::send_draft,
        crate::http::audit::list_audit,
        crate::http::audit::verify_audit,
        crate::http::directory::list_users,
        crate::http::directory::list_teams,
        crate::http::admin::create_mailbox,
        crate::http::admin::create_user,
        crate::http::admin::update_user,
        crate::http::admin::get_mailbox,
        crate::http::admin::update_mailbox,
        crate::http::admin::create_team,
        crate::http::admin::update_team,
        crate::http::admin::add_member,
        crate::http::admin::remove_member,
        crate::http::admin::list_grants,
        crate::http::admin::create_grant,
        crate::http::admin::revoke_grant,
        crate::http::rules::list_rules,
        crate::http::rules::create_rule,
        crate::http::rules::get_rule,
        crate::http::rules::update_rule,
        crate::http::rules::delete_rule,
        crate::http::rules::reorder_rules,
        crate::http::rules::preview_rule,
        crate::http::rules::route_message,
        crate::http::campaigns::validate_campaign,
        crate::http::campaigns::create_campaign,
        crate::http::campaigns::list_campaigns,
        crate::http::campaigns::get_campaign,
        crate::http::campaigns::list_recipients,
        crate::http::campaigns::export_campaign,
        crate::http::campaigns::pause_campaign,
        crate::http::campaigns::resume_campaign,
        crate::http::campaigns::cancel_campaign,
        crate::http::presence::put_presence,
        crate::http::presence::delete_presence,
        crate::http::presence::get_presence,
        crate::http::presence::stream_presence,
        crate::http::export::export_message,
        crate::http::evidence::message_pack,
        crate::http::evidence::activity_pack,
        crate::http::evidence::mailbox_pack,
        crate::http::stats::get_stats,
        crate::http::notifications::list_notifications,
        crate::http::notifications::read_notification,
        crate::http::webhooks::list_webhooks,
        crate::http::webhooks::create_webhook,
        crate::http::webhooks::get_webhook,
        crate::http::webhooks::update_webhook,
        crate::http::webhooks::delete_webhook,
        crate::http::webhooks::test_webhook,
        crate::http::webhooks::rotate_secret,
        crate::http::webhooks::list_deliveries,
        crate::http::webhooks::retry_delivery,
        crate::http::events::stream_events,
        crate::http::sla::get_due,
        crate::http::alarms::list_alarms,
        crate::http::alarms::ack_alarm,
        crate::http::retention::purge_mailbox,
    ),
    components(schemas(
        crate::error::ErrorEnvelope,
        crate::error::ErrorBody,
        crate::webhooks::events::Event,
        crate::webhooks::events::EventType,
        crate::webhooks::events::EventObject,
    ))
)]
pub struct ApiDoc;

/// The route serving the document.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi().merge_from(<crate::auth::sso::SsoApiDoc as OpenApi>::openapi()))
}
