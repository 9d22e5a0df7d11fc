//! Grants and team memberships: what a signed-in user holds, as the core's
//! [`Person`](pecdesk_core::authz::Person).

use pecdesk_core::authz::Person;
use pecdesk_core::policy::Policy;

use crate::auth::Principal;
use crate::error::Result;
use crate::store::Store;
use crate::with_pool;

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
