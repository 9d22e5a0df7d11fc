//! Authorization: may this person do this operation on this mailbox, message or activity?
//!
//! Every permission decision of PecDesk is made here, by [`authorize`], from three kinds of
//! facts: the person's grants (their own and their teams' policies per mailbox, see
//! [`crate::policy`]), their participation (assignee, member of the assigned team,
//! approver) and the object's state (the activity flow of [`crate::activity`]). The
//! companion asks once per request; the add-ins ask the same function through
//! `pecdesk-wasm` to show only the actions that will succeed. A refusal is a [`Denied`]
//! with one bilingual message per reason.
//!
//! Security invariant: whatever is not visible answers [`Denied::NotVisible`] (404), so a
//! caller cannot tell another organisation's or an unreadable object from a missing one.
//!
//! Security invariant (segregation of duties): an approval takes two people. Nobody
//! approves a draft they wrote or edited ([`Denied::OwnDraft`]), the one who requested an
//! approval does not decide it ([`Denied::OwnRequest`]), and the approver is never the
//! assignee nor a member of the assigned team ([`Denied::ApproverIsAssignee`], checked when
//! the approver is named, [`Operation::NameApprover`], and again when they decide).
//! Organisation scoping itself happens before: the companion only builds facts from rows of
//! the caller's organisation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::activity::{self, Action, Actor, Context, Flow, Status, TransitionError};
use crate::policy::{Permissions, Policy};

/// Who is asking: organisation flags, permissions per mailbox and team memberships.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// User id.
    pub user_id: String,
    /// Organisation administrator.
    #[serde(default)]
    pub is_admin: bool,
    /// May read the audit log.
    #[serde(default)]
    pub is_auditor: bool,
    /// Permissions per mailbox id: the union of own grants and the teams' grants.
    #[serde(default)]
    pub mailboxes: BTreeMap<String, Permissions>,
    /// Ids of the teams the person belongs to.
    #[serde(default)]
    pub teams: Vec<String>,
}

crate::from_json_struct!(Person, "struct Person", Person::default(), {
    user_id: "user_id" = true,
    is_admin: "is_admin" = false,
    is_auditor: "is_auditor" = false,
    mailboxes: "mailboxes" = false,
    teams: "teams" = false,
});

impl Person {
    /// A person without grants or teams.
    pub fn new(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            ..Self::default()
        }
    }

    /// Adds `policy` on `mailbox_id` (grants of the person or of one of their teams).
    pub fn grant(&mut self, mailbox_id: &str, policy: Policy) {
        let p = self.mailboxes.entry(mailbox_id.to_owned()).or_default();
        *p = p.with(policy);
    }

    /// Permissions on one mailbox (none when not granted).
    pub fn on(&self, mailbox_id: &str) -> Permissions {
        self.mailboxes.get(mailbox_id).copied().unwrap_or_default()
    }

    /// Mailboxes where `pred` holds, sorted.
    pub fn mailboxes_where(&self, pred: impl Fn(Permissions) -> bool) -> Vec<String> {
        self.mailboxes
            .iter()
            .filter(|(_, p)| pred(**p))
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Responsabile of the mailbox: `MAIL_ACTIVITY_MANAGER` and `MAIL_ACCOUNT_MANAGER` on it
    /// (own or a team's grants).
    pub fn leads(&self, mailbox_id: &str) -> bool {
        let p = self.on(mailbox_id);
        p.can_manage_activities() && p.can_manage_messages()
    }

    /// Responsabile of at least one mailbox.
    pub fn leads_any(&self) -> bool {
        self.mailboxes.keys().any(|m| self.leads(m))
    }

    /// Whether the person belongs to `team_id`.
    pub fn in_team(&self, team_id: &str) -> bool {
        self.teams.iter().any(|t| t == team_id)
    }
}

/// The facts about an activity that decisions depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityFacts {
    /// The activity's mailbox.
    pub mailbox_id: String,
    /// Where it stands.
    pub status: Status,
    /// Which flow it follows.
    #[serde(default)]
    pub flow: Flow,
    /// Assigned user.
    #[serde(default)]
    pub assignee_id: Option<String>,
    /// Assigned team.
    #[serde(default)]
    pub team_id: Option<String>,
    /// Designated approver.
    #[serde(default)]
    pub approver_id: Option<String>,
    /// Version of the draft not yet sent, if there is one.
    #[serde(default)]
    pub draft_version: Option<i64>,
    /// The draft version the approver approved (none, or voided by an edit).
    #[serde(default)]
    pub approved_draft_version: Option<i64>,
    /// Everyone who wrote or edited the draft (any of its versions: each carries the
    /// previous ones' text). None of them may approve it.
    #[serde(default)]
    pub draft_authors: Vec<String>,
    /// Who asked for the latest approval; they may not decide it.
    #[serde(default)]
    pub approval_requested_by: Option<String>,
    /// The draft has already gone out.
    #[serde(default)]
    pub draft_sent: bool,
}

crate::from_json_struct!(ActivityFacts, "struct ActivityFacts", ActivityFacts::default(), {
    mailbox_id: "mailbox_id" = true,
    status: "status" = true,
    flow: "flow" = false,
    assignee_id: "assignee_id" = false,
    team_id: "team_id" = false,
    approver_id: "approver_id" = false,
    draft_version: "draft_version" = false,
    approved_draft_version: "approved_draft_version" = false,
    draft_authors: "draft_authors" = false,
    approval_requested_by: "approval_requested_by" = false,
    draft_sent: "draft_sent" = false,
});

impl ActivityFacts {
    /// The person is the assignee or a member of the assigned team.
    pub fn is_assignee(&self, who: &Person) -> bool {
        self.assignee_id.as_deref() == Some(who.user_id.as_str())
            || self.team_id.as_deref().is_some_and(|t| who.in_team(t))
    }

    /// The person is the designated approver.
    pub fn is_approver(&self, who: &Person) -> bool {
        self.approver_id.as_deref() == Some(who.user_id.as_str())
    }

    /// The person wrote or edited the draft.
    pub fn is_draft_author(&self, who: &Person) -> bool {
        self.draft_authors.contains(&who.user_id)
    }

    /// Assignee, team member or approver: participation alone makes the activity (and its
    /// messages) readable and workable, without any mailbox grant.
    pub fn is_participant(&self, who: &Person) -> bool {
        self.is_assignee(who) || self.is_approver(who)
    }

    fn may_read(&self, who: &Person) -> bool {
        who.on(&self.mailbox_id).can_read_activities() || self.is_participant(who)
    }

    fn may_work(&self, who: &Person) -> bool {
        who.on(&self.mailbox_id).can_write_activities() || self.is_participant(who)
    }

    fn may_manage(&self, who: &Person) -> bool {
        who.on(&self.mailbox_id).can_manage_activities()
    }

    /// The state machine's view of this activity and person.
    fn context(&self, who: &Person) -> Context {
        Context {
            flow: self.flow,
            actor: Actor {
                can_work: self.may_work(who),
                is_manager: self.may_manage(who),
                is_approver: self.is_approver(who),
            },
            has_draft: self.draft_version.is_some(),
            has_approver: self.approver_id.is_some(),
            draft_approved: self.draft_version.is_some()
                && self.approved_draft_version == self.draft_version,
            draft_sent: self.draft_sent,
        }
    }
}

/// The facts about a message that decisions depend on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFacts {
    /// The message's mailbox.
    pub mailbox_id: String,
    /// The person participates in an activity linked to the message.
    #[serde(default)]
    pub participant: bool,
}

/// An operation together with the object it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// Import a message into a mailbox (of the caller's organisation).
    ImportMessage {
        /// The target mailbox.
        mailbox_id: &'a str,
    },
    /// See a mailbox in the mailbox list (of the caller's organisation): any policy on it,
    /// or organisation administrator (who manages the organisation's mailboxes).
    SeeMailbox {
        /// The mailbox.
        mailbox_id: &'a str,
    },
    /// Create activities in a mailbox (of the caller's organisation).
    CreateActivity {
        /// The activity's mailbox.
        mailbox_id: &'a str,
    },
    /// See a message, its raw bytes and receipts.
    ReadMessage(&'a MessageFacts),
    /// Take in charge, trash or restore a message.
    ManageMessage(&'a MessageFacts),
    /// See an activity, its comments, draft and messages.
    ReadActivity(&'a ActivityFacts),
    /// Change title, assignee, team, due date, priority, approver, category, tags.
    EditActivity(&'a ActivityFacts),
    /// Link one more message to the activity.
    LinkMessage(&'a ActivityFacts),
    /// Add a comment.
    Comment(&'a ActivityFacts),
    /// Edit an existing comment.
    EditComment {
        /// The activity the comment belongs to.
        activity: &'a ActivityFacts,
        /// The comment's author.
        author_id: &'a str,
    },
    /// Write the reply draft.
    EditDraft(&'a ActivityFacts),
    /// Move along the flow: start, request approval, decide, close, cancel, reopen.
    Move {
        /// The activity.
        activity: &'a ActivityFacts,
        /// The target status.
        to: Status,
    },
    /// Send the draft (closes the activity).
    Send(&'a ActivityFacts),
    /// Name `candidate` approver of an activity of `mailbox_id` (at creation, or when the
    /// approver, assignee or team change): the candidate must be eligible on the mailbox
    /// ([`Permissions::can_approve`]) and must not be the assignee nor a member of the
    /// assigned team. Whether the caller may edit the activity is asked separately.
    NameApprover {
        /// The activity's mailbox.
        mailbox_id: &'a str,
        /// The would-be approver: their grants and teams.
        candidate: &'a Person,
        /// The assignee the activity will have.
        assignee_id: Option<&'a str>,
        /// The team the activity will have.
        team_id: Option<&'a str>,
    },
    /// Read and verify the organisation's audit log.
    ReadAudit,
    /// Manage the organisation: mailboxes and their connection settings, teams and their
    /// members, grants, routing rules (organisation administrators).
    Administer,
    /// See the routing rules at all (their list, one rule, the preview over the messages
    /// one reads): organisation administrators and the Responsabile of at least one
    /// mailbox ([`Person::leads`]).
    ReadRules,
    /// See one routing rule: [`Operation::ReadRules`], and, for a rule confined to some
    /// mailboxes ([`crate::rules::confinement`]), a policy on at least one of them; a rule
    /// confined elsewhere (or to no mailbox at all) is answered as missing. An unconfined rule is visible (read-only
    /// to a Responsabile): it routes their mailboxes' messages too.
    ReadRule {
        /// The mailboxes the rule is confined to (`None`: unconfined).
        confined_to: Option<&'a std::collections::BTreeSet<String>>,
    },
    /// Create, edit, enable or disable, or delete a routing rule: administrators any rule;
    /// a Responsabile a rule confined to mailboxes ([`crate::rules::confinement`]) that
    /// they lead, every one of them. An edit asks twice, for the rule as stored and as it
    /// will be, so an edit cannot widen the confinement beyond the caller's mailboxes nor
    /// remove it. Reordering stays [`Operation::Administer`]: the order decides between
    /// every mailbox's rules.
    ManageRule {
        /// The mailboxes the rule is confined to (`None`: unconfined).
        confined_to: Option<&'a std::collections::BTreeSet<String>>,
    },
    /// Route a message by hand (the dispatcher queue): to a team or a user, or into a new
    /// activity. Needs `MAIL_ACTIVITY_MANAGER` on the message's mailbox (Smistatore).
    RouteMessage(&'a MessageFacts),
    /// Undo "worked" on a message (back to taken): a manager's correction, audited. Needs
    /// `MAIL_ACCOUNT_MANAGER` and `MAIL_ACTIVITY_MANAGER` on the mailbox (Responsabile).
    UndoWorked(&'a MessageFacts),
    /// See a mailbox's mass sends (campaigns) and their outcome per recipient: the
    /// mailbox's messages must be readable (`MAIL_ACCOUNT_READER` or `_MANAGER`); anything
    /// else is answered as missing.
    ReadCampaign {
        /// The campaign's mailbox.
        mailbox_id: &'a str,
    },
    /// Create, pause, resume or cancel a mass send from a mailbox: sending from the mailbox
    /// is `MAIL_ACCOUNT_MANAGER`'s.
    RunCampaign {
        /// The sending mailbox.
        mailbox_id: &'a str,
    },
    /// See or acknowledge an alarm (SLA or mailbox): its recipients, the supervisors of its
    /// mailbox (`MAIL_ACTIVITY_MANAGER` or `MAIL_ACCOUNT_MANAGER`: the Responsabile and the
    /// dispatcher) and the organisation's administrators; anyone else is answered as missing.
    SeeAlarm {
        /// The mailbox the alarm's object belongs to.
        mailbox_id: Option<&'a str>,
        /// Whether the person is one of the alarm's recipients.
        recipient: bool,
    },
    /// Export an evidence pack (messages, receipts, audit segment) of a mailbox's objects:
    /// the organisation's auditors, or a manager of the mailbox (`MAIL_ACCOUNT_MANAGER` or
    /// `MAIL_ACTIVITY_MANAGER`); a mailbox with no policy of the caller is answered as
    /// missing.
    ExportEvidence {
        /// The mailbox of the objects.
        mailbox_id: &'a str,
    },
    /// Read the statistics of a mailbox: a manager of it (`MAIL_ACCOUNT_MANAGER` or
    /// `MAIL_ACTIVITY_MANAGER`); a mailbox with no policy of the caller is answered as
    /// missing.
    ReadStats {
        /// The mailbox.
        mailbox_id: &'a str,
    },
}

/// Why an operation is refused. Each reason has one bilingual message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The object is not visible to the person (answered as missing).
    #[error("non trovato / not found")]
    NotVisible,
    /// Only administrators manage a rule that may match in any mailbox.
    #[error(
        "solo gli amministratori gestiscono una regola valida per ogni casella: aggiungi la \
         condizione «casella è …» con le caselle di cui sei responsabile / only administrators \
         manage a rule that applies to every mailbox: add the condition `mailbox is …` naming \
         mailboxes you manage"
    )]
    RuleNotConfined,
    /// The rule is (or would be) confined to a mailbox the person does not lead.
    #[error(
        "la regola riguarda caselle di cui non sei responsabile (servono MAIL_ACTIVITY_MANAGER e \
         MAIL_ACCOUNT_MANAGER su ognuna): limita la condizione «casella è …» alle tue caselle o \
         chiedi a un amministratore / the rule concerns mailboxes you do not manage \
         (MAIL_ACTIVITY_MANAGER and MAIL_ACCOUNT_MANAGER are needed on each): restrict the \
         condition `mailbox is …` to your mailboxes or ask an administrator"
    )]
    RuleOutsideMailboxes,
    /// A mailbox policy is needed.
    #[error("serve {} sulla casella / {} needed on the mailbox", .0.as_str(), .0.as_str())]
    PolicyRequired(Policy),
    /// Working on the activity needs activity write access or participation.
    #[error(
        "non puoi lavorare su questa attività: serve MAIL_ACTIVITY_WRITER o esserne assegnatario o approvatore / \
         you may not work on this activity: MAIL_ACTIVITY_WRITER or being its assignee or approver is needed"
    )]
    WorkAccessRequired,
    /// Only the author may edit a comment.
    #[error("solo l'autore può modificare il commento / only the author may edit the comment")]
    AuthorOnly,
    /// The audit log is for administrators and auditors.
    #[error("solo amministratori e revisori / admins and auditors only")]
    AuditorOnly,
    /// Managing the organisation is for its administrators.
    #[error("solo gli amministratori dell'organizzazione / organisation administrators only")]
    AdminOnly,
    /// The activity is closed (done or cancelled).
    #[error("attività chiusa / the activity is closed")]
    Closed,
    /// The flow refuses the move (or this person may not make it).
    #[error("{0}")]
    Flow(TransitionError),
    /// Segregation of duties: the approver wrote or edited the draft.
    #[error(
        "hai scritto o modificato questa bozza: non puoi approvarla tu; chiedi a un altro utente con \
         permesso di approvazione sulla casella (un responsabile lo nomina approvatore) / \
         you wrote or edited this draft, so you may not approve it: ask another user with approval \
         rights on the mailbox (a manager names them approver)"
    )]
    OwnDraft,
    /// Segregation of duties: the approver asked for this approval.
    #[error(
        "hai chiesto tu questa approvazione: non puoi deciderla; chiedi a un altro utente con \
         permesso di approvazione sulla casella (un responsabile lo nomina approvatore) / \
         you requested this approval, so you may not decide it: ask another user with approval \
         rights on the mailbox (a manager names them approver)"
    )]
    OwnRequest,
    /// Segregation of duties: the approver is the assignee (or in the assigned team).
    #[error(
        "l'approvatore non può essere l'assegnatario dell'attività né un membro del suo team: \
         scegli un altro utente con permesso di approvazione sulla casella / \
         the approver cannot be the activity's assignee nor a member of its team: choose another \
         user with approval rights on the mailbox"
    )]
    ApproverIsAssignee,
    /// The would-be approver lacks activity read and write on the mailbox.
    #[error(
        "l'approvatore deve poter leggere e scrivere le attività della casella / \
         the approver needs activity read and write on the mailbox"
    )]
    ApproverNotEligible,
}

/// How a refusal is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedAs {
    /// As a missing object (HTTP 404).
    NotFound,
    /// As forbidden (HTTP 403).
    Forbidden,
    /// As a conflict with the object's state (HTTP 409).
    Conflict,
    /// As invalid input (HTTP 422).
    Invalid,
}

impl Denied {
    /// How the refusal is answered: missing, forbidden, or in conflict with the state.
    pub fn answered_as(self) -> DeniedAs {
        match self {
            Denied::NotVisible => DeniedAs::NotFound,
            Denied::Closed | Denied::ApproverIsAssignee => DeniedAs::Conflict,
            Denied::ApproverNotEligible => DeniedAs::Invalid,
            Denied::Flow(e) if !e.is_permission() => DeniedAs::Conflict,
            _ => DeniedAs::Forbidden,
        }
    }

    /// A stable machine-readable reason (`policy_required`, `flow.approval_required`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Denied::NotVisible => "not_visible",
            Denied::PolicyRequired(_) => "policy_required",
            Denied::WorkAccessRequired => "work_access_required",
            Denied::AuthorOnly => "author_only",
            Denied::AuditorOnly => "auditor_only",
            Denied::AdminOnly => "admin_only",
            Denied::RuleNotConfined => "rule.not_confined",
            Denied::RuleOutsideMailboxes => "rule.outside_mailboxes",
            Denied::Closed => "closed",
            Denied::Flow(TransitionError::NotInFlow { .. }) => "flow.not_in_flow",
            Denied::Flow(TransitionError::ApprovalRequired) => "flow.approval_required",
            Denied::Flow(TransitionError::DraftRequired) => "flow.draft_required",
            Denied::Flow(TransitionError::ApproverRequired) => "flow.approver_required",
            Denied::Flow(TransitionError::NotPermitted) => "flow.not_permitted",
            Denied::Flow(TransitionError::AlreadySent) => "flow.already_sent",
            Denied::OwnDraft => "sod.own_draft",
            Denied::OwnRequest => "sod.own_request",
            Denied::ApproverIsAssignee => "sod.approver_is_assignee",
            Denied::ApproverNotEligible => "approver_not_eligible",
        }
    }
}

fn require(ok: bool, denied: Denied) -> Result<(), Denied> {
    if ok { Ok(()) } else { Err(denied) }
}

/// Decides whether `who` may perform `op`. Visibility is checked first, so an object the
/// person cannot see is refused as [`Denied::NotVisible`] whatever the operation.
pub fn authorize(who: &Person, op: Operation<'_>) -> Result<(), Denied> {
    use Operation as Op;
    match op {
        Op::ImportMessage { mailbox_id } => require(
            who.on(mailbox_id).can_manage_messages(),
            Denied::PolicyRequired(Policy::MailAccountManager),
        ),
        Op::SeeMailbox { mailbox_id } => require(
            who.is_admin || !who.on(mailbox_id).policies().is_empty(),
            Denied::NotVisible,
        ),
        Op::CreateActivity { mailbox_id } => require(
            who.on(mailbox_id).can_manage_activities(),
            Denied::PolicyRequired(Policy::MailActivityManager),
        ),
        Op::ReadMessage(m) => read_message(who, m),
        Op::ManageMessage(m) => {
            read_message(who, m)?;
            require(
                who.on(&m.mailbox_id).can_manage_messages(),
                Denied::PolicyRequired(Policy::MailAccountManager),
            )
        }
        Op::ReadActivity(a) => read_activity(who, a),
        Op::EditActivity(a) => {
            read_activity(who, a)?;
            require(
                a.may_manage(who),
                Denied::PolicyRequired(Policy::MailActivityManager),
            )
        }
        Op::LinkMessage(a) | Op::Comment(a) => {
            read_activity(who, a)?;
            require(a.may_work(who), Denied::WorkAccessRequired)
        }
        Op::EditComment {
            activity,
            author_id,
        } => {
            read_activity(who, activity)?;
            require(author_id == who.user_id, Denied::AuthorOnly)
        }
        Op::EditDraft(a) => {
            read_activity(who, a)?;
            require(a.may_work(who), Denied::WorkAccessRequired)?;
            require(!a.status.is_closed(), Denied::Closed)
        }
        Op::Move { activity: a, to } => {
            flow_gate(who, a)?;
            activity::transition(a.status, to, &a.context(who)).map_err(Denied::Flow)?;
            two_people(who, a, to)
        }
        Op::Send(a) => {
            flow_gate(who, a)?;
            activity::send(a.status, &a.context(who))
                .map(|_| ())
                .map_err(Denied::Flow)
        }
        Op::NameApprover {
            mailbox_id,
            candidate,
            assignee_id,
            team_id,
        } => {
            require(
                candidate.on(mailbox_id).can_approve(),
                Denied::ApproverNotEligible,
            )?;
            let is_assignee = assignee_id == Some(candidate.user_id.as_str())
                || team_id.is_some_and(|t| candidate.in_team(t));
            require(!is_assignee, Denied::ApproverIsAssignee)
        }
        Op::ReadAudit => require(who.is_admin || who.is_auditor, Denied::AuditorOnly),
        Op::Administer => require(who.is_admin, Denied::AdminOnly),
        Op::ReadRules => require(who.is_admin || who.leads_any(), Denied::AdminOnly),
        Op::ReadRule { confined_to } => {
            if who.is_admin {
                return Ok(());
            }
            require(who.leads_any(), Denied::AdminOnly)?;
            let seen =
                confined_to.is_none_or(|set| set.iter().any(|m| !who.on(m).policies().is_empty()));
            require(seen, Denied::NotVisible)
        }
        Op::ManageRule { confined_to } => {
            if who.is_admin {
                return Ok(());
            }
            authorize(who, Op::ReadRule { confined_to })?;
            let set = confined_to
                .filter(|s| !s.is_empty())
                .ok_or(Denied::RuleNotConfined)?;
            require(
                set.iter().all(|m| who.leads(m)),
                Denied::RuleOutsideMailboxes,
            )
        }
        Op::RouteMessage(m) => {
            read_message(who, m)?;
            require(
                who.on(&m.mailbox_id).can_manage_activities(),
                Denied::PolicyRequired(Policy::MailActivityManager),
            )
        }
        Op::UndoWorked(m) => {
            read_message(who, m)?;
            let on = who.on(&m.mailbox_id);
            require(
                on.can_manage_messages(),
                Denied::PolicyRequired(Policy::MailAccountManager),
            )?;
            require(
                on.can_manage_activities(),
                Denied::PolicyRequired(Policy::MailActivityManager),
            )
        }
        Op::ReadCampaign { mailbox_id } => {
            require(who.on(mailbox_id).can_read_messages(), Denied::NotVisible)
        }
        Op::ExportEvidence { mailbox_id } => {
            if who.is_auditor {
                return Ok(());
            }
            manager_of(who, mailbox_id)
        }
        Op::ReadStats { mailbox_id } => manager_of(who, mailbox_id),
        Op::RunCampaign { mailbox_id } => {
            require(who.on(mailbox_id).can_read_messages(), Denied::NotVisible)?;
            require(
                who.on(mailbox_id).can_manage_messages(),
                Denied::PolicyRequired(Policy::MailAccountManager),
            )
        }
        Op::SeeAlarm {
            mailbox_id,
            recipient,
        } => {
            let supervises = mailbox_id.is_some_and(|m| {
                let p = who.on(m);
                p.can_manage_activities() || p.can_manage_messages()
            });
            require(recipient || who.is_admin || supervises, Denied::NotVisible)
        }
    }
}

/// Segregation of duties on a decision (a move out of `awaiting_approval` to `approved` or
/// `changes_requested`, which the state machine already allowed to the approver only): the
/// decider is not the assignee, did not request it, and, to approve, wrote no part of the
/// draft. Asking for changes on a draft one wrote is allowed: it releases nothing.
fn two_people(who: &Person, a: &ActivityFacts, to: Status) -> Result<(), Denied> {
    let decision = a.status == Status::AwaitingApproval
        && matches!(to, Status::Approved | Status::ChangesRequested);
    if !decision {
        return Ok(());
    }
    require(!a.is_assignee(who), Denied::ApproverIsAssignee)?;
    require(
        a.approval_requested_by.as_deref() != Some(who.user_id.as_str()),
        Denied::OwnRequest,
    )?;
    if to == Status::Approved {
        require(!a.is_draft_author(who), Denied::OwnDraft)?;
    }
    Ok(())
}

/// A manager of the mailbox (messages or activities); no policy at all: not visible.
fn manager_of(who: &Person, mailbox_id: &str) -> Result<(), Denied> {
    let on = who.on(mailbox_id);
    require(!on.policies().is_empty(), Denied::NotVisible)?;
    require(
        on.can_manage_messages() || on.can_manage_activities(),
        Denied::PolicyRequired(Policy::MailAccountManager),
    )
}

fn read_message(who: &Person, m: &MessageFacts) -> Result<(), Denied> {
    require(
        who.on(&m.mailbox_id).can_read_messages() || m.participant,
        Denied::NotVisible,
    )
}

fn read_activity(who: &Person, a: &ActivityFacts) -> Result<(), Denied> {
    require(a.may_read(who), Denied::NotVisible)
}

/// What every move and send needs before the state machine is asked: the activity is
/// visible, and the person may work on it or manage it.
fn flow_gate(who: &Person, a: &ActivityFacts) -> Result<(), Denied> {
    read_activity(who, a)?;
    require(
        a.may_work(who) || a.may_manage(who),
        Denied::WorkAccessRequired,
    )
}

/// Every flow action `who` may take on the activity now: exactly the moves and the send
/// that [`authorize`] would allow (the same gate, then the state machine's own list), in
/// the order of [`Status::ALL`], then `send`.
pub fn allowed_actions(who: &Person, a: &ActivityFacts) -> Vec<Action> {
    match flow_gate(who, a) {
        Ok(()) => activity::allowed_actions(a.status, &a.context(who))
            .into_iter()
            .filter(|x| match x {
                Action::Transition(to) => two_people(who, a, *to).is_ok(),
                Action::Send => true,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The wire name of an action: the target status (`in_progress`, ...) or `send`.
pub fn action_name(a: Action) -> &'static str {
    match a {
        Action::Transition(s) => s.as_str(),
        Action::Send => "send",
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::policy::Role;

    const MB: &str = "mb-1";

    fn person(id: &str, role: Option<Role>) -> Person {
        let mut p = Person::new(id);
        for pol in role.map(Role::policies).unwrap_or(&[]) {
            p.grant(MB, *pol);
        }
        p
    }

    fn set(ids: &[&str]) -> std::collections::BTreeSet<String> {
        ids.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_responsabile_manages_the_rules_confined_to_the_mailboxes_they_lead() {
        let rita = person("rita", Some(Role::Responsabile));
        let mine = set(&[MB]);
        assert_eq!(
            authorize(
                &rita,
                Operation::ManageRule {
                    confined_to: Some(&mine)
                }
            ),
            Ok(())
        );
        assert_eq!(authorize(&rita, Operation::ReadRules), Ok(()));
        // Unconfined: readable, not manageable.
        assert_eq!(
            authorize(&rita, Operation::ReadRule { confined_to: None }),
            Ok(())
        );
        assert_eq!(
            authorize(&rita, Operation::ManageRule { confined_to: None }),
            Err(Denied::RuleNotConfined)
        );
        // Confined to no mailbox at all (contradictory conditions: it matches nothing):
        // administrators' business.
        let nothing = set(&[]);
        assert_eq!(
            authorize(
                &rita,
                Operation::ManageRule {
                    confined_to: Some(&nothing)
                }
            ),
            Err(Denied::NotVisible)
        );
        // Also a mailbox she does not lead: refused; one she has no policy on at all, and
        // nothing else: not visible.
        let wider = set(&[MB, "mb-2"]);
        assert_eq!(
            authorize(
                &rita,
                Operation::ManageRule {
                    confined_to: Some(&wider)
                }
            ),
            Err(Denied::RuleOutsideMailboxes)
        );
        assert_eq!(
            Denied::RuleOutsideMailboxes.answered_as(),
            DeniedAs::Forbidden
        );
        let elsewhere = set(&["mb-2"]);
        assert_eq!(
            authorize(
                &rita,
                Operation::ReadRule {
                    confined_to: Some(&elsewhere)
                }
            ),
            Err(Denied::NotVisible)
        );
        assert_eq!(
            authorize(
                &rita,
                Operation::ManageRule {
                    confined_to: Some(&elsewhere)
                }
            ),
            Err(Denied::NotVisible)
        );
        // Reordering stays with administrators.
        assert_eq!(
            authorize(&rita, Operation::Administer),
            Err(Denied::AdminOnly)
        );
    }

    #[test]
    fn half_a_responsabile_or_nobody_does_not_manage_rules() {
        let mine = set(&[MB]);
        let mut activity_manager_only = person("m", None);
        activity_manager_only.grant(MB, Policy::MailActivityManager);
        for p in [
            person("p", None),
            person("p", Some(Role::Assegnatario)),
            activity_manager_only,
        ] {
            assert_eq!(authorize(&p, Operation::ReadRules), Err(Denied::AdminOnly));
            assert_eq!(
                authorize(
                    &p,
                    Operation::ManageRule {
                        confined_to: Some(&mine)
                    }
                ),
                Err(Denied::AdminOnly),
                "{p:?}"
            );
        }
        let mut admin = person("a", None);
        admin.is_admin = true;
        assert_eq!(
            authorize(&admin, Operation::ManageRule { confined_to: None }),
            Ok(())
        );
    }

    fn activity(status: Status, flow: Flow) -> ActivityFacts {
        ActivityFacts {
            mailbox_id: MB.into(),
            status,
            flow,
            assignee_id: Some("ass".into()),
            team_id: Some("team-x".into()),
            approver_id: Some("appr".into()),
            draft_version: Some(2),
            approved_draft_version: None,
            draft_authors: vec!["ass".into()],
            approval_requested_by: Some("ass".into()),
            draft_sent: false,
        }
    }

    fn names(v: Vec<Action>) -> Vec<&'static str> {
        v.into_iter().map(action_name).collect()
    }

    #[test]
    fn strangers_see_nothing_and_learn_nothing() {
        let nobody = person("x", None);
        let a = activity(Status::InProgress, Flow::Standard);
        for op in [
            Operation::ReadActivity(&a),
            Operation::EditActivity(&a),
            Operation::Comment(&a),
            Operation::EditDraft(&a),
            Operation::Send(&a),
            Operation::Move {
                activity: &a,
                to: Status::Cancelled,
            },
        ] {
            assert_eq!(authorize(&nobody, op), Err(Denied::NotVisible), "{op:?}");
        }
        let m = MessageFacts {
            mailbox_id: MB.into(),
            participant: false,
        };
        assert_eq!(
            authorize(&nobody, Operation::ManageMessage(&m)),
            Err(Denied::NotVisible)
        );
        assert_eq!(allowed_actions(&nobody, &a), Vec::<Action>::new());
    }

    #[test]
    fn alarms_are_seen_by_recipients_supervisors_and_admins_only() {
        let see = |who: &Person, recipient: bool| {
            authorize(
                who,
                Operation::SeeAlarm {
                    mailbox_id: Some(MB),
                    recipient,
                },
            )
        };
        let assignee = person("ass", Some(Role::Assegnatario));
        assert_eq!(see(&assignee, false), Err(Denied::NotVisible));
        assert_eq!(see(&assignee, true), Ok(()));
        assert_eq!(see(&person("r", Some(Role::Responsabile)), false), Ok(()));
        assert_eq!(see(&person("s", Some(Role::Smistatore)), false), Ok(()));
        let mut admin = person("a", None);
        admin.is_admin = true;
        assert_eq!(see(&admin, false), Ok(()));
        assert_eq!(see(&person("x", None), false), Err(Denied::NotVisible));
        let none = Operation::SeeAlarm {
            mailbox_id: None,
            recipient: false,
        };
        assert_eq!(
            authorize(&person("r", Some(Role::Responsabile)), none),
            Err(Denied::NotVisible)
        );
    }

    #[test]
    fn team_members_are_assignees_without_grants() {
        let mut member = person("someone", None);
        member.teams.push("team-x".into());
        let a = activity(Status::Open, Flow::Standard);
        assert_eq!(authorize(&member, Operation::Comment(&a)), Ok(()));
        assert_eq!(
            authorize(&member, Operation::EditActivity(&a)),
            Err(Denied::PolicyRequired(Policy::MailActivityManager))
        );
        assert_eq!(
            names(allowed_actions(&member, &a)),
            vec!["in_progress", "done", "send"]
        );
    }

    #[test]
    fn participants_see_and_work_without_grants_but_cannot_manage() {
        let a = activity(Status::Open, Flow::Standard);
        for who in [person("ass", None), person("appr", None)] {
            assert_eq!(authorize(&who, Operation::ReadActivity(&a)), Ok(()));
            assert_eq!(authorize(&who, Operation::Comment(&a)), Ok(()));
            assert_eq!(authorize(&who, Operation::EditDraft(&a)), Ok(()));
            assert_eq!(
                authorize(&who, Operation::EditActivity(&a)),
                Err(Denied::PolicyRequired(Policy::MailActivityManager))
            );
            assert_eq!(
                authorize(
                    &who,
                    Operation::Move {
                        activity: &a,
                        to: Status::Cancelled
                    }
                ),
                Err(Denied::Flow(TransitionError::NotPermitted))
            );
        }
    }

    #[test]
    fn a_dispatcher_routes_but_does_not_work() {
        let smi = person("smi", Some(Role::Smistatore));
        let a = activity(Status::Open, Flow::Standard);
        assert_eq!(authorize(&smi, Operation::EditActivity(&a)), Ok(()));
        assert_eq!(
            authorize(&smi, Operation::Comment(&a)),
            Err(Denied::WorkAccessRequired)
        );
        assert_eq!(
            authorize(
                &smi,
                Operation::Move {
                    activity: &a,
                    to: Status::InProgress
                }
            ),
            Err(Denied::Flow(TransitionError::NotPermitted))
        );
        assert_eq!(names(allowed_actions(&smi, &a)), vec!["cancelled"]);
        assert_eq!(
            authorize(&smi, Operation::ImportMessage { mailbox_id: MB }),
            Ok(())
        );
        assert_eq!(
            authorize(
                &smi,
                Operation::ImportMessage {
                    mailbox_id: "other"
                }
            ),
            Err(Denied::PolicyRequired(Policy::MailAccountManager))
        );
    }

    #[test]
    fn only_the_approver_decides_and_only_approved_drafts_go_out() {
        let resp = person("resp", Some(Role::Responsabile));
        let appr = person("appr", None);
        let waiting = activity(Status::AwaitingApproval, Flow::Approval);
        let decide = |who: &Person| {
            authorize(
                who,
                Operation::Move {
                    activity: &waiting,
                    to: Status::Approved,
                },
            )
        };
        assert_eq!(
            decide(&resp),
            Err(Denied::Flow(TransitionError::NotPermitted))
        );
        assert_eq!(decide(&appr), Ok(()));
        assert_eq!(
            names(allowed_actions(&appr, &waiting)),
            vec!["in_progress", "approved", "changes_requested"]
        );
        let mut approved = activity(Status::Approved, Flow::Approval);
        approved.approved_draft_version = Some(2);
        assert_eq!(authorize(&appr, Operation::Send(&approved)), Ok(()));
        approved.approved_draft_version = Some(1);
        assert_eq!(
            authorize(&appr, Operation::Send(&approved)),
            Err(Denied::Flow(TransitionError::ApprovalRequired))
        );
    }

    fn decide(who: &Person, a: &ActivityFacts, to: Status) -> Result<(), Denied> {
        authorize(who, Operation::Move { activity: a, to })
    }

    #[test]
    fn the_approver_does_not_approve_a_draft_they_wrote_or_edited() {
        let appr = person("appr", Some(Role::Assegnatario));
        let mut waiting = activity(Status::AwaitingApproval, Flow::Approval);
        waiting.draft_authors = vec!["ass".into(), "appr".into()];
        let d = decide(&appr, &waiting, Status::Approved).expect_err("own draft");
        assert_eq!(d, Denied::OwnDraft);
        assert_eq!(d.answered_as(), DeniedAs::Forbidden);
        assert!(d.to_string().contains("altro utente") && d.to_string().contains("another user"));
        // Asking for changes releases nothing: allowed.
        assert_eq!(decide(&appr, &waiting, Status::ChangesRequested), Ok(()));
        assert_eq!(
            names(allowed_actions(&appr, &waiting)),
            vec!["in_progress", "changes_requested"]
        );
        // Nothing sends without approval, so the approver-author cannot send alone either.
        let mut approved = waiting.clone();
        approved.status = Status::Approved;
        assert_eq!(
            authorize(&appr, Operation::Send(&approved)),
            Err(Denied::Flow(TransitionError::ApprovalRequired))
        );
        waiting.draft_authors = vec!["ass".into()];
        assert_eq!(decide(&appr, &waiting, Status::Approved), Ok(()));
    }

    #[test]
    fn whoever_requested_the_approval_does_not_decide_it() {
        let appr = person("appr", None);
        let mut waiting = activity(Status::AwaitingApproval, Flow::Approval);
        waiting.approval_requested_by = Some("appr".into());
        for to in [Status::Approved, Status::ChangesRequested] {
            assert_eq!(decide(&appr, &waiting, to), Err(Denied::OwnRequest));
        }
        assert_eq!(names(allowed_actions(&appr, &waiting)), vec!["in_progress"]);
        waiting.approval_requested_by = Some("ass".into());
        assert_eq!(decide(&appr, &waiting, Status::Approved), Ok(()));
    }

    #[test]
    fn an_approver_who_became_the_assignee_does_not_decide() {
        let appr = person("appr", None);
        let mut waiting = activity(Status::AwaitingApproval, Flow::Approval);
        waiting.assignee_id = Some("appr".into());
        let d = decide(&appr, &waiting, Status::Approved).expect_err("assignee");
        assert_eq!(d, Denied::ApproverIsAssignee);
        assert_eq!(d.answered_as(), DeniedAs::Conflict);
        waiting.assignee_id = Some("ass".into());
        let mut in_team = appr.clone();
        in_team.teams.push("team-x".into());
        assert_eq!(
            decide(&in_team, &waiting, Status::ChangesRequested),
            Err(Denied::ApproverIsAssignee)
        );
    }

    #[test]
    fn naming_an_approver_needs_grants_and_someone_other_than_the_assignee() {
        let resp = person("resp", Some(Role::Responsabile));
        let name = |cand: &Person, assignee: Option<&str>, team: Option<&str>| {
            authorize(
                &resp,
                Operation::NameApprover {
                    mailbox_id: MB,
                    candidate: cand,
                    assignee_id: assignee,
                    team_id: team,
                },
            )
        };
        let mut appr = person("appr", Some(Role::Assegnatario));
        assert_eq!(name(&appr, Some("ass"), None), Ok(()));
        assert_eq!(
            name(&appr, Some("appr"), None),
            Err(Denied::ApproverIsAssignee)
        );
        appr.teams.push("team-x".into());
        assert_eq!(
            name(&appr, None, Some("team-x")),
            Err(Denied::ApproverIsAssignee)
        );
        let reader = person("r", None);
        let d = name(&reader, Some("ass"), None).expect_err("no grants");
        assert_eq!(d, Denied::ApproverNotEligible);
        assert_eq!(d.answered_as(), DeniedAs::Invalid);
    }

    #[test]
    fn a_sent_draft_answers_already_sent() {
        let ass = person("ass", None);
        let mut done = activity(Status::Done, Flow::Standard);
        done.draft_version = None;
        done.draft_sent = true;
        let d = authorize(&ass, Operation::Send(&done)).expect_err("sent");
        assert_eq!(d, Denied::Flow(TransitionError::AlreadySent));
        assert_eq!(d.answered_as(), DeniedAs::Conflict);
        assert_eq!(d.code(), "flow.already_sent");
    }

    #[test]
    fn facts_without_the_new_fields_still_parse() {
        let a: ActivityFacts =
            serde_json::from_str(r#"{"mailbox_id":"mb-1","status":"awaiting_approval"}"#)
                .expect("old facts JSON");
        assert!(a.draft_authors.is_empty());
        assert_eq!(a.approval_requested_by, None);
        assert!(!a.draft_sent);
    }

    #[test]
    fn closed_activities_refuse_draft_edits_as_conflicts() {
        let ass = person("ass", None);
        let done = activity(Status::Done, Flow::Standard);
        let d = authorize(&ass, Operation::EditDraft(&done)).expect_err("closed");
        assert_eq!(d, Denied::Closed);
        assert_eq!(d.answered_as(), DeniedAs::Conflict);
    }

    #[test]
    fn comments_are_edited_by_their_author_only() {
        let resp = person("resp", Some(Role::Responsabile));
        let a = activity(Status::Open, Flow::Standard);
        let edit = |author: &str| {
            authorize(
                &resp,
                Operation::EditComment {
                    activity: &a,
                    author_id: author,
                },
            )
        };
        assert_eq!(edit("resp"), Ok(()));
        assert_eq!(edit("ass"), Err(Denied::AuthorOnly));
    }

    #[test]
    fn managing_the_organisation_is_for_admins_routing_for_smistatori() {
        let mut admin = person("adm", None);
        admin.is_admin = true;
        assert_eq!(authorize(&admin, Operation::Administer), Ok(()));
        let manager = person("resp", Some(Role::Responsabile));
        assert_eq!(
            authorize(&manager, Operation::Administer),
            Err(Denied::AdminOnly)
        );
        let m = MessageFacts {
            mailbox_id: MB.into(),
            participant: false,
        };
        let smi = person("smi", Some(Role::Smistatore));
        assert_eq!(authorize(&smi, Operation::RouteMessage(&m)), Ok(()));
        assert_eq!(
            authorize(&smi, Operation::UndoWorked(&m)),
            Ok(()),
            "Smistatore holds both managing policies"
        );
        let ass = person("ass", Some(Role::Assegnatario));
        assert_eq!(
            authorize(&ass, Operation::RouteMessage(&m)),
            Err(Denied::NotVisible)
        );
        assert_eq!(authorize(&manager, Operation::UndoWorked(&m)), Ok(()));
    }

    #[test]
    fn the_audit_log_is_for_admins_and_auditors() {
        let mut p = person("p", Some(Role::Responsabile));
        assert_eq!(
            authorize(&p, Operation::ReadAudit),
            Err(Denied::AuditorOnly)
        );
        p.is_auditor = true;
        assert_eq!(authorize(&p, Operation::ReadAudit), Ok(()));
    }

    #[test]
    fn every_refusal_has_a_bilingual_message_and_an_answer() {
        let all = [
            Denied::NotVisible,
            Denied::PolicyRequired(Policy::MailAccountReader),
            Denied::WorkAccessRequired,
            Denied::AuthorOnly,
            Denied::AuditorOnly,
            Denied::Closed,
            Denied::Flow(TransitionError::DraftRequired),
            Denied::Flow(TransitionError::NotPermitted),
            Denied::Flow(TransitionError::AlreadySent),
            Denied::OwnDraft,
            Denied::OwnRequest,
            Denied::ApproverIsAssignee,
            Denied::ApproverNotEligible,
        ];
        for d in all {
            let msg = d.to_string();
            assert!(msg.contains(" / "), "{msg}");
            assert!(!d.code().is_empty());
        }
        assert_eq!(
            Denied::Flow(TransitionError::NotPermitted).answered_as(),
            DeniedAs::Forbidden
        );
        assert_eq!(
            Denied::Flow(TransitionError::DraftRequired).answered_as(),
            DeniedAs::Conflict
        );
    }

    #[test]
    fn person_reads_from_json_with_policy_names() {
        let p: Person = serde_json::from_str(
            r#"{"user_id":"u","mailboxes":{"mb-1":["MAIL_ACTIVITY_READER","MAIL_ACTIVITY_WRITER"]},"teams":["t"]}"#,
        )
        .expect("person JSON");
        assert!(p.on(MB).can_write_activities());
        assert!(p.in_team("t"));
    }

    #[test]
    fn a_mailbox_is_seen_with_any_policy_or_by_an_administrator() {
        let see = |who: &Person, mb: &str| authorize(who, Operation::SeeMailbox { mailbox_id: mb });
        let ass = person("ass", Some(Role::Assegnatario));
        assert_eq!(see(&ass, MB), Ok(()));
        assert_eq!(see(&ass, "other"), Err(Denied::NotVisible));
        let mut admin = person("adm", None);
        assert_eq!(see(&admin, MB), Err(Denied::NotVisible));
        admin.is_admin = true;
        assert_eq!(see(&admin, MB), Ok(()));
        assert_eq!(see(&admin, "other"), Ok(()));
    }

    #[test]
    fn campaigns_need_the_mailbox_messages() {
        let read =
            |who: &Person, mb: &str| authorize(who, Operation::ReadCampaign { mailbox_id: mb });
        let run =
            |who: &Person, mb: &str| authorize(who, Operation::RunCampaign { mailbox_id: mb });
        let smi = person("smi", Some(Role::Smistatore));
        assert_eq!(read(&smi, MB), Ok(()));
        assert_eq!(run(&smi, MB), Ok(()));
        assert_eq!(run(&smi, "other"), Err(Denied::NotVisible));
        let ass = person("ass", Some(Role::Assegnatario));
        assert_eq!(read(&ass, MB), Err(Denied::NotVisible));
        assert_eq!(run(&ass, MB), Err(Denied::NotVisible));
        let mut admin = person("adm", None);
        admin.is_admin = true;
        assert_eq!(
            read(&admin, MB),
            Err(Denied::NotVisible),
            "admin is not a sender"
        );
    }

    #[test]
    fn evidence_and_statistics_are_for_managers_and_auditors() {
        let mut manager = Person::new("m");
        manager.grant(MB, Policy::MailAccountManager);
        let mut dispatcher = Person::new("d");
        dispatcher.grant(MB, Policy::MailActivityManager);
        let mut reader = Person::new("r");
        reader.grant(MB, Policy::MailAccountReader);
        let mut auditor = Person::new("a");
        auditor.is_auditor = true;
        let nobody = Person::new("n");
        let export = |who: &Person| authorize(who, Operation::ExportEvidence { mailbox_id: MB });
        let stats = |who: &Person| authorize(who, Operation::ReadStats { mailbox_id: MB });
        for who in [&manager, &dispatcher] {
            assert_eq!(export(who), Ok(()));
            assert_eq!(stats(who), Ok(()));
        }
        assert_eq!(export(&auditor), Ok(()));
        assert_eq!(stats(&auditor), Err(Denied::NotVisible));
        assert_eq!(
            export(&reader),
            Err(Denied::PolicyRequired(Policy::MailAccountManager))
        );
        assert_eq!(
            stats(&reader),
            Err(Denied::PolicyRequired(Policy::MailAccountManager))
        );
        assert_eq!(export(&nobody), Err(Denied::NotVisible));
        assert_eq!(stats(&nobody), Err(Denied::NotVisible));
    }
}
