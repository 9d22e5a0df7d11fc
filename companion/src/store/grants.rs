//! Grants and team memberships (read and written here): what a signed-in user holds, as the core's
//! [`Person`](pecdesk_core::authz::Person).

use pecdesk_core::authz::Person;
use pecdesk_core::policy::Policy;

use crate::auth::Principal;
use crate::error::Result;
use crate::store::{Store, WriteTx, new_id};
use crate::{with_pool, with_tx};

/// Loads the grants (own and teams') and teams of `who`, scoped to their organisation.
pub async fn person(store: &Store, who: &Principal) -> Result<Person> {
    // One round trip: own grants, team grants, and team memberships (policy NULL).
    let rows: Vec<(String, Option<String>)> = with_pool!(store, |p| {
        sqlx::query_as(
            "SELECT g.mailbox_id, g.policy FROM grants g WHERE g.org_id = $1 AND g.user_id = $2 \
             UNION ALL \
             SELECT g.mailbox_id, g.policy FROM grants g \
             JOIN team_members tm ON tm.team_id = g.team_id \
             WHERE g.org_id = $1 AND tm.user_id = $2 \
             UNION ALL \
             SELECT team_id, NULL FROM team_members WHERE user_id = $2",
        )
        .bind(&who.org_id)
        .bind(&who.user_id)
        .fetch_all(p)
        .await
    })?;
    let mut person = principal_only(who);
    for (id, policy) in rows {
        match policy {
            None => person.teams.push(id),
            Some(policy) => {
                if let Some(p) = Policy::parse(&policy) {
                    person.grant(&id, p);
                }
            }
        }
    }
    Ok(person)
}

/// `who` as a person without loading grants: enough where participation alone decides
/// (the assignee's own list).
pub fn principal_only(who: &Principal) -> Person {
    Person {
        user_id: who.user_id.clone(),
        is_admin: who.is_admin,
        is_auditor: who.is_auditor,
        ..Person::default()
    }
}

/// Grants `policies` on `mailbox_id` to a user (one row per policy).
pub async fn grant_user(
    tx: &mut WriteTx,
    org_id: &str,
    mailbox_id: &str,
    user_id: &str,
    policies: &[Policy],
) -> Result<()> {
    for p in policies {
        with_tx!(tx, |c| sqlx::query(
            "INSERT INTO grants (id, org_id, mailbox_id, user_id, team_id, policy) \
             VALUES ($1, $2, $3, $4, NULL, $5)"
        )
        .bind(new_id())
        .bind(org_id)
        .bind(mailbox_id)
        .bind(user_id)
        .bind(p.as_str())
        .execute(&mut *c)
        .await
        .map(|_| ()))?;
    }
    Ok(())
}

/// Adds a user to a team (nothing when already a member); whether they were not one
/// before.
pub async fn add_member(tx: &mut WriteTx, team_id: &str, user_id: &str) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"
    )
    .bind(team_id)
    .bind(user_id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
