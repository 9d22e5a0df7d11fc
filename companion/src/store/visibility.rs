//! Who may see what, as SQL: the set form of the core's read rules
//! (`pecdesk_core::authz`, operations `ReadActivity` and `ReadMessage`), written once and
//! used by every list, lookup and detail query.
//!
//! An activity is visible to a person who holds activity read on its mailbox, or who
//! participates in it (assignee, member of the assigned team, approver). A message is
//! visible to a person who holds message read on its mailbox, or who participates in an
//! activity the message is linked to. The `visibility_agrees_with_the_core` story checks
//! that these predicates and the core answer the same for every demo user.

use pecdesk_core::authz::Person;

use crate::store::query::Binds;

/// `(a.assignee_id = me OR a.approver_id = me OR a.team_id IN (teams))` for the activities
/// row aliased `a`.
pub fn participates(b: &mut Binds, a: &str, who: &Person) -> String {
    let me = b.text(who.user_id.clone());
    let teams = b.list(&who.teams);
    format!("({a}.assignee_id = {me} OR {a}.approver_id = {me} OR {a}.team_id IN {teams})")
}

/// The activities row aliased `a` is visible to `who`.
pub fn activity_visible(b: &mut Binds, a: &str, who: &Person) -> String {
    let readable = b.list(&who.mailboxes_where(|p| p.can_read_activities()));
    let part = participates(b, a, who);
    format!("({a}.mailbox_id IN {readable} OR {part})")
}

/// The person participates in an activity (of organisation `org`, a placeholder) linked to
/// the messages row aliased `m`.
pub fn message_participation(b: &mut Binds, m: &str, org: &str, who: &Person) -> String {
    let part = participates(b, "pa", who);
    format!(
        "EXISTS (SELECT 1 FROM activity_messages pam JOIN activities pa ON pa.id = pam.activity_id \
         WHERE pam.message_id = {m}.id AND pa.org_id = {org} AND {part})"
    )
}

/// The messages row aliased `m` (of organisation `org`, a placeholder) is visible to `who`.
pub fn message_visible(b: &mut Binds, m: &str, org: &str, who: &Person) -> String {
    let readable = b.list(&who.mailboxes_where(|p| p.can_read_messages()));
    let part = message_participation(b, m, org, who);
    format!("({m}.mailbox_id IN {readable} OR {part})")
}
