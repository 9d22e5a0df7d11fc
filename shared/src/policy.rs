//! Mailbox policies, roles and the permission model (see `DESIGN.md`).
//!
//! Policies are granted to a user or a team on a mailbox; a user's [`Permissions`] on a
//! mailbox are the union of their own grants and their teams' grants. Roles are named
//! bundles of policies. Being assignee or approver of an activity (or a member of its
//! assigned team) gives access to that activity and its linked messages without any
//! mailbox grant: `crate::authz` combines both.

use serde::{Deserialize, Serialize};

/// One of the five policies an admin grants on a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Policy {
    /// Read the mailbox's messages.
    MailAccountReader,
    /// Take in charge, categorise, move, trash/restore messages; send from the mailbox.
    MailAccountManager,
    /// Read the mailbox's activities.
    MailActivityReader,
    /// Comment, edit drafts, change status of activities it can read.
    MailActivityWriter,
    /// Create activities, assign, set due dates and priority, choose flow and approver, route.
    MailActivityManager,
}

crate::from_json_enum!(Policy, {
    Policy::MailAccountReader: "MAIL_ACCOUNT_READER",
    Policy::MailAccountManager: "MAIL_ACCOUNT_MANAGER",
    Policy::MailActivityReader: "MAIL_ACTIVITY_READER",
    Policy::MailActivityWriter: "MAIL_ACTIVITY_WRITER",
    Policy::MailActivityManager: "MAIL_ACTIVITY_MANAGER",
});

impl Policy {
    /// Every policy, in the order of `DESIGN.md`.
    pub const ALL: [Policy; 5] = [
        Policy::MailAccountReader,
        Policy::MailAccountManager,
        Policy::MailActivityReader,
        Policy::MailActivityWriter,
        Policy::MailActivityManager,
    ];

    /// The name admins know (`MAIL_ACCOUNT_READER`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::MailAccountReader => "MAIL_ACCOUNT_READER",
            Policy::MailAccountManager => "MAIL_ACCOUNT_MANAGER",
            Policy::MailActivityReader => "MAIL_ACTIVITY_READER",
            Policy::MailActivityWriter => "MAIL_ACTIVITY_WRITER",
            Policy::MailActivityManager => "MAIL_ACTIVITY_MANAGER",
        }
    }

    /// Parses the admin name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    const fn bit(self) -> u8 {
        match self {
            Policy::MailAccountReader => 1,
            Policy::MailAccountManager => 2,
            Policy::MailActivityReader => 4,
            Policy::MailActivityWriter => 8,
            Policy::MailActivityManager => 16,
        }
    }
}

/// A named bundle of policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manager: all five policies.
    Responsabile,
    /// Assignee: activity reader + writer.
    Assegnatario,
    /// Dispatcher: activity manager + account reader + account manager.
    Smistatore,
}

impl Role {
    /// The policies of the role.
    pub fn policies(self) -> &'static [Policy] {
        match self {
            Role::Responsabile => &Policy::ALL,
            Role::Assegnatario => &[Policy::MailActivityReader, Policy::MailActivityWriter],
            Role::Smistatore => &[
                Policy::MailActivityManager,
                Policy::MailAccountReader,
                Policy::MailAccountManager,
            ],
        }
    }
}

/// The set of policies a user holds on one mailbox; on the wire, the list of policy names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "Vec<Policy>", from = "Vec<Policy>")]
pub struct Permissions(u8);

impl From<Permissions> for Vec<Policy> {
    fn from(p: Permissions) -> Self {
        p.policies()
    }
}

impl From<Vec<Policy>> for Permissions {
    fn from(v: Vec<Policy>) -> Self {
        Permissions::of(&v)
    }
}

/// On the wire the list of policy names, as serde reads it (`from = "Vec<Policy>"`).
impl crate::json::FromJson for Permissions {
    fn read(r: &mut crate::json::Reader<'_>) -> Result<Self, crate::json::Error> {
        Vec::<Policy>::read(r).map(Permissions::from)
    }
}

impl Permissions {
    /// No policy.
    pub const NONE: Permissions = Permissions(0);

    /// The set holding exactly `policies`.
    pub fn of(policies: &[Policy]) -> Self {
        policies.iter().fold(Self::NONE, |acc, p| acc.with(*p))
    }

    /// This set plus `p`.
    #[must_use]
    pub fn with(self, p: Policy) -> Self {
        Self(self.0 | p.bit())
    }

    /// The union of two sets.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether `p` is held.
    pub fn has(self, p: Policy) -> bool {
        self.0 & p.bit() != 0
    }

    /// The held policies, in `DESIGN.md` order.
    pub fn policies(self) -> Vec<Policy> {
        Policy::ALL.into_iter().filter(|p| self.has(*p)).collect()
    }

    /// Read the mailbox's messages (a manager of messages reads them too).
    pub fn can_read_messages(self) -> bool {
        self.has(Policy::MailAccountReader) || self.has(Policy::MailAccountManager)
    }

    /// Take in charge, trash, restore, import messages.
    pub fn can_manage_messages(self) -> bool {
        self.has(Policy::MailAccountManager)
    }

    /// Read the mailbox's activities (a manager of activities reads what it routes).
    pub fn can_read_activities(self) -> bool {
        self.has(Policy::MailActivityReader) || self.has(Policy::MailActivityManager)
    }

    /// Comment, edit drafts, change status of readable activities.
    pub fn can_write_activities(self) -> bool {
        self.can_read_activities() && self.has(Policy::MailActivityWriter)
    }

    /// Create, assign, reschedule, choose flow and approver; cancel and reopen.
    pub fn can_manage_activities(self) -> bool {
        self.has(Policy::MailActivityManager)
    }

    /// May be designated approver: activity read and write on the mailbox.
    pub fn can_approve(self) -> bool {
        self.has(Policy::MailActivityReader) && self.has(Policy::MailActivityWriter)
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_the_bundles_of_the_design() {
        let resp = Permissions::of(Role::Responsabile.policies());
        assert!(Policy::ALL.iter().all(|p| resp.has(*p)));
        let ass = Permissions::of(Role::Assegnatario.policies());
        assert!(ass.can_read_activities() && ass.can_write_activities());
        assert!(!ass.can_manage_activities() && !ass.can_read_messages());
        let smi = Permissions::of(Role::Smistatore.policies());
        assert!(
            smi.can_manage_activities() && smi.can_read_messages() && smi.can_manage_messages()
        );
        assert!(!smi.can_write_activities());
    }

    #[test]
    fn policy_names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.as_str()), Some(p));
        }
        assert_eq!(Policy::parse("ADMIN"), None);
    }

    #[test]
    fn only_reader_and_writer_may_approve() {
        assert!(Permissions::of(Role::Assegnatario.policies()).can_approve());
        assert!(!Permissions::of(Role::Smistatore.policies()).can_approve());
    }
}
