//! The activity state machine: standard flow and approval flow (see `DESIGN.md`).
//!
//! Standard: `open → in_progress → done`. Approval: `open → in_progress →
//! awaiting_approval → (approved | changes_requested)`, `changes_requested → in_progress`,
//! and only `approved` may send the draft or close. Managers may cancel and reopen.
//! One function, [`transition`], decides every move for the service and the add-ins;
//! [`allowed_actions`] lists what a user may do now.

use serde::{Deserialize, Serialize};

/// Where an activity stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Created, nobody working yet.
    #[default]
    Open,
    /// Someone is working on it.
    InProgress,
    /// The draft waits for the approver (approval flow).
    AwaitingApproval,
    /// The approver approved the current draft version (approval flow).
    Approved,
    /// The approver asked for changes (approval flow).
    ChangesRequested,
    /// Closed.
    Done,
    /// Cancelled by a manager.
    Cancelled,
}

crate::from_json_enum!(Status, {
    Status::Open: "open",
    Status::InProgress: "in_progress",
    Status::AwaitingApproval: "awaiting_approval",
    Status::Approved: "approved",
    Status::ChangesRequested: "changes_requested",
    Status::Done: "done",
    Status::Cancelled: "cancelled",
});

impl Status {
    /// Every status.
    pub const ALL: [Status; 7] = [
        Status::Open,
        Status::InProgress,
        Status::AwaitingApproval,
        Status::Approved,
        Status::ChangesRequested,
        Status::Done,
        Status::Cancelled,
    ];

    /// The wire name (`in_progress`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Approved => "approved",
            Status::ChangesRequested => "changes_requested",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Done or cancelled.
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Done | Status::Cancelled)
    }

    /// The name a user reads, Italian first then English («in lavorazione / in progress»);
    /// messages show this, never the wire or enum name.
    pub fn label(self) -> &'static str {
        match self {
            Status::Open => "aperta / open",
            Status::InProgress => "in lavorazione / in progress",
            Status::AwaitingApproval => "in attesa di approvazione / awaiting approval",
            Status::Approved => "approvata / approved",
            Status::ChangesRequested => "modifiche richieste / changes requested",
            Status::Done => "chiusa / done",
            Status::Cancelled => "annullata / cancelled",
        }
    }

    /// The Italian name alone.
    pub fn label_it(self) -> &'static str {
        self.label().split(" / ").next().unwrap_or_default()
    }

    /// The English name alone.
    pub fn label_en(self) -> &'static str {
        self.label().split(" / ").nth(1).unwrap_or_default()
    }
}

/// Which flow an activity follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// The assignee works and closes on their own.
    #[default]
    Standard,
    /// The draft needs the approver's approval of its exact version.
    Approval,
}

crate::from_json_enum!(Flow, { Flow::Standard: "standard", Flow::Approval: "approval" });

impl Flow {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Standard => "standard",
            Flow::Approval => "approval",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "standard" => Some(Flow::Standard),
            "approval" => Some(Flow::Approval),
            _ => None,
        }
    }
}

/// How urgent an activity is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Whenever there is time.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Before normal work.
    High,
    /// Now.
    Urgent,
}

impl Priority {
    /// Every priority, from the lowest.
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The approver's decision on the current draft version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The draft may go out as it is.
    Approve,
    /// The draft must change first.
    RequestChanges,
}

impl Decision {
    /// The wire name (also stored in the approval record).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::RequestChanges => "request_changes",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(Decision::Approve),
            "request_changes" => Some(Decision::RequestChanges),
            _ => None,
        }
    }

    /// The status the decision moves the activity to.
    pub fn status(self) -> Status {
        match self {
            Decision::Approve => Status::Approved,
            Decision::RequestChanges => Status::ChangesRequested,
        }
    }
}

/// Who is acting, as far as the flow cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Actor {
    /// May work on the activity (mailbox writer, assignee or team member).
    pub can_work: bool,
    /// Holds `MAIL_ACTIVITY_MANAGER` on the mailbox.
    pub is_manager: bool,
    /// Is the activity's designated approver.
    pub is_approver: bool,
}

/// Facts about the activity a move depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// The activity's flow.
    pub flow: Flow,
    /// The acting user.
    pub actor: Actor,
    /// A draft exists.
    pub has_draft: bool,
    /// An approver is designated.
    pub has_approver: bool,
    /// The current draft version is the approved one.
    pub draft_approved: bool,
    /// The draft has already gone out.
    pub draft_sent: bool,
}

/// Why a move is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The flow has no such move from this status.
    #[error(
        "il flusso non prevede di passare da «{}» a «{}»: ricarica l'attività per vedere le azioni possibili / \
         the flow does not allow moving from \"{}\" to \"{}\": reload the activity to see what you may do",
        .from.label_it(), .to.label_it(), .from.label_en(), .to.label_en()
    )]
    NotInFlow {
        /// Current status.
        from: Status,
        /// Requested status.
        to: Status,
    },
    /// Closing or sending needs an approved draft first.
    #[error("serve l'approvazione della bozza / the draft must be approved first")]
    ApprovalRequired,
    /// Requesting approval or sending needs a draft.
    #[error("manca la bozza / there is no draft")]
    DraftRequired,
    /// Requesting approval needs a designated approver.
    #[error("manca l'approvatore / no approver is designated")]
    ApproverRequired,
    /// The draft has already gone out: it cannot be sent again.
    #[error("bozza già inviata / the draft was already sent")]
    AlreadySent,
    /// The move exists but this user may not make it.
    #[error("non consentito a questo utente / not allowed for this user")]
    NotPermitted,
}

impl TransitionError {
    /// Whether the refusal is about who acts (403) rather than the flow (409).
    pub fn is_permission(self) -> bool {
        matches!(self, TransitionError::NotPermitted)
    }
}

/// Who may make a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Worker,
    Approver,
    Manager,
}

/// The moves of both flows: `(from, to, who)`; flow-specific checks follow in [`transition`].
fn edge(flow: Flow, from: Status, to: Status) -> Option<Who> {
    use Status::*;
    match (from, to) {
        (Open, InProgress) => Some(Who::Worker),
        (Open | InProgress, Done) if flow == Flow::Standard => Some(Who::Worker),
        (InProgress, AwaitingApproval) if flow == Flow::Approval => Some(Who::Worker),
        (AwaitingApproval, Approved | ChangesRequested) => Some(Who::Approver),
        (AwaitingApproval | Approved | ChangesRequested, InProgress) => Some(Who::Worker),
        (Approved, Done) => Some(Who::Worker),
        (Open | InProgress | AwaitingApproval | Approved | ChangesRequested, Cancelled) => {
            Some(Who::Manager)
        }
        (Done | Cancelled, Open) => Some(Who::Manager),
        _ => None,
    }
}

/// Checks one move and returns the new status.
pub fn transition(from: Status, to: Status, ctx: &Context) -> Result<Status, TransitionError> {
    let who = match edge(ctx.flow, from, to) {
        Some(w) => w,
        // Closing in the approval flow before approval is the one refusal users meet
        // most: name it precisely.
        None if ctx.flow == Flow::Approval && to == Status::Done && !from.is_closed() => {
            return Err(TransitionError::ApprovalRequired);
        }
        None => return Err(TransitionError::NotInFlow { from, to }),
    };
    let allowed = match who {
        // Managers route work; doing it (start, submit, close) needs write access.
        Who::Worker => ctx.actor.can_work,
        Who::Approver => ctx.actor.is_approver,
        Who::Manager => ctx.actor.is_manager,
    };
    if !allowed {
        return Err(TransitionError::NotPermitted);
    }
    if to == Status::AwaitingApproval {
        if !ctx.has_draft {
            return Err(TransitionError::DraftRequired);
        }
        if !ctx.has_approver {
            return Err(TransitionError::ApproverRequired);
        }
    }
    if from == Status::Approved && to == Status::Done && !ctx.draft_approved {
        return Err(TransitionError::ApprovalRequired);
    }
    Ok(to)
}

/// Checks sending the draft; on success the activity becomes [`Status::Done`].
pub fn send(status: Status, ctx: &Context) -> Result<Status, TransitionError> {
    if !ctx.actor.can_work {
        return Err(TransitionError::NotPermitted);
    }
    if ctx.draft_sent {
        return Err(TransitionError::AlreadySent);
    }
    if !ctx.has_draft {
        return Err(TransitionError::DraftRequired);
    }
    match ctx.flow {
        Flow::Standard if matches!(status, Status::Open | Status::InProgress) => Ok(Status::Done),
        Flow::Approval if status == Status::Approved && ctx.draft_approved => Ok(Status::Done),
        Flow::Approval if !status.is_closed() => Err(TransitionError::ApprovalRequired),
        _ => Err(TransitionError::NotInFlow {
            from: status,
            to: Status::Done,
        }),
    }
}

/// The status after an edit of the draft: an approval (given or pending) is void, so
/// `approved` and `awaiting_approval` fall back to `in_progress`.
pub fn status_after_draft_edit(status: Status) -> Status {
    match status {
        Status::Approved | Status::AwaitingApproval => Status::InProgress,
        s => s,
    }
}

/// Something a user may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Move to another status.
    Transition(Status),
    /// Send the draft.
    Send,
}

/// Every action `ctx.actor` may take on an activity in `status` now.
pub fn allowed_actions(status: Status, ctx: &Context) -> Vec<Action> {
    let mut out: Vec<Action> = Status::ALL
        .into_iter()
        .filter(|to| transition(status, *to, ctx).is_ok())
        .map(Action::Transition)
        .collect();
    if send(status, ctx).is_ok() {
        out.push(Action::Send);
    }
    out
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn priorities_parse_their_wire_names_and_default_to_normal() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            let json = serde_json::to_string(&p).expect("serialize");
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
        assert_eq!(Priority::default(), Priority::Normal);
        assert_eq!(Priority::parse("subito"), None);
        assert_eq!(Priority::parse("Urgent"), None);
        assert!(serde_json::from_str::<Priority>("\"subito\"").is_err());
    }

    #[test]
    fn decisions_parse_their_wire_names_and_name_their_status() {
        let d: Decision = serde_json::from_str("\"request_changes\"").expect("decision");
        assert_eq!(d, Decision::RequestChanges);
        assert_eq!(d.status(), Status::ChangesRequested);
        assert_eq!(
            Decision::parse("approve").map(Decision::status),
            Some(Status::Approved)
        );
        for d in [Decision::Approve, Decision::RequestChanges] {
            assert_eq!(Decision::parse(d.as_str()), Some(d));
        }
        assert_eq!(Decision::parse("approved"), None);
        assert!(serde_json::from_str::<Decision>("\"maybe\"").is_err());
    }

    fn worker(flow: Flow) -> Context {
        Context {
            flow,
            actor: Actor {
                can_work: true,
                ..Actor::default()
            },
            has_draft: true,
            has_approver: true,
            draft_approved: false,
            draft_sent: false,
        }
    }

    #[test]
    fn standard_flow_lets_the_worker_close() {
        let c = worker(Flow::Standard);
        assert_eq!(
            transition(Status::Open, Status::InProgress, &c),
            Ok(Status::InProgress)
        );
        assert_eq!(
            transition(Status::InProgress, Status::Done, &c),
            Ok(Status::Done)
        );
    }

    #[test]
    fn approval_flow_refuses_closing_before_approval() {
        let c = worker(Flow::Approval);
        assert_eq!(
            transition(Status::InProgress, Status::Done, &c),
            Err(TransitionError::ApprovalRequired)
        );
        assert_eq!(
            send(Status::InProgress, &c),
            Err(TransitionError::ApprovalRequired)
        );
    }

    #[test]
    fn only_the_approver_decides() {
        let c = worker(Flow::Approval);
        assert_eq!(
            transition(Status::AwaitingApproval, Status::Approved, &c),
            Err(TransitionError::NotPermitted)
        );
        let mut a = c;
        a.actor = Actor {
            is_approver: true,
            ..Actor::default()
        };
        assert_eq!(
            transition(Status::AwaitingApproval, Status::Approved, &a),
            Ok(Status::Approved)
        );
        assert_eq!(
            transition(Status::AwaitingApproval, Status::ChangesRequested, &a),
            Ok(Status::ChangesRequested)
        );
    }

    #[test]
    fn approved_draft_can_be_sent_and_edit_voids_approval() {
        let mut c = worker(Flow::Approval);
        c.draft_approved = true;
        assert_eq!(send(Status::Approved, &c), Ok(Status::Done));
        assert_eq!(
            status_after_draft_edit(Status::Approved),
            Status::InProgress
        );
        c.draft_approved = false;
        assert_eq!(
            transition(Status::Approved, Status::Done, &c),
            Err(TransitionError::ApprovalRequired)
        );
    }

    #[test]
    fn requesting_approval_needs_draft_and_approver() {
        let mut c = worker(Flow::Approval);
        c.has_draft = false;
        assert_eq!(
            transition(Status::InProgress, Status::AwaitingApproval, &c),
            Err(TransitionError::DraftRequired)
        );
        c.has_draft = true;
        c.has_approver = false;
        assert_eq!(
            transition(Status::InProgress, Status::AwaitingApproval, &c),
            Err(TransitionError::ApproverRequired)
        );
    }

    #[test]
    fn only_managers_cancel_and_reopen() {
        let c = worker(Flow::Standard);
        assert_eq!(
            transition(Status::InProgress, Status::Cancelled, &c),
            Err(TransitionError::NotPermitted)
        );
        let mut m = c;
        m.actor.is_manager = true;
        assert_eq!(
            transition(Status::InProgress, Status::Cancelled, &m),
            Ok(Status::Cancelled)
        );
        assert_eq!(transition(Status::Done, Status::Open, &m), Ok(Status::Open));
    }

    #[test]
    fn a_manager_without_write_access_cannot_do_the_work() {
        let m = Context {
            flow: Flow::Standard,
            actor: Actor {
                is_manager: true,
                ..Actor::default()
            },
            has_draft: true,
            ..Context::default()
        };
        assert_eq!(
            transition(Status::Open, Status::InProgress, &m),
            Err(TransitionError::NotPermitted)
        );
        assert_eq!(
            send(Status::InProgress, &m),
            Err(TransitionError::NotPermitted)
        );
    }

    #[test]
    fn unknown_moves_are_not_in_flow() {
        let c = worker(Flow::Standard);
        assert!(matches!(
            transition(Status::Done, Status::InProgress, &c),
            Err(TransitionError::NotInFlow { .. })
        ));
        assert!(matches!(
            transition(Status::Open, Status::AwaitingApproval, &c),
            Err(TransitionError::NotInFlow { .. })
        ));
    }

    #[test]
    fn allowed_actions_follow_the_machine() {
        use Action::{Send, Transition};
        let c = worker(Flow::Approval);
        assert_eq!(
            allowed_actions(Status::InProgress, &c),
            vec![Transition(Status::AwaitingApproval)]
        );
        let mut approved = c;
        approved.draft_approved = true;
        assert_eq!(
            allowed_actions(Status::Approved, &approved),
            vec![
                Transition(Status::InProgress),
                Transition(Status::Done),
                Send
            ]
        );
        assert_eq!(
            allowed_actions(Status::Approved, &c),
            vec![Transition(Status::InProgress)]
        );

        let standard = worker(Flow::Standard);
        assert_eq!(
            allowed_actions(Status::Open, &standard),
            vec![
                Transition(Status::InProgress),
                Transition(Status::Done),
                Send
            ]
        );
        assert_eq!(allowed_actions(Status::Done, &standard), vec![]);

        let mut approver = Context {
            flow: Flow::Approval,
            has_draft: true,
            has_approver: true,
            ..Context::default()
        };
        approver.actor.is_approver = true;
        assert_eq!(
            allowed_actions(Status::AwaitingApproval, &approver),
            vec![
                Transition(Status::Approved),
                Transition(Status::ChangesRequested)
            ]
        );
        assert_eq!(allowed_actions(Status::InProgress, &approver), vec![]);

        let mut manager = standard;
        manager.actor.is_manager = true;
        assert_eq!(
            allowed_actions(Status::InProgress, &manager),
            vec![
                Transition(Status::Done),
                Transition(Status::Cancelled),
                Send
            ]
        );
        assert_eq!(
            allowed_actions(Status::Cancelled, &manager),
            vec![Transition(Status::Open)]
        );
    }

    #[test]
    fn a_sent_draft_is_not_sent_again() {
        let mut c = worker(Flow::Standard);
        c.has_draft = false;
        c.draft_sent = true;
        assert_eq!(send(Status::Done, &c), Err(TransitionError::AlreadySent));
        let msg = TransitionError::AlreadySent.to_string();
        assert!(
            msg.contains("già inviata") && msg.contains("already sent"),
            "{msg}"
        );
    }

    #[test]
    fn refused_moves_speak_labels_not_enum_names() {
        let c = worker(Flow::Standard);
        let e = transition(Status::Done, Status::InProgress, &c).expect_err("not in flow");
        let msg = e.to_string();
        assert!(
            msg.contains("«chiusa»") && msg.contains("\"in progress\""),
            "{msg}"
        );
        for bad in ["Done", "InProgress", "→", "in_progress"] {
            assert!(!msg.contains(bad), "{bad} in {msg}");
        }
        for s in Status::ALL {
            assert!(!s.label_it().is_empty() && !s.label_en().is_empty());
        }
    }

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
