//! Routing rules (regole di smistamento): what an organisation's team leaders write to send
//! each incoming message to the right team or person, evaluated here so the service and
//! the add-ins (through wasm) answer the same.
//!
//! A rule is an ordered list of conditions, all of which must match, and actions; after a
//! matching rule, evaluation `stop`s or `continue`s with the next one. [`evaluate`] takes
//! the rules in their order and the [`Facts`] of one message and returns the
//! [`Decision`]: which rules matched and why, and the merged actions (the first matching
//! rule that routes, creates an activity or sets a category wins that action; tags add
//! up). Within a team, [`pick_member`] chooses the assignee round-robin or least-open,
//! from the counts the service reads. Matching is plain text, case-insensitive: `is`,
//! `contains`, a `glob` with `*` and `?` (no regular expressions: a rule can never be
//! made slow), and `exists`.
//!
//! The JSON shape (every object refuses unknown fields):
//!
//! ```json
//! {"name": "Fatture dallo SdI", "enabled": true, "stop": true,
//!  "conditions": [{"field": "sender", "match": "glob", "value": "sdi*@pec.fatturapa.it"},
//!                 {"field": "sdi.kind", "match": "is", "value": ["NS", "MC"]}],
//!  "actions": {"route": {"team_id": "…", "assign": "round_robin"},
//!              "activity": {"priority": "high", "due_in_days": 5, "flow": "standard"},
//!              "category": "Fatture", "tags": ["sdi"]}}
//! ```

use std::borrow::Cow;

use mail_parser::{Address, MessageParser, MimeHeaders};
use serde::{Deserialize, Deserializer, Serialize};

use crate::activity::{Flow, Priority};
use crate::pec::{Inspection, PecKind};
use crate::protocol::{Protocol, SDI_KINDS};

/// Limits of a rule (checked by [`RuleSpec::validate`]).
pub mod limits {
    /// Characters of a rule's name.
    pub const NAME: usize = 200;
    /// Conditions of one rule.
    pub const CONDITIONS: usize = 50;
    /// Values of one condition.
    pub const VALUES: usize = 50;
    /// Characters of one value.
    pub const VALUE: usize = 500;
    /// Characters of a category.
    pub const CATEGORY: usize = 100;
    /// Tags of one rule.
    pub const TAGS: usize = 20;
    /// Characters of one tag.
    pub const TAG: usize = 50;
    /// Characters of an activity title.
    pub const TITLE: usize = 300;
    /// Longest due offset, in working hours (`due_in_days`: this over 24, 366 working days).
    pub const DUE_HOURS: u32 = 24 * 366;
}

/// A rule as written (its stored id and position live beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// What the rule is for, in the admins' words.
    pub name: String,
    /// A disabled rule is kept but never matches.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// After a match: `true` stops the evaluation, `false` continues with the next rule.
    #[serde(default = "yes")]
    pub stop: bool,
    /// All must match (none: every message matches).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// What a match does.
    #[serde(default)]
    pub actions: Actions,
}

fn yes() -> bool {
    true
}

/// One condition: a field of the message, how to compare, the values (any may match).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// What is looked at.
    pub field: Field,
    /// How.
    #[serde(rename = "match")]
    pub op: Match,
    /// One text or a list (any may match); none for `exists`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub value: Vec<String>,
    /// Inverts the condition (`not`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub negate: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A text or a list of texts.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The fields a condition can look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Field {
    /// The mailbox the message arrived in: its id or its address.
    #[serde(rename = "mailbox")]
    Mailbox,
    /// The sender: the PEC's certified sender and the original's `From`.
    #[serde(rename = "sender")]
    Sender,
    /// The domain of [`Field::Sender`].
    #[serde(rename = "sender_domain")]
    SenderDomain,
    /// Every recipient (`To`, `Cc`, the certified recipients).
    #[serde(rename = "recipient")]
    Recipient,
    /// The subject.
    #[serde(rename = "subject")]
    Subject,
    /// The text of the message (the HTML one when there is no plain text).
    #[serde(rename = "body")]
    Body,
    /// The PEC kind (`posta-certificata`, `anomalia`, `not-pec`, ...).
    #[serde(rename = "kind")]
    Kind,
    /// The name of any attachment.
    #[serde(rename = "attachment")]
    Attachment,
    /// Segnatura: the sending administration's code.
    #[serde(rename = "segnatura.administration_code")]
    SegnaturaAdministrationCode,
    /// Segnatura: the sending administration's name.
    #[serde(rename = "segnatura.administration_name")]
    SegnaturaAdministrationName,
    /// Segnatura: the sending AOO's code.
    #[serde(rename = "segnatura.aoo_code")]
    SegnaturaAooCode,
    /// Segnatura: the sending AOO's name.
    #[serde(rename = "segnatura.aoo_name")]
    SegnaturaAooName,
    /// Segnatura: the protocol number.
    #[serde(rename = "segnatura.protocol_number")]
    SegnaturaProtocolNumber,
    /// Segnatura: the protocol date (`YYYY-MM-DD`).
    #[serde(rename = "segnatura.protocol_date")]
    SegnaturaProtocolDate,
    /// Segnatura: the classification levels (`06.03`).
    #[serde(rename = "segnatura.classification")]
    SegnaturaClassification,
    /// Segnatura: the classification's name.
    #[serde(rename = "segnatura.classification_name")]
    SegnaturaClassificationName,
    /// Segnatura: the subject.
    #[serde(rename = "segnatura.subject")]
    SegnaturaSubject,
    /// SdI: the notification type (`RC`, `NS`, `MC`, `NE`, `MT`, `DT`, `AT`, `EC`, `SE`).
    #[serde(rename = "sdi.kind")]
    SdiKind,
    /// SdI: the invoice's file name.
    #[serde(rename = "sdi.invoice_file")]
    SdiInvoiceFile,
    /// SdI: the notification's file name.
    #[serde(rename = "sdi.notice_file")]
    SdiNoticeFile,
    /// SdI: the SdI id of the invoice.
    #[serde(rename = "sdi.sdi_id")]
    SdiId,
    /// SdI: the outcome (`EC01`, ...).
    #[serde(rename = "sdi.outcome")]
    SdiOutcome,
}

impl Field {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Mailbox => "mailbox",
            Field::Sender => "sender",
            Field::SenderDomain => "sender_domain",
            Field::Recipient => "recipient",
            Field::Subject => "subject",
            Field::Body => "body",
            Field::Kind => "kind",
            Field::Attachment => "attachment",
            Field::SegnaturaAdministrationCode => "segnatura.administration_code",
            Field::SegnaturaAdministrationName => "segnatura.administration_name",
            Field::SegnaturaAooCode => "segnatura.aoo_code",
            Field::SegnaturaAooName => "segnatura.aoo_name",
            Field::SegnaturaProtocolNumber => "segnatura.protocol_number",
            Field::SegnaturaProtocolDate => "segnatura.protocol_date",
            Field::SegnaturaClassification => "segnatura.classification",
            Field::SegnaturaClassificationName => "segnatura.classification_name",
            Field::SegnaturaSubject => "segnatura.subject",
            Field::SdiKind => "sdi.kind",
            Field::SdiInvoiceFile => "sdi.invoice_file",
            Field::SdiNoticeFile => "sdi.notice_file",
            Field::SdiId => "sdi.sdi_id",
            Field::SdiOutcome => "sdi.outcome",
        }
    }
}

/// How a condition compares (always ignoring case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// Equal to a value.
    Is,
    /// Contains a value.
    Contains,
    /// Matches a pattern: `*` any text, `?` one character.
    Glob,
    /// The field has a value (no `value`).
    Exists,
}

impl Match {
    /// The JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Match::Is => "is",
            Match::Contains => "contains",
            Match::Glob => "glob",
            Match::Exists => "exists",
        }
    }
}

/// What a matching rule does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actions {
    /// Route to a team or a user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// Create an activity linked to the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ActivitySpec>,
    /// Set the message's category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Add tags to the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Where a message goes: exactly one of a team or a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// How a member of the team is chosen (teams only; default `none`: the team's queue).
    #[serde(default, skip_serializing_if = "Assign::is_none")]
    pub assign: Assign,
}

/// How the assignee is chosen among a team's members.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assign {
    /// Nobody: the team's queue.
    #[default]
    None,
    /// The next member after the last one assigned (by id order), in turn.
    RoundRobin,
    /// The member with the fewest open activities (ties: the one assigned longest ago).
    LeastOpen,
}

impl Assign {
    fn is_none(&self) -> bool {
        *self == Assign::None
    }
}

/// The activity a rule (or a Smistatore routing by hand) creates for the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivitySpec {
    /// Title (default: the message's subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `low`, `normal` (default), `high`, `urgent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Due after this many working hours (office hours of the mailbox's calendar), counted
    /// from the certified delivery time of the PEC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_in_hours: Option<u32>,
    /// Due at the close of the N-th working day after the day the PEC was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_in_days: Option<u32>,
    /// `standard` (default) or `approval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<Flow>,
    /// The approver (approval flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_id: Option<String>,
}

impl ActivitySpec {
    /// The due date (ms) on the mailbox's calendar, counted from `from_ms` (the certified
    /// delivery time of the PEC; see [`crate::sla`]): `due_in_hours` working hours,
    /// `due_in_days` working days (the close of office hours of the N-th working day after
    /// the day of delivery).
    pub fn due_at(&self, from_ms: i64, cal: &crate::sla::Calendar) -> Option<i64> {
        match (self.due_in_hours, self.due_in_days) {
            (Some(h), _) => Some(crate::sla::add_working_hours(from_ms, h, cal)),
            (None, Some(d)) => Some(crate::sla::add_working_days(from_ms, d, cal)),
            (None, None) => None,
        }
    }

    /// Checks the limits; `at` names the object in the message (`actions.activity`).
    pub fn validate(&self, at: &str) -> Result<(), RuleError> {
        if self.due_in_hours.is_some() && self.due_in_days.is_some() {
            return Err(RuleError::new(
                at,
                "indicare `due_in_hours` oppure `due_in_days`, non entrambi",
                "give `due_in_hours` or `due_in_days`, not both",
            ));
        }
        let hours = self
            .due_in_hours
            .or(self.due_in_days.map(|d| d.saturating_mul(24)));
        if hours.is_some_and(|h| h > limits::DUE_HOURS) {
            return Err(RuleError::new(
                at,
                "scadenza oltre un anno",
                "due offset beyond one year",
            ));
        }
        if let Some(t) = &self.title {
            check_text(&format!("{at}.title"), t, limits::TITLE)?;
        }
        if let Some(a) = &self.approver_id {
            check_text(&format!("{at}.approver_id"), a, limits::VALUE)?;
        }
        if self.approver_id.is_some() && self.flow != Some(Flow::Approval) {
            return Err(RuleError::new(
                at,
                "un approvatore solo con `flow: approval`",
                "an approver only with `flow: approval`",
            ));
        }
        Ok(())
    }
}

/// A rule's input that does not make sense, with a message in Italian and English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("campo `{field}`: {it} / field `{field}`: {en}")]
pub struct RuleError {
    /// Where (`conditions[1].value`).
    pub field: String,
    /// Italian.
    pub it: String,
    /// English.
    pub en: String,
}

impl RuleError {
    fn new(field: &str, it: &str, en: &str) -> Self {
        Self {
            field: field.to_owned(),
            it: it.to_owned(),
            en: en.to_owned(),
        }
    }
}

fn check_text(field: &str, s: &str, max: usize) -> Result<(), RuleError> {
    if s.trim().is_empty() {
        return Err(RuleError::new(field, "obbligatorio", "required"));
    }
    if s.chars().count() > max {
        return Err(RuleError::new(
            field,
            &format!("al massimo {max} caratteri"),
            &format!("at most {max} characters"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\t') {
        return Err(RuleError::new(
            field,
            "caratteri di controllo non ammessi",
            "control characters are not allowed",
        ));
    }
    Ok(())
}

impl RuleSpec {
    /// Checks the rule: a name, sensible conditions, one route target, the limits.
    pub fn validate(&self) -> Result<(), RuleError> {
        check_text("name", &self.name, limits::NAME)?;
        if self.conditions.len() > limits::CONDITIONS {
            return Err(RuleError::new(
                "conditions",
                &format!("al massimo {} condizioni", limits::CONDITIONS),
                &format!("at most {} conditions", limits::CONDITIONS),
            ));
        }
        for (i, c) in self.conditions.iter().enumerate() {
            c.validate(&format!("conditions[{i}]"))?;
        }
        self.actions.validate()
    }
}

impl Condition {
    fn validate(&self, at: &str) -> Result<(), RuleError> {
        let at_value = format!("{at}.value");
        if self.op == Match::Exists {
            if !self.value.is_empty() {
                return Err(RuleError::new(
                    &at_value,
                    "`exists` non vuole valori",
                    "`exists` takes no value",
                ));
            }
            return Ok(());
        }
        if self.value.is_empty() {
            return Err(RuleError::new(&at_value, "obbligatorio", "required"));
        }
        if self.value.len() > limits::VALUES {
            return Err(RuleError::new(
                &at_value,
                &format!("al massimo {} valori", limits::VALUES),
                &format!("at most {} values", limits::VALUES),
            ));
        }
        for (j, v) in self.value.iter().enumerate() {
            check_text(&format!("{at_value}[{j}]"), v, limits::VALUE)?;
            if self.op == Match::Is {
                let known = match self.field {
                    Field::Kind => PecKind::ALL.iter().any(|k| k.as_str() == v.trim()),
                    Field::SdiKind => SDI_KINDS.iter().any(|k| k.eq_ignore_ascii_case(v.trim())),
                    _ => true,
                };
                if !known {
                    return Err(RuleError::new(
                        &format!("{at_value}[{j}]"),
                        "valore sconosciuto per questo campo",
                        "unknown value for this field",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether the condition holds for `facts`, and the field's value that decided it.
    pub fn check(&self, facts: &Facts) -> (bool, Option<String>) {
        let values = facts.values(self.field);
        let hit = match self.op {
            Match::Exists => values.first().map(|v| v.to_string()),
            _ => values
                .iter()
                .find(|have| {
                    let have = have.to_lowercase();
                    self.value.iter().any(|want| {
                        let want = want.trim().to_lowercase();
                        match self.op {
                            Match::Is => have.trim() == want,
                            Match::Contains => have.contains(&want),
                            Match::Glob => glob(&want, have.trim()),
                            Match::Exists => true,
                        }
                    })
                })
                .map(|v| v.to_string()),
        };
        (hit.is_some() != self.negate, hit)
    }

    /// The condition in words (`sender glob "sdi*@pec.fatturapa.it"`).
    pub fn describe(&self) -> String {
        let not = if self.negate { "not " } else { "" };
        if self.op == Match::Exists {
            return format!("{not}{} exists", self.field.as_str());
        }
        format!(
            "{not}{} {} {:?}",
            self.field.as_str(),
            self.op.as_str(),
            self.value
        )
    }
}

impl Actions {
    fn validate(&self) -> Result<(), RuleError> {
        if let Some(r) = &self.route {
            r.validate("actions.route")?;
        }
        if let Some(a) = &self.activity {
            a.validate("actions.activity")?;
        }
        if let Some(c) = &self.category {
            check_text("actions.category", c, limits::CATEGORY)?;
        }
        if self.tags.len() > limits::TAGS {
            return Err(RuleError::new(
                "actions.tags",
                &format!("al massimo {} etichette", limits::TAGS),
                &format!("at most {} tags", limits::TAGS),
            ));
        }
        for (i, t) in self.tags.iter().enumerate() {
            check_text(&format!("actions.tags[{i}]"), t, limits::TAG)?;
        }
        Ok(())
    }
}

impl Route {
    /// Exactly one of a team or a user; an assignment strategy only for a team.
    pub fn validate(&self, at: &str) -> Result<(), RuleError> {
        match (&self.team_id, &self.user_id) {
            (Some(t), None) => check_text(&format!("{at}.team_id"), t, limits::VALUE),
            (None, Some(u)) => {
                check_text(&format!("{at}.user_id"), u, limits::VALUE)?;
                if self.assign != Assign::None {
                    return Err(RuleError::new(
                        &format!("{at}.assign"),
                        "solo per un team",
                        "only for a team",
                    ));
                }
                Ok(())
            }
            _ => Err(RuleError::new(
                at,
                "indicare `team_id` oppure `user_id`",
                "give `team_id` or `user_id`",
            )),
        }
    }
}

/// `*` any text (also none), `?` one character; the rest literal. Both sides already in
/// the same case. Linear backtracking over the last `*`: never exponential.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What rules look at in one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The mailbox's id.
    pub mailbox_id: String,
    /// The mailbox's address.
    pub mailbox_address: String,
    /// The certified sender and the original's `From`.
    pub senders: Vec<String>,
    /// Every recipient.
    pub recipients: Vec<String>,
    /// The subject.
    pub subject: Option<String>,
    /// The text (plain, else HTML).
    pub body: Option<String>,
    /// The PEC kind's name.
    pub kind: String,
    /// The attachments' names.
    pub attachments: Vec<String>,
    /// Segnatura and SdI data.
    pub protocol: Protocol,
}

fn one(v: Option<&str>) -> Vec<Cow<'_, str>> {
    v.map(Cow::Borrowed).into_iter().collect()
}

fn domain(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d)
}

impl Facts {
    /// The facts of a raw message in a mailbox: the inspection's summary and original
    /// (or, for an ordinary mail, the message itself) and its protocol data. Never panics.
    pub fn from_raw(
        mailbox_id: &str,
        mailbox_address: &str,
        raw: &[u8],
        inspection: &Inspection,
    ) -> Self {
        let s = &inspection.summary;
        let mut f = Facts {
            mailbox_id: mailbox_id.to_owned(),
            mailbox_address: mailbox_address.to_owned(),
            kind: s.kind.as_str().to_owned(),
            subject: s.subject.clone(),
            protocol: crate::protocol::extract(raw, s.sender.as_deref()),
            ..Facts::default()
        };
        f.senders.extend(s.sender.clone());
        f.recipients
            .extend(s.recipients.iter().map(|r| r.address.clone()));
        f.recipients.extend(s.recipient.clone());
        match &inspection.original {
            Some(o) => {
                f.senders.extend(o.from.clone());
                f.recipients.extend(o.to.iter().chain(&o.cc).cloned());
                if f.subject.is_none() {
                    f.subject = o.subject.clone();
                }
                f.body = o.text_body.clone().or_else(|| o.html_body.clone());
                f.attachments = o
                    .attachments
                    .iter()
                    .filter_map(|a| a.name.clone())
                    .collect();
            }
            None => f.read_outer(raw),
        }
        f.senders.dedup();
        f.recipients.sort();
        f.recipients.dedup();
        f
    }

    /// An ordinary mail (no `postacert.eml`): its own headers, text and attachments.
    fn read_outer(&mut self, raw: &[u8]) {
        let Some(m) = MessageParser::default().parse(raw) else {
            return;
        };
        let list = |a: Option<&Address<'_>>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| x.address.as_deref().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
        };
        if self.senders.is_empty() {
            self.senders = list(m.from());
        }
        self.recipients.extend(list(m.to()));
        self.recipients.extend(list(m.cc()));
        if self.subject.is_none() {
            self.subject = m.subject().map(str::to_owned);
        }
        self.body = m
            .body_text(0)
            .map(Cow::into_owned)
            .or_else(|| m.body_html(0).map(Cow::into_owned));
        self.attachments = m
            .attachments()
            .filter_map(|p| p.attachment_name().map(str::to_owned))
            .collect();
    }

    /// The values of a field (none when the message has none).
    pub fn values(&self, field: Field) -> Vec<Cow<'_, str>> {
        let seg = self.protocol.segnatura.as_ref();
        let sdi = self.protocol.sdi.as_ref();
        let seg_field = |get: fn(&crate::protocol::Segnatura) -> &Option<String>| {
            seg.and_then(|s| get(s).as_deref())
                .map(Cow::Borrowed)
                .into_iter()
                .collect::<Vec<_>>()
        };
        let sdi_field = |get: fn(&crate::protocol::SdiNotice) -> Option<&str>| {
            sdi.and_then(get)
                .map(Cow::Borrowed)
                .into_iter()
                .collect::<Vec<_>>()
        };
        match field {
            Field::Mailbox => vec![
                Cow::Borrowed(self.mailbox_id.as_str()),
                Cow::Borrowed(self.mailbox_address.as_str()),
            ],
            Field::Sender => self
                .senders
                .iter()
                .map(|s| Cow::Borrowed(s.as_str()))
                .collect(),
            Field::SenderDomain => self
                .senders
                .iter()
                .filter_map(|s| domain(s))
                .map(Cow::Borrowed)
                .collect(),
            Field::Recipient => self
                .recipients
                .iter()
                .map(|s| Cow::Borrowed(s.as_str()))
                .collect(),
            Field::Subject => one(self.subject.as_deref()),
            Field::Body => one(self.body.as_deref()),
            Field::Kind => vec![Cow::Borrowed(self.kind.as_str())],
            Field::Attachment => self
                .attachments
                .iter()
                .map(|s| Cow::Borrowed(s.as_str()))
                .collect(),
            Field::SegnaturaAdministrationCode => seg_field(|s| &s.administration_code),
            Field::SegnaturaAdministrationName => seg_field(|s| &s.administration_name),
            Field::SegnaturaAooCode => seg_field(|s| &s.aoo_code),
            Field::SegnaturaAooName => seg_field(|s| &s.aoo_name),
            Field::SegnaturaProtocolNumber => seg_field(|s| &s.protocol_number),
            Field::SegnaturaProtocolDate => seg_field(|s| &s.protocol_date),
            Field::SegnaturaClassification => seg_field(|s| &s.classification),
            Field::SegnaturaClassificationName => seg_field(|s| &s.classification_name),
            Field::SegnaturaSubject => seg_field(|s| &s.subject),
            Field::SdiKind => sdi_field(|n| Some(n.kind.as_str())),
            Field::SdiInvoiceFile => sdi_field(|n| n.invoice_file.as_deref()),
            Field::SdiNoticeFile => sdi_field(|n| Some(n.notice_file.as_str())),
            Field::SdiId => sdi_field(|n| n.sdi_id.as_deref()),
            Field::SdiOutcome => sdi_field(|n| n.outcome.as_deref()),
        }
    }
}

/// A mailbox of the organisation as a `mailbox` condition can name it: its id and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxName<'a> {
    /// The mailbox's id.
    pub id: &'a str,
    /// Its PEC address.
    pub address: &'a str,
}

/// The mailboxes a rule can ever match in, decided from its conditions alone, or `None`
/// when it may match in any mailbox ("unconfined").
///
/// A condition confines when it is `mailbox is [values]`, not negated, and every value
/// names a mailbox of `mailboxes` by id or address (compared as [`Condition::check`]
/// compares `is`: trimmed, ignoring case). Such a condition matches only in the mailboxes
/// named (a message's `mailbox` values are exactly its mailbox's id and address). All
/// conditions must hold, so several confining conditions confine to the intersection.
/// Anything else does not confine: `contains` or `glob` (a pattern may match a mailbox
/// created later), a negated condition, or a value naming no mailbox of the organisation
/// (an address a mailbox created later could take).
///
/// A rule with an empty confinement (`Some` of nothing) matches no message at all.
pub fn confinement(
    spec: &RuleSpec,
    mailboxes: &[MailboxName<'_>],
) -> Option<std::collections::BTreeSet<String>> {
    let mut confined: Option<std::collections::BTreeSet<String>> = None;
    for c in &spec.conditions {
        if c.field != Field::Mailbox || c.op != Match::Is || c.negate || c.value.is_empty() {
            continue;
        }
        let mut named = std::collections::BTreeSet::new();
        let mut every_value_known = true;
        for v in &c.value {
            let want = v.trim().to_lowercase();
            let hit = mailboxes.iter().find(|m| {
                m.id.trim().to_lowercase() == want || m.address.trim().to_lowercase() == want
            });
            match hit {
                Some(m) => {
                    named.insert(m.id.to_owned());
                }
                None => every_value_known = false,
            }
        }
        if !every_value_known {
            continue;
        }
        confined = Some(match confined {
            None => named,
            Some(before) => before.intersection(&named).cloned().collect(),
        });
    }
    confined
}

/// A stored rule: its id and what it says. Evaluated in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The stored id.
    pub id: String,
    /// The rule.
    pub spec: RuleSpec,
}

/// A rule that matched, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matched {
    /// The rule's id.
    pub rule_id: String,
    /// Its name.
    pub name: String,
    /// Each condition in words with the value that satisfied it.
    pub why: Vec<String>,
}

/// An action and the rule it comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sourced<T> {
    /// The rule's id.
    pub rule_id: String,
    /// The action.
    pub action: T,
}

/// What the rules decide for one message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The rules that matched, in order.
    pub matched: Vec<Matched>,
    /// Where the message goes (the first matching rule that routes).
    pub route: Option<Sourced<Route>>,
    /// The activity to create (the first matching rule that creates one).
    pub activity: Option<Sourced<ActivitySpec>>,
    /// The category (the first matching rule that sets one).
    pub category: Option<String>,
    /// Every matching rule's tags, without repetition, in order.
    pub tags: Vec<String>,
}

impl Decision {
    /// Whether a rule routed the message (otherwise it waits in the dispatcher queue).
    pub fn routed(&self) -> bool {
        self.route.is_some()
    }

    /// The rule that decided the route, else the first that matched.
    pub fn deciding_rule(&self) -> Option<&str> {
        self.route
            .as_ref()
            .map(|r| r.rule_id.as_str())
            .or_else(|| self.matched.first().map(|m| m.rule_id.as_str()))
    }
}

/// Whether one rule matches, with the reasons (`None`: it does not).
pub fn matches(rule: &RuleSpec, facts: &Facts) -> Option<Vec<String>> {
    if !rule.enabled {
        return None;
    }
    let mut why = Vec::with_capacity(rule.conditions.len());
    for c in &rule.conditions {
        let (ok, hit) = c.check(facts);
        if !ok {
            return None;
        }
        why.push(match hit {
            Some(v) if !c.negate => {
                let v: String = v.chars().take(120).collect();
                format!("{}: {v:?}", c.describe())
            }
            _ => c.describe(),
        });
    }
    if why.is_empty() {
        why.push("nessuna condizione: ogni messaggio / no condition: every message".to_owned());
    }
    Some(why)
}

/// Evaluates the rules, in order, for one message.
pub fn evaluate(rules: &[Rule], facts: &Facts) -> Decision {
    let mut d = Decision::default();
    for rule in rules {
        let Some(why) = matches(&rule.spec, facts) else {
            continue;
        };
        d.matched.push(Matched {
            rule_id: rule.id.clone(),
            name: rule.spec.name.clone(),
            why,
        });
        let a = &rule.spec.actions;
        if d.route.is_none()
            && let Some(r) = &a.route
        {
            d.route = Some(Sourced {
                rule_id: rule.id.clone(),
                action: r.clone(),
            });
        }
        if d.activity.is_none()
            && let Some(x) = &a.activity
        {
            d.activity = Some(Sourced {
                rule_id: rule.id.clone(),
                action: x.clone(),
            });
        }
        if d.category.is_none() {
            d.category = a.category.clone();
        }
        for t in &a.tags {
            if !d.tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                d.tags.push(t.clone());
            }
        }
        if rule.spec.stop {
            break;
        }
    }
    d
}

/// A team member as the assignment sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The user.
    pub user_id: String,
    /// Their open activities (not done, not cancelled).
    pub open: u32,
    /// When they were last assigned an activity (ms), if ever.
    pub last_assigned_at: Option<i64>,
}

/// Chooses the assignee within a team: round-robin after `last` (the team's cursor: the
/// member assigned last; members taken in id order), or least-open. `None` for
/// [`Assign::None`] or a team without members.
pub fn pick_member<'a>(
    strategy: Assign,
    members: &'a [Member],
    last: Option<&str>,
) -> Option<&'a str> {
    match strategy {
        Assign::None => None,
        Assign::RoundRobin => {
            let mut ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let next = last.and_then(|l| ids.iter().find(|id| **id > l).copied());
            next.or_else(|| ids.first().copied())
        }
        Assign::LeastOpen => members
            .iter()
            .min_by(|a, b| {
                (a.open, a.last_assigned_at.unwrap_or(i64::MIN), &a.user_id).cmp(&(
                    b.open,
                    b.last_assigned_at.unwrap_or(i64::MIN),
                    &b.user_id,
                ))
            })
            .map(|m| m.user_id.as_str()),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn mbs() -> Vec<MailboxName<'static>> {
        vec![
            MailboxName {
                id: "mb1",
                address: "protocollo@pec.ente.test",
            },
            MailboxName {
                id: "mb2",
                address: "legale@pec.ente.test",
            },
        ]
    }

    fn confined(conditions: serde_json::Value) -> Option<Vec<String>> {
        let s = spec(serde_json::json!({"name": "r", "conditions": conditions}));
        confinement(&s, &mbs()).map(|c| c.into_iter().collect())
    }

    #[test]
    fn a_mailbox_is_condition_confines_the_rule_to_the_mailboxes_it_names() {
        assert_eq!(
            confined(serde_json::json!([
                {"field": "mailbox", "match": "is", "value": " Protocollo@PEC.ente.test "},
                {"field": "subject", "match": "contains", "value": "x"}])),
            Some(vec!["mb1".to_owned()])
        );
        assert_eq!(
            confined(serde_json::json!([
                {"field": "mailbox", "match": "is", "value": ["mb2", "protocollo@pec.ente.test"]}])),
            Some(vec!["mb1".to_owned(), "mb2".to_owned()])
        );
        // Two confining conditions: both must hold, so the intersection.
        assert_eq!(
            confined(serde_json::json!([
                {"field": "mailbox", "match": "is", "value": ["mb1", "mb2"]},
                {"field": "mailbox", "match": "is", "value": "mb2"}])),
            Some(vec!["mb2".to_owned()])
        );
        assert_eq!(
            confined(serde_json::json!([
                {"field": "mailbox", "match": "is", "value": "mb1"},
                {"field": "mailbox", "match": "is", "value": "mb2"}])),
            Some(vec![])
        );
    }

    #[test]
    fn patterns_negations_and_unknown_mailboxes_do_not_confine() {
        for c in [
            serde_json::json!([]),
            serde_json::json!([{"field": "subject", "match": "is", "value": "mb1"}]),
            serde_json::json!([{"field": "mailbox", "match": "glob", "value": "protocollo@*"}]),
            serde_json::json!([{"field": "mailbox", "match": "contains", "value": "mb1"}]),
            serde_json::json!([{"field": "mailbox", "match": "is", "value": "mb1", "negate": true}]),
            serde_json::json!([{"field": "mailbox", "match": "exists"}]),
            // One value names no mailbox of the organisation: a mailbox created later
            // with that address would match, so the rule is not confined.
            serde_json::json!([{"field": "mailbox", "match": "is",
                                "value": ["mb1", "nuova@pec.ente.test"]}]),
        ] {
            assert_eq!(confined(c.clone()), None, "{c}");
        }
    }

    #[test]
    fn a_confined_rule_never_matches_outside_its_mailboxes() {
        let s = spec(serde_json::json!({"name": "r", "conditions": [
            {"field": "mailbox", "match": "is", "value": "PROTOCOLLO@pec.ente.test"}]}));
        let set = confinement(&s, &mbs()).expect("confined");
        for m in mbs() {
            let f = Facts {
                mailbox_id: m.id.into(),
                mailbox_address: m.address.into(),
                ..Facts::default()
            };
            assert_eq!(matches(&s, &f).is_some(), set.contains(m.id), "{}", m.id);
        }
    }

    fn spec(json: serde_json::Value) -> RuleSpec {
        serde_json::from_value(json).expect("rule")
    }

    fn rule(id: &str, json: serde_json::Value) -> Rule {
        Rule {
            id: id.into(),
            spec: spec(json),
        }
    }

    fn facts() -> Facts {
        Facts {
            mailbox_id: "mb1".into(),
            mailbox_address: "protocollo@pec.ente.test".into(),
            senders: vec!["sdi03@pec.fatturapa.it".into()],
            recipients: vec!["protocollo@pec.ente.test".into()],
            subject: Some("Notifica di scarto 123".into()),
            body: Some("La fattura è stata SCARTATA".into()),
            kind: "posta-certificata".into(),
            attachments: vec!["IT01234567890_00001_NS_001.xml".into()],
            protocol: Protocol {
                segnatura: None,
                sdi: Some(crate::protocol::SdiNotice {
                    kind: "NS".into(),
                    notice_file: "IT01234567890_00001_NS_001.xml".into(),
                    invoice_file: Some("IT01234567890_00001.xml".into()),
                    sdi_id: Some("123".into()),
                    outcome: None,
                    from_sdi: true,
                }),
            },
        }
    }

    #[test]
    fn every_condition_must_match_and_the_reasons_are_given() {
        let r = spec(serde_json::json!({"name": "sdi", "conditions": [
            {"field": "sender_domain", "match": "is", "value": "PEC.fatturapa.it"},
            {"field": "body", "match": "contains", "value": ["scartata"]},
            {"field": "attachment", "match": "glob", "value": "*_ns_???.xml"},
            {"field": "sdi.kind", "match": "is", "value": ["NS", "MC"]},
            {"field": "segnatura.aoo_code", "match": "exists", "negate": true}
        ]}));
        let why = matches(&r, &facts()).expect("matches");
        assert_eq!(why.len(), 5);
        assert!(why[0].contains("pec.fatturapa.it"), "{why:?}");
        let mut f = facts();
        f.body = Some("accettata".into());
        assert_eq!(matches(&r, &f), None);
    }

    #[test]
    fn stop_ends_the_evaluation_continue_goes_on_and_the_first_route_wins() {
        let rules = [
            rule(
                "r1",
                serde_json::json!({"name": "a", "stop": false,
                "conditions": [{"field": "kind", "match": "is", "value": "posta-certificata"}],
                "actions": {"route": {"team_id": "t1"}, "tags": ["pec"], "category": "A"}}),
            ),
            rule(
                "r2",
                serde_json::json!({"name": "b", "stop": true,
                "actions": {"route": {"user_id": "u9"}, "tags": ["PEC", "due"],
                            "activity": {"priority": "high", "due_in_days": 2}}}),
            ),
            rule(
                "r3",
                serde_json::json!({"name": "c", "actions": {"tags": ["tre"]}}),
            ),
        ];
        let d = evaluate(&rules, &facts());
        assert_eq!(
            d.matched
                .iter()
                .map(|m| m.rule_id.as_str())
                .collect::<Vec<_>>(),
            ["r1", "r2"]
        );
        let route = d.route.as_ref().expect("route");
        assert_eq!(
            (route.rule_id.as_str(), route.action.team_id.as_deref()),
            ("r1", Some("t1"))
        );
        assert_eq!(d.activity.as_ref().map(|a| a.rule_id.as_str()), Some("r2"));
        assert_eq!(d.tags, ["pec", "due"]);
        assert_eq!(d.category.as_deref(), Some("A"));
        assert!(d.routed());
        // With r1 stopping, r2 never runs.
        let mut stopping = rules.clone();
        stopping[0].spec.stop = true;
        let d = evaluate(&stopping, &facts());
        assert_eq!(d.matched.len(), 1);
        assert!(d.activity.is_none());
        // A disabled rule never matches.
        let mut off = rules.clone();
        off[0].spec.enabled = false;
        off[1].spec.enabled = false;
        let d = evaluate(&off, &facts());
        assert_eq!(d.matched.len(), 1);
        assert!(!d.routed());
    }

    #[test]
    fn validation_explains_in_italian_and_english() {
        let bad = [
            serde_json::json!({"name": " "}),
            serde_json::json!({"name": "x", "conditions": [{"field": "subject", "match": "is"}]}),
            serde_json::json!({"name": "x", "conditions": [{"field": "subject", "match": "exists", "value": "a"}]}),
            serde_json::json!({"name": "x", "conditions": [{"field": "kind", "match": "is", "value": "pec"}]}),
            serde_json::json!({"name": "x", "actions": {"route": {}}}),
            serde_json::json!({"name": "x", "actions": {"route": {"team_id": "t", "user_id": "u"}}}),
            serde_json::json!({"name": "x", "actions": {"route": {"user_id": "u", "assign": "round_robin"}}}),
            serde_json::json!({"name": "x", "actions": {"activity": {"due_in_days": 400}}}),
            serde_json::json!({"name": "x", "actions": {"activity": {"due_in_days": 1, "due_in_hours": 3}}}),
        ];
        for b in bad {
            let e = spec(b.clone()).validate().expect_err("invalid");
            let text = e.to_string();
            assert!(text.contains(" / field `"), "{b}: {text}");
        }
        // Unknown fields and unknown names are refused by the JSON form itself.
        for b in [
            serde_json::json!({"name": "x", "colour": "red"}),
            serde_json::json!({"name": "x", "conditions": [{"field": "nope", "match": "is", "value": "a"}]}),
            serde_json::json!({"name": "x", "conditions": [{"field": "subject", "match": "regex", "value": "a"}]}),
            serde_json::json!({"name": "x", "actions": {"route": {"team_id": "t", "x": 1}}}),
        ] {
            assert!(
                serde_json::from_value::<RuleSpec>(b.clone()).is_err(),
                "{b}"
            );
        }
        let ok = spec(serde_json::json!({"name": "ok", "conditions": [
            {"field": "kind", "match": "is", "value": "posta-certificata"}],
            "actions": {"route": {"team_id": "t", "assign": "least_open"},
                        "activity": {"flow": "approval", "approver_id": "u", "due_in_hours": 4}}}));
        assert_eq!(ok.validate(), Ok(()));
        // The stored form reads back the same.
        let again: RuleSpec =
            serde_json::from_str(&serde_json::to_string(&ok).expect("json")).expect("back");
        assert_eq!(again, ok);
    }

    #[test]
    fn glob_is_linear_and_case_is_ignored_by_the_caller() {
        assert!(glob("*@pec.fatturapa.it", "sdi03@pec.fatturapa.it"));
        assert!(glob("sdi??@*", "sdi03@pec.fatturapa.it"));
        assert!(!glob("sdi?@*", "sdi03@pec.fatturapa.it"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "a"));
        let long = "a".repeat(5000);
        assert!(!glob("*a*a*a*a*a*a*a*b", &long));
    }

    #[test]
    fn round_robin_takes_turns_and_least_open_takes_the_least_loaded() {
        let m = |id: &str, open: u32, last: Option<i64>| Member {
            user_id: id.into(),
            open,
            last_assigned_at: last,
        };
        let team = [m("b", 3, Some(5)), m("a", 1, Some(9)), m("c", 1, Some(2))];
        assert_eq!(pick_member(Assign::RoundRobin, &team, None), Some("a"));
        assert_eq!(pick_member(Assign::RoundRobin, &team, Some("a")), Some("b"));
        assert_eq!(pick_member(Assign::RoundRobin, &team, Some("c")), Some("a"));
        // A cursor on someone who left the team: the next one after them.
        assert_eq!(
            pick_member(Assign::RoundRobin, &team, Some("bb")),
            Some("c")
        );
        assert_eq!(pick_member(Assign::LeastOpen, &team, None), Some("c"));
        assert_eq!(pick_member(Assign::None, &team, None), None);
        assert_eq!(pick_member(Assign::LeastOpen, &[], None), None);
    }

    #[test]
    fn due_offsets() {
        let a = ActivitySpec {
            due_in_hours: Some(2),
            ..ActivitySpec::default()
        };
        let cal = crate::sla::Calendar::default();
        // Friday 3 April 2026 17:00 CEST (15:00 UTC), before Easter Monday.
        let friday = 1_775_228_400_000;
        // 1 h on Friday, then Tuesday 7 April 10:00 CEST.
        assert_eq!(a.due_at(friday, &cal), Some(1_775_548_800_000));
        let d = ActivitySpec {
            due_in_days: Some(1),
            ..ActivitySpec::default()
        };
        // Tuesday 7 April 18:00 CEST.
        assert_eq!(d.due_at(friday, &cal), Some(1_775_577_600_000));
        assert_eq!(ActivitySpec::default().due_at(friday, &cal), None);
    }

    #[test]
    fn facts_of_an_ordinary_mail_come_from_the_message_itself() {
        let raw = b"From: Mario <mario@esempio.test>\r\nTo: <protocollo@pec.ente.test>\r\n\
            Cc: <altro@esempio.test>\r\nSubject: Richiesta\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\n\r\nTesto urgente\r\n--b\r\n\
            Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"atto.pdf\"\r\n\r\nx\r\n--b--\r\n";
        let insp = crate::inspect(raw, &crate::InspectOptions::default());
        let f = Facts::from_raw("mb", "protocollo@pec.ente.test", raw, &insp);
        assert_eq!(f.senders, ["mario@esempio.test"]);
        assert_eq!(
            f.recipients,
            ["altro@esempio.test", "protocollo@pec.ente.test"]
        );
        assert_eq!(f.subject.as_deref(), Some("Richiesta"));
        assert!(f.body.as_deref().is_some_and(|b| b.contains("urgente")));
        assert_eq!(f.attachments, ["atto.pdf"]);
        assert_eq!(f.kind, "not-pec");
    }
}
