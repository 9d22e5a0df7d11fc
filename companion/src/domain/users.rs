//! Users of an organisation as its administrators manage them: create (name, e-mail,
//! administrator flag), rename, make or unmake administrator, disable and enable again.
//! A user is never deleted: their activities, comments and audit entries keep naming
//! them; a disabled user loses access at once (every request checks it, see
//! `crate::auth`). Every change is audited, without the e-mail address.

use pecdesk_core::ids::EmailAddress;
use serde::{Deserialize, Serialize};

use crate::domain::admin::Actor;
use crate::error::{Error, Result};
use crate::limits;
use crate::store::audit::{Action, Chain, Entry};
use crate::store::users::{self, NewUser};
use crate::store::{Store, new_id};

/// Characters of a display name.
const NAME_MAX: usize = 200;

/// Body of `POST /api/v1/users`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Sign-in address (unique across the companion).
    pub email: String,
    /// Display name.
    pub name: String,
    /// Organisation administrator (default false).
    #[serde(default)]
    pub is_admin: bool,
}

/// Body of `PATCH /api/v1/users/{id}`: the fields given change.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchUserRequest {
    pub name: Option<String>,
    pub is_admin: Option<bool>,
    /// `false` disables the user (no access at all, at once); `true` enables them again.
    pub enabled: Option<bool>,
}

/// A user as an administrator sees them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserAdminView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub enabled: bool,
}

impl From<users::UserRow> for UserAdminView {
    fn from(u: users::UserRow) -> Self {
        Self {
            id: u.id,
            name: u.name,
            email: u.email,
            is_admin: u.is_admin,
            enabled: !u.disabled,
        }
    }
}

fn check_name(name: &str) -> Result<String> {
    limits::line("name", name, NAME_MAX)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid(
            "campo `name`: obbligatorio / field `name`: required",
        ));
    }
    Ok(name.to_owned())
}

/// Creates an enabled user of the administrator's organisation (409 when the address is
/// taken, in any organisation).
pub async fn create_user(
    store: &Store,
    actor: Actor<'_>,
    req: CreateUserRequest,
) -> Result<UserAdminView> {
    let name = check_name(&req.name)?;
    let email = EmailAddress::parse(req.email.trim())?;
    let id = new_id();
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    if users::user_by_email_tx(&mut tx, &email).await?.is_some() {
        return Err(Error::conflict(
            "esiste già un utente con questo indirizzo / a user with this address already exists",
        ));
    }
    users::insert_user(
        &mut tx,
        &NewUser {
            id: &id,
            org_id: actor.org_id,
            email: &email,
            name: &name,
            is_admin: req.is_admin,
            is_auditor: false,
        },
    )
    .await?;
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::UserCreate,
        object_type: "user",
        object_id: &id,
        details: serde_json::json!({ "is_admin": req.is_admin }),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(user.id = %id, "user created");
    Ok(UserAdminView {
        id,
        name,
        email: email.as_str().to_owned(),
        is_admin: req.is_admin,
        enabled: true,
    })
}

/// Changes a user of the administrator's organisation (404 for anyone else). An
/// administrator may not disable themselves nor drop their own administrator flag: the
/// organisation would be left without the one acting.
pub async fn update_user(
    store: &Store,
    actor: Actor<'_>,
    id: &str,
    req: PatchUserRequest,
) -> Result<UserAdminView> {
    let name = req.name.as_deref().map(check_name).transpose()?;
    if actor.user_id == Some(id) && (req.enabled == Some(false) || req.is_admin == Some(false)) {
        return Err(Error::invalid(
            "non puoi disattivare te stesso né toglierti il ruolo di amministratore: chiedi a un \
             altro amministratore / you may not disable yourself nor drop your own administrator \
             role: ask another administrator",
        ));
    }
    let mut tx = store.begin_write(Chain::Org(actor.org_id)).await?;
    let mut user = users::user_of_org_tx(&mut tx, actor.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut fields = Vec::new();
    if let Some(n) = name {
        user.name = n;
        fields.push("name");
    }
    if let Some(a) = req.is_admin {
        user.is_admin = a;
        fields.push("is_admin");
    }
    if let Some(e) = req.enabled {
        user.disabled = !e;
        fields.push("enabled");
    }
    users::set_user_fields(&mut tx, id, &user.name, user.is_admin, user.disabled).await?;
    tx.audit(Entry {
        org_id: Some(actor.org_id),
        actor_id: actor.user_id,
        action: Action::UserUpdate,
        object_type: "user",
        object_id: id,
        details: serde_json::json!({
            "fields": fields, "is_admin": user.is_admin, "enabled": !user.disabled,
        }),
    })
    .await?;
    tx.commit().await?;
    tracing::info!(user.id = %id, "user updated");
    Ok(user.into())
}
