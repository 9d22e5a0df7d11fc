//! Mass sends (invio massivo): templates and a CSV of recipients, validated as a whole
//! before anything is queued, then one message per recipient through the outbox
//! (`Operation::RunCampaign` / `ReadCampaign`).
//!
//! - [`Template`]: `{{ field }}` placeholders filled from the recipient's CSV row (a small
//!   parser of our own: no expressions, no code);
//! - [`validate`]: every problem of a campaign at once, in one [`Report`] (bad and
//!   duplicate addresses, missing files, unknown placeholders, sizes, quota);
//! - [`create`]: in ONE transaction the campaign, its files, its recipients and one outbox
//!   row per recipient (only that recipient in `To`, never Bcc), its audit entry and, when
//!   asked, its activity;
//! - [`detail`], [`recipients`], [`export_csv`]: each recipient's status, read from its
//!   outbox row and the receipts certifying it (never stored twice);
//! - [`pause`], [`resume`], [`cancel`]: the outbox rows queued ↔ held, or cancelled;
//! - [`sweep`]: what the outbox worker's loop calls: activities for failed recipients and
//!   campaigns marked done.

use std::collections::{BTreeMap, HashMap, HashSet};

use pecdesk_core::authz::{Operation, Person};
use pecdesk_core::pec::PecKind;
use pecdesk_core::reconcile::{self, DeliveryState, ReceiptFacts, SentFacts};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::auth::Principal;
use crate::authz::authorize;
use crate::error::{Error, Result};
use crate::outbox::compose::{self, FilePart, Outgoing, ReceiptType};
use crate::store::activities::{self as store_activities, ActivityRow};
use crate::store::audit::{self, Action, Chain};
use crate::store::campaigns::{
    self as store, CampaignRow, FileRow, MailboxFacts, NewRecipient, RecipientReceiptRow,
};
use crate::store::outbox::{self, NewOutgoing, Origin};
use crate::store::query::{self, Cursor, Page};
use crate::store::{Store, ms_to_rfc3339, new_id, now_ms};

/// Size limit of one message when the mailbox sets none (Aruba: 100 MB).
pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;
/// What one receipt costs in the box beyond what it carries (headers, daticert, readable
/// notice, signature): a measured small accettazione is about 6 KiB.
pub const RECEIPT_OVERHEAD: u64 = 8 * 1024;
/// Rows named in one problem of the report (the count says how many in all).
const ROWS_SHOWN: usize = 20;
/// Longest campaign name.
const NAME_MAX: usize = 300;

/// `[campaigns]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CampaignSettings {
    /// Recipients one campaign may have.
    pub max_recipients: usize,
}

impl Default for CampaignSettings {
    fn default() -> Self {
        // "A bulk box may send 20,000 a day" (PEC.md).
        Self {
            max_recipients: 20_000,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------

/// A subject or body with `{{ field }}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// A field name, lower case.
    Field(String),
}

impl Template {
    /// Parses `text`: `{{` opens a placeholder closed by `}}`, the name inside is trimmed
    /// (spaces allowed around it) and compared without case. An unclosed or empty
    /// placeholder is an error (words for the report).
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(format!(
                    "segnaposto non chiuso vicino a {:?} / unclosed placeholder near {:?}",
                    snippet(&rest[open..]),
                    snippet(&rest[open..])
                ));
            };
            let name = after[..close].trim();
            if name.is_empty() || name.contains('{') || name.contains('}') {
                return Err(format!(
                    "segnaposto non valido {:?} / invalid placeholder {:?}",
                    snippet(&rest[open..open + close + 4]),
                    snippet(&rest[open..open + close + 4])
                ));
            }
            parts.push(Part::Field(name.to_lowercase()));
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The placeholders' names (lower case), each once, in order of appearance.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in &self.parts {
            if let Part::Field(f) = p
                && !out.contains(&f.as_str())
            {
                out.push(f);
            }
        }
        out
    }

    /// The text with each placeholder replaced by the row's value (empty when missing).
    pub fn fill(&self, fields: &BTreeMap<String, String>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(f) => out.push_str(fields.get(f).map_or("", String::as_str)),
            }
        }
        out
    }
}

fn snippet(s: &str) -> String {
    s.chars().take(30).collect()
}

// ---------------------------------------------------------------------------------------
// Recipients' CSV
// ---------------------------------------------------------------------------------------

/// One recipient read from the CSV.
#[derive(Debug, Clone)]
pub struct CsvRow {
    /// 1 = the first recipient (the row after the header).
    pub row_no: usize,
    /// The address as written (trimmed).
    pub address: String,
    /// Every column but the attachments', by lower-case header name.
    pub fields: BTreeMap<String, String>,
    /// The row's own attachments' file names.
    pub attachments: Vec<String>,
}

/// The CSV as read.
#[derive(Debug, Clone, Default)]
pub struct Recipients {
    /// Column names, lower case, as the placeholders use them.
    pub columns: Vec<String>,
    pub rows: Vec<CsvRow>,
}

const ADDRESS_COLUMNS: [&str; 4] = ["indirizzo", "address", "pec", "email"];
const ATTACHMENT_COLUMNS: [&str; 2] = ["allegati", "attachments"];

/// Reads the recipients' CSV: a header row, a column `indirizzo` or `address`, an optional
/// `allegati` / `attachments` column (file names separated by `;`), every other column a
/// field. The separator is `;` when the header has one and no comma (Italian Excel), else
/// `,`. Problems go into `report`.
pub fn read_csv(text: &str, report: &mut Report) -> Recipients {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header_line = text.lines().next().unwrap_or("");
    let delimiter = if header_line.contains(';') && !header_line.contains(',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_lowercase()).collect(),
        Err(e) => {
            report.error(
                "csv",
                format!("il CSV non si legge: {e} / the CSV cannot be read: {e}"),
            );
            return Recipients::default();
        }
    };
    let Some(address_col) = headers
        .iter()
        .position(|h| ADDRESS_COLUMNS.contains(&h.as_str()))
    else {
        report.error(
            "csv_address_column",
            "il CSV non ha la colonna `indirizzo` (o `address`) nella prima riga / the CSV has \
             no `indirizzo` (or `address`) column in its header row",
        );
        return Recipients::default();
    };
    let attach_col = headers
        .iter()
        .position(|h| ATTACHMENT_COLUMNS.contains(&h.as_str()));
    let mut seen = HashSet::new();
    for h in &headers {
        if h.is_empty() || !seen.insert(h.clone()) {
            report.error(
                "csv_header",
                format!(
                    "colonna vuota o ripetuta nell'intestazione: {h:?} / empty or repeated \
                     column in the header: {h:?}"
                ),
            );
        }
    }
    let columns: Vec<String> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != attach_col)
        .map(|(_, h)| h.clone())
        .collect();
    let mut rows = Vec::new();
    let mut bad_shape = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let row_no = i + 1;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                report.error(
                    "csv",
                    format!(
                        "il CSV non si legge alla riga {row_no}: {e} / the CSV cannot be read \
                         at row {row_no}: {e}"
                    ),
                );
                break;
            }
        };
        if rec.len() != headers.len() {
            bad_shape.push(row_no);
        }
        let mut fields = BTreeMap::new();
        let mut attachments = Vec::new();
        for (j, h) in headers.iter().enumerate() {
            let v = rec.get(j).unwrap_or("").to_owned();
            if Some(j) == attach_col {
                attachments = v
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            } else {
                fields.insert(h.clone(), v);
            }
        }
        rows.push(CsvRow {
            row_no,
            address: rec.get(address_col).unwrap_or("").trim().to_owned(),
            fields,
            attachments,
        });
    }
    if !bad_shape.is_empty() {
        report.rows_error(
            "csv_columns",
            "righe con un numero di colonne diverso dall'intestazione / rows whose number of \
             columns differs from the header",
            &bad_shape,
        );
    }
    Recipients { columns, rows }
}

// ---------------------------------------------------------------------------------------
// The request and the report
// ---------------------------------------------------------------------------------------

/// Which activities a campaign creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActivitiesMode {
    /// None.
    #[default]
    None,
    /// One for the whole campaign, at creation.
    Campaign,
    /// One per failed recipient, as failures are known.
    Failures,
}

impl ActivitiesMode {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Campaign => "campaign",
            Self::Failures => "failures",
        }
    }
}

/// One file of a campaign, as sent.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileInput {
    /// The file name the recipients see, and the CSV names.
    pub name: String,
    /// MIME type (default `application/octet-stream`).
    #[serde(default)]
    pub content_type: Option<String>,
    /// The bytes, base64.
    pub content_base64: String,
    /// Attached to every recipient's message.
    #[serde(default)]
    pub common: bool,
}

/// Body of `POST /api/v1/campaigns` and `POST /api/v1/campaigns/validate`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    /// The sending mailbox.
    pub mailbox_id: String,
    /// A name for people.
    pub name: String,
    /// Subject template (`{{ field }}` placeholders).
    pub subject: String,
    /// Body template (plain text, `{{ field }}` placeholders).
    pub body: String,
    /// Delivery receipt asked of the provider (default `completa`).
    #[serde(default)]
    pub receipt_type: ReceiptType,
    /// The recipients' CSV (header row; `indirizzo`/`address`; optional
    /// `allegati`/`attachments` with file names separated by `;`; other columns are fields).
    pub csv: String,
    /// Files: common ones and those the CSV names.
    #[serde(default)]
    pub files: Vec<FileInput>,
    /// `none` (default), `campaign` or `failures`.
    #[serde(default)]
    pub activities: ActivitiesMode,
}

/// One problem of a campaign (an error stops it; a warning does not).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable code (`bad_address`, `duplicate_address`, `missing_file`,
    /// `unknown_placeholder`, `empty_subject`, `too_large`, `too_many_recipients`, `quota`,
    /// `quota_unknown`, `smtp_missing`, ...).
    pub code: String,
    /// Italian / English, saying what to do.
    pub message: String,
    /// CSV rows concerned (1 = first recipient), at most 20; `count` says how many in all.
    pub rows: Vec<usize>,
    /// How many rows (or names) the problem concerns.
    pub count: usize,
    /// Names concerned (placeholders, files).
    pub names: Vec<String>,
}

/// Everything validation found, errors and warnings at once.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// No errors: the campaign may be queued.
    pub ok: bool,
    /// Recipients read from the CSV.
    pub recipients: usize,
    /// Bytes of every message, summed.
    pub messages_bytes: u64,
    /// The largest message.
    pub largest_message_bytes: u64,
    /// The mailbox's limit per message.
    pub max_message_bytes: u64,
    /// The configured limit of recipients per campaign.
    pub max_recipients: usize,
    /// What the receipts will bring back into the box (a completa carries the whole
    /// message again), estimated.
    pub receipts_bytes: u64,
    /// The box's free space (`null`: unknown).
    pub free_bytes: Option<u64>,
    /// Where the free space comes from: `imap` (QUOTA) or `configured` (the mailbox's
    /// quota minus what is stored); `null` when unknown.
    pub quota_source: Option<String>,
    /// The CSV's columns, as placeholders may name them.
    pub columns: Vec<String>,
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

impl Report {
    fn error(&mut self, code: &str, message: impl Into<String>) {
        self.errors.push(Problem {
            code: code.into(),
            message: message.into(),
            rows: vec![],
            count: 1,
            names: vec![],
        });
    }

    fn problem(code: &str, message: &str, rows: &[usize], names: Vec<String>) -> Problem {
        let count = if rows.is_empty() {
            names.len().max(1)
        } else {
            rows.len()
        };
        let shown: Vec<String> = rows
            .iter()
            .take(ROWS_SHOWN)
            .map(|r| r.to_string())
            .collect();
        let more = if rows.len() > ROWS_SHOWN { ", …" } else { "" };
        let message = if rows.is_empty() {
            message.to_owned()
        } else {
            let (it, en) = message.split_once(" / ").unwrap_or((message, message));
            let list = format!("{}{more}", shown.join(", "));
            format!("{it} (righe {list}) / {en} (rows {list})")
        };
        Problem {
            code: code.into(),
            message,
            rows: rows.iter().take(ROWS_SHOWN).copied().collect(),
            count,
            names,
        }
    }

    fn rows_error(&mut self, code: &str, message: &str, rows: &[usize]) {
        self.errors.push(Self::problem(code, message, rows, vec![]));
    }

    fn rows_warning(&mut self, code: &str, message: &str, rows: &[usize]) {
        self.warnings
            .push(Self::problem(code, message, rows, vec![]));
    }

    /// A short line for an error envelope: how many problems, the first one.
    pub fn summary(&self) -> String {
        let first = self.errors.first().map_or("", |p| p.message.as_str());
        format!(
            "invio massivo non valido, nulla è stato accodato ({} problemi): {first} / invalid \
             mass send, nothing was queued ({} problems)",
            self.errors.len(),
            self.errors.len()
        )
    }
}

/// A campaign validated and composed: what [`create`] writes.
#[derive(Debug)]
pub struct Prepared {
    pub report: Report,
    mailbox: Option<MailboxFacts>,
    files: Vec<(FileInput, Vec<u8>)>,
    /// Per recipient: the row, our Message-ID, the raw message.
    messages: Vec<(CsvRow, String, Vec<u8>)>,
}

fn decode_files(files: &[FileInput], report: &mut Report) -> Vec<(FileInput, Vec<u8>)> {
    use base64::Engine as _;
    let mut out = Vec::with_capacity(files.len());
    let mut names = HashSet::new();
    for f in files {
        let name = f.name.trim();
        if name.is_empty() || name.contains(['/', '\\', '\0', '\r', '\n']) || name.len() > 255 {
            report.errors.push(Report::problem(
                "bad_file_name",
                "nome di file non valido (vuoto, con / o \\, o troppo lungo) / invalid file \
                 name (empty, with / or \\, or too long)",
                &[],
                vec![f.name.clone()],
            ));
            continue;
        }
        if !names.insert(name.to_owned()) {
            report.errors.push(Report::problem(
                "duplicate_file",
                "due file con lo stesso nome: rinominane uno / two files with the same name: \
                 rename one",
                &[],
                vec![name.to_owned()],
            ));
            continue;
        }
        let cleaned: String = f.content_base64.split_whitespace().collect();
        match base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) {
            Ok(bytes) => out.push((f.clone(), bytes)),
            Err(_) => report.errors.push(Report::problem(
                "bad_file_content",
                "contenuto non in base64: ricarica il file / content is not base64: upload \
                 the file again",
                &[],
                vec![name.to_owned()],
            )),
        }
    }
    out
}

/// Validates a campaign and composes its messages (nothing is written). Every problem
/// goes into the report at once; `report.ok` tells whether it may be queued.
pub async fn prepare(
    db: &Store,
    org: &str,
    settings: &CampaignSettings,
    req: &CampaignRequest,
) -> Result<Prepared> {
    let mailbox = store::mailbox_facts(db, org, &req.mailbox_id)
        .await?
        .ok_or(Error::NotFound)?;
    let free = match (
        mailbox.quota_total_kb,
        mailbox.quota_used_kb,
        mailbox.quota_bytes,
    ) {
        (Some(total), Some(used), _) => Some((
            u64::try_from(total.saturating_sub(used)).unwrap_or(0) * 1024,
            "imap",
        )),
        (_, _, Some(q)) => {
            let used = store::stored_bytes(db, &mailbox.id).await?;
            Some((
                u64::try_from(q.saturating_sub(used)).unwrap_or(0),
                "configured",
            ))
        }
        _ => None,
    };
    // The mailbox's size limit per message, as the outbox applies it (presets included).
    let max_bytes = crate::outbox::limits(db, &mailbox.id).await?.max_bytes;
    let req = req.clone();
    let settings = settings.clone();
    // Composing 10,000 messages is CPU work: off the async threads.
    let prepared = tokio::task::spawn_blocking(move || {
        check_and_compose(&req, &settings, mailbox, free, max_bytes)
    })
    .await
    .map_err(|e| Error::Internal(anyhow::anyhow!("campaign validation: {e}")))?;
    Ok(prepared)
}

fn check_and_compose(
    req: &CampaignRequest,
    settings: &CampaignSettings,
    mailbox: MailboxFacts,
    free: Option<(u64, &str)>,
    max_bytes: u64,
) -> Prepared {
    let mut report = Report {
        max_recipients: settings.max_recipients,
        max_message_bytes: if max_bytes > 0 {
            max_bytes
        } else {
            DEFAULT_MAX_BYTES
        },
        ..Report::default()
    };
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.contains('\0') {
        report.error(
            "bad_name",
            format!(
                "dai un nome all'invio (al massimo {NAME_MAX} caratteri) / give the send a name \
                 (at most {NAME_MAX} characters)"
            ),
        );
    }
    if !mailbox.smtp_configured {
        report.error(
            "smtp_missing",
            "la casella non ha impostazioni SMTP: un amministratore deve configurare l'invio / \
             the mailbox has no SMTP settings: an administrator must configure sending",
        );
    }
    if req.subject.trim().is_empty() {
        report.error(
            "empty_subject",
            "l'oggetto è vuoto: scrivine uno / the subject is empty: write one",
        );
    }
    let subject = Template::parse(&req.subject)
        .map_err(|e| report.error("bad_template", format!("oggetto / subject: {e}")))
        .ok();
    let body = Template::parse(&req.body)
        .map_err(|e| report.error("bad_template", format!("testo / body: {e}")))
        .ok();

    let recipients = read_csv(&req.csv, &mut report);
    report.recipients = recipients.rows.len();
    report.columns = recipients.columns.clone();
    if recipients.rows.is_empty() && report.errors.iter().all(|p| !p.code.starts_with("csv")) {
        report.error(
            "no_recipients",
            "il CSV non ha destinatari / the CSV has no recipients",
        );
    }
    if recipients.rows.len() > settings.max_recipients {
        report.error(
            "too_many_recipients",
            format!(
                "{} destinatari, al massimo {} per invio: dividi il CSV / {} recipients, at \
                 most {} per send: split the CSV",
                recipients.rows.len(),
                settings.max_recipients,
                recipients.rows.len(),
                settings.max_recipients
            ),
        );
    }

    // Placeholders must name a column.
    let mut unknown: Vec<String> = Vec::new();
    for t in subject.iter().chain(body.iter()) {
        for f in t.fields() {
            if !recipients.columns.iter().any(|c| c == f) && !unknown.iter().any(|u| u == f) {
                unknown.push(f.to_owned());
            }
        }
    }
    if !unknown.is_empty() && !recipients.columns.is_empty() {
        let msg = format!(
            "segnaposto senza colonna nel CSV: {}; colonne disponibili: {} / placeholders \
             without a CSV column: {}; columns available: {}",
            unknown.join(", "),
            recipients.columns.join(", "),
            unknown.join(", "),
            recipients.columns.join(", ")
        );
        report.errors.push(Problem {
            code: "unknown_placeholder".into(),
            message: msg,
            rows: vec![],
            count: unknown.len(),
            names: unknown.clone(),
        });
    }

    // Addresses: valid, once each.
    let mut bad = Vec::new();
    let mut dup = Vec::new();
    let mut first_row: HashMap<String, usize> = HashMap::new();
    for r in &recipients.rows {
        let ok = pecdesk_core::ids::EmailAddress::parse(&r.address).is_ok()
            && r.address.parse::<lettre::Address>().is_ok();
        if !ok {
            bad.push(r.row_no);
            continue;
        }
        let key = r.address.to_lowercase();
        if let std::collections::hash_map::Entry::Vacant(e) = first_row.entry(key) {
            e.insert(r.row_no);
        } else {
            dup.push(r.row_no);
        }
    }
    if !bad.is_empty() {
        report.rows_error(
            "bad_address",
            "indirizzi non validi: correggili nel CSV / invalid addresses: fix them in the CSV",
            &bad,
        );
    }
    if !dup.is_empty() {
        report.rows_error(
            "duplicate_address",
            "indirizzi ripetuti (ognuno riceverebbe più messaggi): toglili dal CSV / repeated \
             addresses (each would get several messages): remove them from the CSV",
            &dup,
        );
    }

    // Empty fields a placeholder uses: a warning (the text would have a hole).
    let used: Vec<&str> = subject
        .iter()
        .chain(body.iter())
        .flat_map(Template::fields)
        .collect();
    let empty_rows: Vec<usize> = recipients
        .rows
        .iter()
        .filter(|r| {
            used.iter()
                .any(|f| r.fields.get(*f).is_some_and(String::is_empty))
        })
        .map(|r| r.row_no)
        .collect();
    if !empty_rows.is_empty() {
        report.rows_warning(
            "empty_field",
            "campi vuoti usati dal testo / empty fields the text uses",
            &empty_rows,
        );
    }

    // Files.
    let files = decode_files(&req.files, &mut report);
    let by_name: HashMap<&str, &(FileInput, Vec<u8>)> =
        files.iter().map(|f| (f.0.name.trim(), f)).collect();
    let mut missing_rows = Vec::new();
    let mut missing_names: Vec<String> = Vec::new();
    let mut named: HashSet<&str> = HashSet::new();
    for r in &recipients.rows {
        for a in &r.attachments {
            named.insert(a);
            if !by_name.contains_key(a.as_str()) {
                if missing_rows.last() != Some(&r.row_no) {
                    missing_rows.push(r.row_no);
                }
                if !missing_names.contains(a) {
                    missing_names.push(a.clone());
                }
            }
        }
    }
    if !missing_rows.is_empty() {
        let mut p = Report::problem(
            "missing_file",
            "file nominati nel CSV ma non caricati: caricali o correggi i nomi / files the CSV \
             names but not uploaded: upload them or fix the names",
            &missing_rows,
            missing_names,
        );
        p.message = format!("{} — {}", p.message, p.names.join(", "));
        report.errors.push(p);
    }
    let unused: Vec<String> = files
        .iter()
        .filter(|(f, _)| !f.common && !named.contains(f.name.trim()))
        .map(|(f, _)| f.name.trim().to_owned())
        .collect();
    if !unused.is_empty() {
        report.warnings.push(Report::problem(
            "unused_file",
            "file caricati che nessuna riga nomina e non comuni: non saranno inviati / files \
             no row names and not common: they will not be sent",
            &[],
            unused,
        ));
    }
    let common: Vec<FilePart> = files
        .iter()
        .filter(|(f, _)| f.common)
        .map(|(f, bytes)| file_part(f, bytes))
        .collect();

    // Compose every message (only when the inputs are sound: the sizes are then exact).
    let mut messages = Vec::new();
    let mut too_large = Vec::new();
    let mut newline_subject = Vec::new();
    let mut compose_failed = Vec::new();
    // Rows already wrong are not composed; the others are, so sizes and quota are checked
    // in the same report.
    let skip: HashSet<usize> = bad
        .iter()
        .chain(&dup)
        .chain(&missing_rows)
        .copied()
        .collect();
    let composable = subject.is_some() && body.is_some();
    if let (Some(subject), Some(body)) = (&subject, &body) {
        messages.reserve(recipients.rows.len());
        for r in recipients.rows.iter().filter(|r| !skip.contains(&r.row_no)) {
            let subj = subject.fill(&r.fields);
            if subj.contains(['\r', '\n']) {
                newline_subject.push(r.row_no);
                continue;
            }
            let text = body.fill(&r.fields);
            let mut parts: Vec<FilePart> = r
                .attachments
                .iter()
                .filter(|a| !common.iter().any(|c| &c.name == *a))
                .filter_map(|a| by_name.get(a.as_str()).map(|(f, b)| file_part(f, b)))
                .collect();
            parts.extend(common.iter().cloned());
            let to = vec![r.address.clone()];
            let out = Outgoing {
                from: &mailbox.address,
                to: &to,
                cc: &[],
                subject: &subj,
                body: &text,
                attachments: &parts,
                in_reply_to: None,
                references: &[],
                receipt: req.receipt_type,
            };
            let id = compose::new_message_id(&mailbox.address);
            match compose::compose(&out, &id) {
                Ok(raw) => {
                    let size = raw.len() as u64;
                    if size > report.max_message_bytes {
                        too_large.push(r.row_no);
                    }
                    let attached: u64 = parts.iter().map(|p| p.content.len() as u64).sum();
                    report.messages_bytes += size;
                    report.largest_message_bytes = report.largest_message_bytes.max(size);
                    report.receipts_bytes += receipts_estimate(req.receipt_type, size, attached);
                    messages.push((r.clone(), id, raw));
                }
                Err(_) => compose_failed.push(r.row_no),
            }
        }
    }
    if !newline_subject.is_empty() {
        report.rows_error(
            "subject_newline",
            "l'oggetto riempito va a capo: togli gli a capo da quei campi / the filled subject \
             breaks the line: remove line breaks from those fields",
            &newline_subject,
        );
    }
    if !compose_failed.is_empty() {
        report.rows_error(
            "compose",
            "messaggio non componibile (tipo di allegato non valido?) / the message cannot be \
             built (invalid attachment type?)",
            &compose_failed,
        );
    }
    if !too_large.is_empty() {
        let msg = format!(
            "messaggi oltre il limite della casella di {} byte: riduci gli allegati / messages \
             over the mailbox's limit of {} bytes: make the attachments smaller",
            report.max_message_bytes, report.max_message_bytes
        );
        report.rows_error("too_large", &msg, &too_large);
    }

    // Quota: the messages plus what their receipts bring back.
    match free {
        Some((free, source)) => {
            report.free_bytes = Some(free);
            report.quota_source = Some(source.to_owned());
            let need = report.messages_bytes + report.receipts_bytes;
            if composable && need > free {
                report.error(
                    "quota",
                    format!(
                        "spazio insufficiente nella casella: servono circa {need} byte (messaggi \
                         e ricevute), liberi {free}: libera spazio o chiedi ricevute brevi o \
                         sintetiche / not enough space in the box: about {need} bytes needed \
                         (messages and receipts), {free} free: free some space or ask for short \
                         or summary receipts"
                    ),
                );
            }
        }
        None => report.warnings.push(Report::problem(
            "quota_unknown",
            "spazio libero della casella sconosciuto (né QUOTA IMAP né quota configurata): \
             controlla che le ricevute ci stiano / the box's free space is unknown (neither \
             IMAP QUOTA nor a configured quota): check the receipts will fit",
            &[],
            vec![],
        )),
    }
    report.ok = report.errors.is_empty();
    Prepared {
        report,
        mailbox: Some(mailbox),
        files,
        messages,
    }
}

fn file_part(f: &FileInput, bytes: &[u8]) -> FilePart {
    FilePart {
        name: f.name.trim().to_owned(),
        content_type: f
            .content_type
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "application/octet-stream".into()),
        content: bytes.to_vec(),
    }
}

/// What one message's receipts bring back into the sender's box: an accettazione and one
/// delivery receipt, which for `completa` carries the whole message again, for `breve` the
/// message without its attachments (base64 makes them 4/3 larger), for `sintetica` nothing.
pub fn receipts_estimate(receipt: ReceiptType, size: u64, attached: u64) -> u64 {
    let carried = match receipt {
        ReceiptType::Completa => size,
        ReceiptType::Breve => size.saturating_sub(attached * 4 / 3),
        ReceiptType::Sintetica => 0,
    };
    2 * RECEIPT_OVERHEAD + carried
}

// ---------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------

/// Recipients per status.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub queued: usize,
    pub sent: usize,
    pub accepted: usize,
    pub delivered: usize,
    pub warned: usize,
    pub failed: usize,
    pub cancelled: usize,
}

impl Counts {
    fn add(&mut self, s: Status) {
        match s {
            Status::Queued => self.queued += 1,
            Status::Sent => self.sent += 1,
            Status::Accepted => self.accepted += 1,
            Status::Delivered => self.delivered += 1,
            Status::Warned => self.warned += 1,
            Status::Failed => self.failed += 1,
            Status::Cancelled => self.cancelled += 1,
        }
    }
}

/// A campaign as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub mailbox_id: String,
    pub name: String,
    pub subject: String,
    pub body: String,
    /// `running`, `paused`, `cancelled`, `done`.
    pub state: String,
    /// `none`, `campaign`, `failures`.
    pub activities: String,
    /// The campaign's own activity (`activities = campaign`).
    pub activity_id: Option<String>,
    pub recipients_total: i64,
    /// Recipients per status (detail only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Counts>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// The validation report (creation only: its warnings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

impl From<CampaignRow> for CampaignView {
    fn from(c: CampaignRow) -> Self {
        Self {
            id: c.id,
            mailbox_id: c.mailbox_id,
            name: c.name,
            subject: c.subject_template,
            body: c.body_template,
            state: c.state,
            activities: c.activities,
            activity_id: c.activity_id,
            recipients_total: c.recipients_total,
            counts: None,
            created_by: c.created_by,
            created_at: ms_to_rfc3339(c.created_at),
            updated_at: ms_to_rfc3339(c.updated_at),
            finished_at: c.finished_at.map(ms_to_rfc3339),
            report: None,
        }
    }
}

/// A recipient's status, read from its outbox row and its receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting to be sent (queued, held by a pause, or being sent).
    Queued,
    /// Handed to the provider; no receipt yet.
    Sent,
    /// The provider's accettazione.
    Accepted,
    /// avvenuta-consegna.
    Delivered,
    /// preavviso di mancata consegna (nothing final yet).
    Warned,
    /// SMTP refusal, non-accettazione or errore-consegna (see `reason`).
    Failed,
    /// Cancelled before it was sent.
    Cancelled,
}

impl Status {
    /// The word of the API and the export.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Accepted => "accepted",
            Status::Delivered => "delivered",
            Status::Warned => "warned",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }

    /// Nothing will change it any more.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::Cancelled)
    }
}

/// One recipient of a campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecipientView {
    /// CSV row (1 = first recipient).
    pub row: i64,
    pub address: String,
    pub status: Status,
    /// Why it failed or was warned (Italian / English, or the provider's words).
    pub reason: Option<String>,
    /// The row's own attachments.
    pub attachments: Vec<String>,
    /// Our Message-ID of its message.
    pub message_id: Option<String>,
    pub outbox_id: Option<String>,
    /// The stored sent copy (a message of the mailbox), once sent.
    pub sent_message_id: Option<String>,
    pub attempts: i64,
    pub queued_at: Option<String>,
    pub sent_at: Option<String>,
    /// The accettazione's certified time.
    pub accepted_at: Option<String>,
    /// The certified time of the receipt deciding a delivered / warned / failed status.
    pub outcome_at: Option<String>,
    /// The receipt deciding the status (a message id).
    pub receipt_id: Option<String>,
    /// The activity opened for its failure (`activities = failures`).
    pub activity_id: Option<String>,
}

fn kind_of(s: &str) -> Option<PecKind> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

/// The status of one recipient from its rows (one per receipt).
fn view_of(rows: &[RecipientReceiptRow]) -> Option<RecipientView> {
    let first = rows.first()?;
    let facts: Vec<ReceiptFacts> = rows
        .iter()
        .filter_map(|r| {
            let id = r.receipt_id.clone()?;
            Some(ReceiptFacts {
                id,
                kind: kind_of(r.kind.as_deref()?)?,
                identificativo: None,
                original_message_id: r.message_id.clone(),
                recipient: r.recipient.clone(),
                recipients: vec![],
                receipt_type: r.receipt_type.clone(),
                error: r.error.clone(),
                error_detail: r.error_detail.clone(),
                virus: r.virus.unwrap_or(false),
                issued_at: r.issued_at.clone(),
            })
        })
        .collect();
    let sent = SentFacts {
        message_id: first.message_id.clone(),
        to: vec![first.address.clone()],
        cc: vec![],
    };
    let rec = reconcile::reconcile(&sent, &facts);
    let me = reconcile::normalize_address(&first.address);
    let delivery = rec
        .delivery
        .iter()
        .find(|d| reconcile::normalize_address(&d.recipient) == me);
    let mut reason = None;
    let mut outcome_at = None;
    let mut receipt_id = None;
    let from_receipts = delivery.and_then(|d| {
        let s = match d.state {
            DeliveryState::Delivered => Status::Delivered,
            DeliveryState::Failed | DeliveryState::Virus => Status::Failed,
            DeliveryState::Warned => Status::Warned,
            DeliveryState::Pending => return None,
        };
        reason.clone_from(&d.reason);
        outcome_at.clone_from(&d.at);
        receipt_id.clone_from(&d.receipt_id);
        Some(s)
    });
    let status = match (from_receipts, rec.accepted) {
        (Some(s), _) => s,
        (None, Some(true)) => Status::Accepted,
        (None, Some(false)) => {
            reason = rec.acceptance.as_ref().and_then(|a| a.reason.clone());
            receipt_id = rec.acceptance.as_ref().map(|a| a.receipt_id.clone());
            outcome_at = rec.acceptance.as_ref().and_then(|a| a.at.clone());
            Status::Failed
        }
        (None, None) => match first.outbox_state.as_deref() {
            Some("sent") => Status::Sent,
            Some("failed") => {
                reason.clone_from(&first.last_error);
                Status::Failed
            }
            Some("cancelled") => Status::Cancelled,
            _ => Status::Queued,
        },
    };
    Some(RecipientView {
        row: first.row_no,
        address: first.address.clone(),
        status,
        reason,
        attachments: serde_json::from_str(&first.attachments).unwrap_or_default(),
        message_id: first.message_id.clone(),
        outbox_id: first.outbox_id.clone(),
        sent_message_id: first.stored_message_id.clone(),
        attempts: first.attempts.unwrap_or(0),
        queued_at: first.created_at.map(ms_to_rfc3339),
        sent_at: first.sent_at.map(ms_to_rfc3339),
        accepted_at: rec.acceptance.filter(|a| a.accepted).and_then(|a| a.at),
        outcome_at,
        receipt_id,
        activity_id: first.activity_id.clone(),
    })
}

/// Every recipient of a campaign with its status, by row (one query).
async fn all_recipients(db: &Store, org: &str, campaign_id: &str) -> Result<Vec<RecipientView>> {
    let rows = store::recipients_with_receipts(db, org, campaign_id, 1, None).await?;
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i].row_no != rows[start].row_no {
            if let Some(v) = view_of(&rows[start..i]) {
                out.push(v);
            }
            start = i;
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Use cases
// ---------------------------------------------------------------------------------------

/// What [`create`] did.
#[derive(Debug)]
pub enum Created {
    /// Queued.
    Queued(Box<CampaignView>),
    /// Refused: the report's errors; nothing was written.
    Refused(Box<Report>),
}

/// Validates only (`POST /api/v1/campaigns/validate`, `--dry-run`).
pub async fn validate(
    db: &Store,
    who: &Principal,
    person: &Person,
    settings: &CampaignSettings,
    req: &CampaignRequest,
) -> Result<Report> {
    authorize(
        person,
        Operation::RunCampaign {
            mailbox_id: &req.mailbox_id,
        },
    )?;
    Ok(prepare(db, &who.org_id, settings, req).await?.report)
}

/// Validates, then queues the campaign in one transaction (see the module doc); a report
/// with errors writes nothing.
pub async fn create(
    db: &Store,
    who: &Principal,
    person: &Person,
    settings: &CampaignSettings,
    req: &CampaignRequest,
) -> Result<Created> {
    authorize(
        person,
        Operation::RunCampaign {
            mailbox_id: &req.mailbox_id,
        },
    )?;
    let prepared = prepare(db, &who.org_id, settings, req).await?;
    if !prepared.report.ok {
        return Ok(Created::Refused(Box::new(prepared.report)));
    }
    let Prepared {
        report,
        mailbox,
        files,
        messages,
    } = prepared;
    let mailbox = mailbox.ok_or(Error::NotFound)?;
    let now = now_ms();
    let org = who.org_id.as_str();
    let row = CampaignRow {
        id: new_id(),
        org_id: org.to_owned(),
        mailbox_id: mailbox.id.clone(),
        name: req.name.trim().to_owned(),
        subject_template: req.subject.clone(),
        body_template: req.body.clone(),
        state: "running".into(),
        activities: req.activities.as_str().into(),
        activity_id: None,
        recipients_total: i64::try_from(messages.len()).unwrap_or(i64::MAX),
        created_by: who.user_id.clone(),
        created_at: now,
        updated_at: now,
        finished_at: None,
    };
    let mut tx = db.begin_write(Chain::Org(org)).await?;
    store::insert(&mut tx, &row).await?;
    for (f, bytes) in &files {
        store::insert_file(
            &mut tx,
            &row.id,
            &FileRow {
                name: f.name.trim(),
                content_type: f
                    .content_type
                    .as_deref()
                    .unwrap_or("application/octet-stream"),
                common: f.common,
                sha256: hex::encode(sha2::Sha256::digest(bytes)),
                content: bytes,
            },
        )
        .await?;
    }
    let mut recipients = Vec::with_capacity(messages.len());
    for (r, message_id, raw) in &messages {
        let to = vec![r.address.to_lowercase()];
        let outbox_id = outbox::enqueue(
            &mut tx,
            &NewOutgoing {
                org_id: org,
                mailbox_id: &mailbox.id,
                message_id,
                origin: Origin::Campaign {
                    campaign_id: &row.id,
                },
                envelope_from: &mailbox.address,
                recipients: &to,
                raw,
                held: false,
                now,
            },
        )
        .await?;
        recipients.push(NewRecipient {
            row_no: i64::try_from(r.row_no).unwrap_or(i64::MAX),
            address: r.address.clone(),
            fields: serde_json::to_string(&r.fields).map_err(|e| Error::Internal(e.into()))?,
            attachments: serde_json::to_string(&r.attachments)
                .map_err(|e| Error::Internal(e.into()))?,
            outbox_id,
        });
    }
    store::insert_recipients(&mut tx, &row.id, &recipients).await?;
    tx.audit(audit::Entry {
        org_id: Some(org),
        actor_id: Some(&who.user_id),
        action: Action::CampaignCreate,
        object_type: "campaign",
        object_id: &row.id,
        details: serde_json::json!({
            "mailbox_id": mailbox.id, "recipients": messages.len(), "files": files.len(),
            "activities": req.activities.as_str(), "receipt_type": req.receipt_type.as_str(),
        }),
    })
    .await?;
    let mut row = row;
    if req.activities == ActivitiesMode::Campaign {
        let a = new_activity(
            &row,
            format!("Invio massivo: {}", row.name),
            format!(
                "Invio massivo di {} messaggi / mass send of {} messages",
                messages.len(),
                messages.len()
            ),
            now,
        );
        store_activities::insert(&mut tx, &a).await?;
        store::set_activity(&mut tx, &row.id, &a.id).await?;
        tx.audit(audit::Entry {
            org_id: Some(org),
            actor_id: Some(&who.user_id),
            action: Action::ActivityCreate,
            object_type: "activity",
            object_id: &a.id,
            details: serde_json::json!({"mailbox_id": row.mailbox_id, "campaign_id": row.id}),
        })
        .await?;
        row.activity_id = Some(a.id);
    }
    tx.commit().await?;
    tracing::info!(campaign.id = %row.id, recipients = messages.len(), "campaign queued");
    let mut view = CampaignView::from(row);
    view.report = Some(report);
    Ok(Created::Queued(Box::new(view)))
}

fn new_activity(c: &CampaignRow, title: String, description: String, now: i64) -> ActivityRow {
    ActivityRow {
        id: new_id(),
        org_id: c.org_id.clone(),
        mailbox_id: c.mailbox_id.clone(),
        title: title.chars().take(crate::limits::TITLE).collect(),
        description,
        priority: "normal".into(),
        due_at: None,
        status: "open".into(),
        flow: "standard".into(),
        assignee_id: None,
        team_id: None,
        approver_id: None,
        category: Some("invio massivo".into()),
        tags: "[]".into(),
        version: 1,
        approved_draft_version: None,
        created_by: c.created_by.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// The campaign, readable by `person` (404 otherwise, other organisations included).
async fn load_readable(
    db: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<CampaignRow> {
    let c = store::get(db, &who.org_id, id)
        .await?
        .ok_or(Error::NotFound)?;
    authorize(
        person,
        Operation::ReadCampaign {
            mailbox_id: &c.mailbox_id,
        },
    )?;
    Ok(c)
}

/// Query of the campaign list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Cursor of the next page.
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// The campaigns of the mailboxes `person` may read, newest first.
pub async fn list(
    db: &Store,
    who: &Principal,
    person: &Person,
    q: &ListQuery,
) -> Result<Page<CampaignView>> {
    let limit = query::page_size(q.limit);
    let after = Cursor::decode(q.cursor.as_deref(), "campaigns")?;
    let readable = person.mailboxes_where(|p| p.can_read_messages());
    let rows = store::list(db, &who.org_id, &readable, after.as_ref(), limit).await?;
    Ok(query::paginate(
        rows,
        limit,
        |r| Cursor::new(r.created_at, &r.id).encode("campaigns"),
        CampaignView::from,
    ))
}

/// A campaign with its counts per status.
pub async fn detail(
    db: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
) -> Result<CampaignView> {
    let c = load_readable(db, who, person, id).await?;
    let mut counts = Counts::default();
    for r in all_recipients(db, &who.org_id, &c.id).await? {
        counts.add(r.status);
    }
    let mut v = CampaignView::from(c);
    v.counts = Some(counts);
    Ok(v)
}

/// Query of a campaign's recipients.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
pub struct RecipientsQuery {
    /// Only this status (`queued`, `sent`, `accepted`, `delivered`, `warned`, `failed`,
    /// `cancelled`).
    pub status: Option<String>,
    /// Cursor of the next page.
    pub cursor: Option<String>,
    /// Page size (1..=200, default 50).
    pub limit: Option<i64>,
}

/// A page of a campaign's recipients, by row.
pub async fn recipients(
    db: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    q: &RecipientsQuery,
) -> Result<Page<RecipientView>> {
    let c = load_readable(db, who, person, id).await?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            Error::invalid(
                "`status`: uno tra queued, sent, accepted, delivered, warned, failed, cancelled \
                 / one of queued, sent, accepted, delivered, warned, failed, cancelled",
            )
        })?),
    };
    let limit = query::page_size(q.limit);
    let after = Cursor::decode(q.cursor.as_deref(), "recipients")?;
    let after_row = after
        .as_ref()
        .map(Cursor::key_i64)
        .transpose()?
        .unwrap_or(0);
    let rows: Vec<RecipientView> = all_recipients(db, &who.org_id, &c.id)
        .await?
        .into_iter()
        .filter(|r| r.row > after_row && status.is_none_or(|s| r.status == s))
        .take(usize::try_from(limit).unwrap_or(50) + 1)
        .collect();
    Ok(query::paginate(
        rows,
        limit,
        |r| Cursor::new(r.row, &c.id).encode("recipients"),
        |r| r,
    ))
}

/// The outcome per recipient as CSV (`riga,indirizzo,stato,motivo,...`).
pub async fn export_csv(db: &Store, who: &Principal, person: &Person, id: &str) -> Result<Vec<u8>> {
    let c = load_readable(db, who, person, id).await?;
    let rows = all_recipients(db, &who.org_id, &c.id).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Error::Internal(e.into());
    w.write_record([
        "riga",
        "indirizzo",
        "stato",
        "motivo",
        "message_id",
        "tentativi",
        "inviato_il",
        "accettato_il",
        "esito_il",
        "ricevuta_id",
        "attivita_id",
    ])
    .map_err(io)?;
    for r in rows {
        w.write_record([
            r.row.to_string(),
            r.address,
            r.status.as_str().to_owned(),
            r.reason.unwrap_or_default(),
            r.message_id.unwrap_or_default(),
            r.attempts.to_string(),
            r.sent_at.unwrap_or_default(),
            r.accepted_at.unwrap_or_default(),
            r.outcome_at.unwrap_or_default(),
            r.receipt_id.unwrap_or_default(),
            r.activity_id.unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    w.into_inner()
        .map_err(|e| Error::Internal(anyhow::anyhow!("csv: {e}")))
}

/// What a pause, resume or cancel does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Queued messages are held.
    Pause,
    /// Held messages are queued again.
    Resume,
    /// Messages not yet sent are cancelled.
    Cancel,
}

/// Pauses, resumes or cancels a campaign (audited). Asking for the state it is already in
/// answers the campaign as it is; a change that makes no sense (resuming a cancelled
/// campaign, anything on a finished one) is a 409.
pub async fn control(
    db: &Store,
    who: &Principal,
    person: &Person,
    id: &str,
    what: Control,
) -> Result<CampaignView> {
    let org = who.org_id.as_str();
    let c = store::get(db, org, id).await?.ok_or(Error::NotFound)?;
    authorize(
        person,
        Operation::ReadCampaign {
            mailbox_id: &c.mailbox_id,
        },
    )?;
    authorize(
        person,
        Operation::RunCampaign {
            mailbox_id: &c.mailbox_id,
        },
    )?;
    let now = now_ms();
    let mut tx = db.begin_write(Chain::Org(org)).await?;
    // Read again under the organisation's lock: concurrent changes apply one after the other.
    let c = store::get_tx(&mut tx, org, id)
        .await?
        .ok_or(Error::NotFound)?;
    let (target, from, to, action): (&str, &[&str], &str, Action) = match what {
        Control::Pause => ("paused", &["queued"], "held", Action::CampaignPause),
        Control::Resume => ("running", &["held"], "queued", Action::CampaignResume),
        Control::Cancel => (
            "cancelled",
            &["queued", "held"],
            "cancelled",
            Action::CampaignCancel,
        ),
    };
    let allowed = match (what, c.state.as_str()) {
        (_, s) if s == target => None,
        (Control::Pause, "running") | (Control::Resume, "paused") => Some(()),
        (Control::Cancel, "running" | "paused") => Some(()),
        _ => {
            return Err(Error::conflict(format!(
                "l'invio è {}: non si può più cambiare / the send is {}: it cannot change any more",
                state_it(&c.state),
                c.state
            )));
        }
    };
    if allowed.is_some() {
        let moved = store::move_outbox(&mut tx, &c.id, from, to, now).await?;
        let finished = (what == Control::Cancel).then_some(now);
        if !store::set_state(&mut tx, &c.id, &c.state, target, finished, now).await? {
            return Err(Error::conflict(
                "l'invio è cambiato nel frattempo: riprova / the send changed meanwhile: try again",
            ));
        }
        tx.audit(audit::Entry {
            org_id: Some(org),
            actor_id: Some(&who.user_id),
            action,
            object_type: "campaign",
            object_id: &c.id,
            details: serde_json::json!({"messages": moved, "from": c.state, "to": target}),
        })
        .await?;
        tx.commit().await?;
        tracing::info!(campaign.id = %c.id, messages = moved, state = target, "campaign changed");
    }
    detail(db, who, person, id).await
}

fn state_it(s: &str) -> &'static str {
    match s {
        "running" => "in corso",
        "paused" => "in pausa",
        "cancelled" => "annullato",
        _ => "concluso",
    }
}

/// What one [`sweep`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Activities opened for failed recipients.
    pub activities: usize,
    /// Campaigns marked done.
    pub done: usize,
}

/// One pass over unfinished campaigns (the outbox worker's loop calls it; `now_ms` is a
/// parameter so tests choose it): one activity per failed recipient for `activities =
/// failures` (created once: `campaign_recipients.activity_id`, linked to the failure
/// receipt when there is one), and campaigns whose every recipient is final (delivered,
/// failed, cancelled) marked `done` (a cancelled one keeps its state and gets its end time).
pub async fn sweep(db: &Store, now_ms: i64) -> Result<SweepReport> {
    let mut out = SweepReport::default();
    for c in store::unfinished(db).await? {
        let rows = all_recipients(db, &c.org_id, &c.id).await?;
        if c.activities == ActivitiesMode::Failures.as_str() {
            for r in rows
                .iter()
                .filter(|r| r.status == Status::Failed && r.activity_id.is_none())
            {
                if failure_activity(db, &c, r, now_ms).await? {
                    out.activities += 1;
                }
            }
        }
        if !rows.is_empty() && rows.iter().all(|r| r.status.is_final()) {
            let mut tx = db.begin_write(Chain::Org(&c.org_id)).await?;
            let (target, finished) = if c.state == "cancelled" {
                ("cancelled", Some(now_ms))
            } else {
                ("done", Some(now_ms))
            };
            if store::set_state(&mut tx, &c.id, &c.state, target, finished, now_ms).await? {
                tx.audit(audit::Entry {
                    org_id: Some(&c.org_id),
                    actor_id: None,
                    action: Action::CampaignDone,
                    object_type: "campaign",
                    object_id: &c.id,
                    details: serde_json::json!({"recipients": rows.len(), "state": target}),
                })
                .await?;
                tx.commit().await?;
                out.done += 1;
                tracing::info!(campaign.id = %c.id, state = target, "campaign finished");
            }
        }
    }
    Ok(out)
}

async fn failure_activity(
    db: &Store,
    c: &CampaignRow,
    r: &RecipientView,
    now: i64,
) -> Result<bool> {
    let mut tx = db.begin_write(Chain::Org(&c.org_id)).await?;
    let a = new_activity(
        c,
        format!("Invio massivo «{}»: non consegnato a {}", c.name, r.address),
        format!(
            "Riga {} del CSV: {} / CSV row {}: {}",
            r.row,
            r.reason.as_deref().unwrap_or("invio fallito"),
            r.row,
            r.reason.as_deref().unwrap_or("send failed")
        ),
        now,
    );
    store_activities::insert(&mut tx, &a).await?;
    if !store::set_recipient_activity(&mut tx, &c.id, r.row, &a.id).await? {
        // Another sweep opened it first: this one is dropped with the transaction.
        return Ok(false);
    }
    let linked: Vec<String> = r.receipt_id.iter().cloned().collect();
    if !linked.is_empty() {
        store_activities::link_messages(&mut tx, &a.id, &linked).await?;
    }
    tx.audit(audit::Entry {
        org_id: Some(&c.org_id),
        actor_id: None,
        action: Action::ActivityCreate,
        object_type: "activity",
        object_id: &a.id,
        details: serde_json::json!({
            "mailbox_id": c.mailbox_id, "campaign_id": c.id, "row": r.row, "message_ids": linked,
        }),
    })
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// `serve --demo`: once (when the demo organisation has no campaign yet), a small mass
/// send from the protocol mailbox as the demo manager, through the in-process simulator:
/// three recipients delivered, an unknown box and a full one failed (one activity each),
/// a slow provider delivered after two minutes; then the campaign is done. Returns its id
/// when it created one.
pub async fn seed_demo(db: &Store, settings: &CampaignSettings) -> Result<Option<String>> {
    let email = pecdesk_core::ids::EmailAddress::parse("responsabile@demo.test")?;
    let Some(u) = crate::store::users::user_by_email(db, &email).await? else {
        return Ok(None);
    };
    let who = Principal {
        user_id: u.id,
        org_id: u.org_id,
        email: u.email,
        name: u.name,
        is_admin: u.is_admin,
        is_auditor: u.is_auditor,
    };
    let person = crate::store::grants::person(db, &who).await?;
    let readable = person.mailboxes_where(|p| p.can_read_messages());
    if !store::list(db, &who.org_id, &readable, None, 1)
        .await?
        .is_empty()
    {
        return Ok(None);
    }
    let Some(mailbox_id) =
        store::mailbox_by_address(db, &who.org_id, crate::demo::PROTOCOLLO).await?
    else {
        return Ok(None);
    };
    use base64::Engine as _;
    let pdf = |text: &str| base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let file = |name: &str, text: &str, common: bool| FileInput {
        name: name.into(),
        content_type: Some("application/pdf".into()),
        content_base64: pdf(text),
        common,
    };
    let req = CampaignRequest {
        mailbox_id,
        name: "Convocazione conferenza dei servizi".into(),
        subject: "Convocazione conferenza dei servizi — pratica {{ pratica }}".into(),
        body: "Spett.le {{ ente }},\nsi trasmette la convocazione per la pratica {{ pratica }}.\n\
               Cordiali saluti.\n"
            .into(),
        receipt_type: ReceiptType::Breve,
        csv: "indirizzo;ente;pratica;allegati\n\
              protocollo@pec.comune.esempio.test;Comune di Esempio;2026/101;verbale-101.pdf\n\
              ufficio.tecnico@pec.provincia.esempio.test;Provincia di Esempio;2026/102;verbale-102.pdf\n\
              segreteria@pec.asl.esempio.test;ASL di Esempio;2026/103;\n\
              inesistente@pec.esempio.test;Ente inesistente;2026/104;\n\
              piena@pec.esempio.test;Ente con casella piena;2026/105;\n\
              lenta@pec.esempio.test;Ente con gestore lento;2026/106;\n"
            .into(),
        files: vec![
            file("convocazione.pdf", "%PDF-1.4 convocazione (demo)", true),
            file("verbale-101.pdf", "%PDF-1.4 verbale 101 (demo)", false),
            file("verbale-102.pdf", "%PDF-1.4 verbale 102 (demo)", false),
        ],
        activities: ActivitiesMode::Failures,
    };
    match create(db, &who, &person, settings, &req).await? {
        Created::Queued(v) => {
            tracing::info!(campaign.id = %v.id, "demo campaign queued");
            Ok(Some(v.id))
        }
        Created::Refused(r) => Err(Error::Internal(anyhow::anyhow!(
            "demo campaign refused: {}",
            r.summary()
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn placeholders_fill_with_spaces_and_any_case() {
        let t =
            Template::parse("Gentile {{ Nome }}, pratica {{pratica}} {single} }}").expect("parses");
        assert_eq!(t.fields(), vec!["nome", "pratica"]);
        assert_eq!(
            t.fill(&fields(&[("nome", "Anna"), ("pratica", "42")])),
            "Gentile Anna, pratica 42 {single} }}"
        );
    }

    #[test]
    fn bad_placeholders_are_refused() {
        assert!(Template::parse("ciao {{ nome").is_err());
        assert!(Template::parse("ciao {{  }}").is_err());
        assert!(Template::parse("ciao {{ a {{ b }}").is_err());
    }

    #[test]
    fn the_csv_reads_semicolons_attachments_and_reports_shapes() {
        let mut r = Report::default();
        let rec = read_csv(
            "Indirizzo;Nome;Allegati\na@pec.test;Anna;\"x.pdf; y.pdf\"\nb@pec.test;Bruno\n",
            &mut r,
        );
        assert_eq!(rec.columns, vec!["indirizzo", "nome"]);
        assert_eq!(rec.rows.len(), 2);
        assert_eq!(rec.rows[0].attachments, vec!["x.pdf", "y.pdf"]);
        assert_eq!(
            rec.rows[1].fields.get("nome").map(String::as_str),
            Some("Bruno")
        );
        assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
        assert_eq!(r.errors[0].code, "csv_columns");
        assert_eq!(r.errors[0].rows, vec![2]);
    }

    #[test]
    fn a_csv_without_an_address_column_is_named() {
        let mut r = Report::default();
        let rec = read_csv("nome,cognome\nA,B\n", &mut r);
        assert!(rec.rows.is_empty());
        assert_eq!(r.errors[0].code, "csv_address_column");
    }

    #[test]
    fn receipts_estimate_follows_the_receipt_type() {
        let full = receipts_estimate(ReceiptType::Completa, 1_000_000, 700_000);
        let short = receipts_estimate(ReceiptType::Breve, 1_000_000, 700_000);
        let summary = receipts_estimate(ReceiptType::Sintetica, 1_000_000, 700_000);
        assert!(full > short && short > summary, "{full} {short} {summary}");
        assert_eq!(summary, 2 * RECEIPT_OVERHEAD);
    }
}
