//! A PEC provider simulator (`pecdesk simulate`; in-process in `serve --demo` and in the
//! tests): SMTP submission with authentication on loopback, the provider's receipts in the
//! formats of PEC.md signed with a test CA, transport envelopes delivered into the
//! recipients' Maildirs, and the delays, failures and throttles real providers have.
//!
//! Per submission (one SMTP transaction) the provider writes, before answering `250`:
//! - into the sender's box one `accettazione`, or one `non-accettazione` and nothing else
//!   when the submission breaks a rule ([`Submission::reason`]: `bcc`, `too-many-recipients`,
//!   `too-large`, `virus`);
//! - per recipient, by its [`Behaviour`]: the transport envelope into the recipient's box
//!   and an `avvenuta-consegna` (completa, breve or sintetica as `X-TipoRicevuta` asks; Cc
//!   recipients get sintetica) into the sender's, or an `errore-consegna`; delayed and
//!   unanswered deliveries are written when the simulated clock reaches them.
//!
//! Every file is `multipart/signed` with a CMS signature of the provider certificate
//! (`companion/simulator/`, TEST ONLY); the identificativo is the same in the envelope and
//! every receipt of a submission. Logs carry ids and counts, never addresses or subjects.

pub mod cli;
mod clock;
pub mod inprocess;
mod maildir;
mod provider;
mod sign;
mod smtp;

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use pecdesk_core::signature::Provider;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::ClockMode;
pub use sign::Identity;

use clock::Clock;
use provider::{Accepted, Errore, Gestore, Kind, Notice};
use sign::Signer;

use crate::outbox::compose::ReceiptType;

/// The EICAR anti-virus test string: a submission carrying it is refused as a virus.
pub const EICAR: &str = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Extended error of an unknown recipient (daticert `errore-esteso`).
pub const ERR_UNKNOWN: &str = "5.1.1 - casella inesistente";
/// Extended error of a full box.
pub const ERR_FULL_BOX: &str = "5.2.2 - casella piena";
/// Extended error of the final failure after the receiving provider did not answer.
pub const ERR_TIMEOUT: &str = "5.4.7 - tempo massimo di consegna superato";
/// Extended error of the 12 h warning.
pub const ERR_PREAVVISO: &str = "4.4.7 - consegna non ancora avvenuta";

/// An SMTP account of the simulated provider (one PEC box).
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// The box's address (also the SMTP user name).
    pub address: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("address", &self.address)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// What happens to a message for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Delivered at once; `avvenuta-consegna` to the sender.
    #[default]
    Deliver,
    /// No such box: `errore-consegna` (`no-dest`, [`ERR_UNKNOWN`]).
    Unknown,
    /// The box is full: `errore-consegna` ([`ERR_FULL_BOX`]).
    FullBox,
    /// Delivered, with its `avvenuta-consegna`, after this simulated time.
    Delay(Duration),
    /// The receiving provider never answers: `preavviso-errore-consegna` after
    /// [`SimConfig::preavviso_after`], the final `errore-consegna` after
    /// [`SimConfig::final_after`].
    NoAnswer,
}

/// The provider's limits (Aruba's by default: 500 recipients, 100 MB, no rate limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most recipients (To + Cc) of one message.
    pub max_recipients: usize,
    /// Largest message, bytes.
    pub max_bytes: u64,
    /// Most messages per account per (simulated) minute; more get `451 4.7.1`.
    pub per_minute: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_recipients: 500,
            max_bytes: 100 * 1024 * 1024,
            per_minute: None,
        }
    }
}

/// The simulator's configuration.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// SMTP listen address (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// Receipts come from `posta-certificata@<it>`; ids end `@<it>` (default `sim.pec.test`).
    pub provider_domain: String,
    /// daticert `gestore-emittente` (default `Simulatore PEC PecDesk`).
    pub provider_name: String,
    /// SMTP AUTH users.
    pub accounts: Vec<Account>,
    /// Each box is `{mail_root}/{address lower-case}/Maildir/{new,cur,tmp}`.
    pub mail_root: PathBuf,
    /// uid and gid for written files and folders (a test Dovecot serves mail as another uid).
    pub owner: Option<(u32, u32)>,
    /// Per recipient address; [`Behaviour::Deliver`] when absent.
    pub behaviours: HashMap<String, Behaviour>,
    /// Recipients, size and rate limits.
    pub limits: Limits,
    /// When an unanswered delivery gets its warning (12 h).
    pub preavviso_after: Duration,
    /// When an unanswered delivery gets its final failure (24 h).
    pub final_after: Duration,
    /// How time passes.
    pub clock: ClockMode,
    /// `None`: the committed test identity ([`Identity::test`]).
    pub identity: Option<Identity>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            provider_domain: "sim.pec.test".to_owned(),
            provider_name: "Simulatore PEC PecDesk".to_owned(),
            accounts: Vec::new(),
            mail_root: std::env::temp_dir().join("pecdesk-sim"),
            owner: None,
            behaviours: HashMap::new(),
            limits: Limits::default(),
            preavviso_after: Duration::from_secs(12 * 3600),
            final_after: Duration::from_secs(24 * 3600),
            clock: ClockMode::System,
            identity: None,
        }
    }
}

/// One submission the simulator received (accepted or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The client's Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The sender (the authenticated account), lower case.
    pub from: String,
    /// The SMTP recipients (RCPT TO), lower case.
    pub recipients: Vec<String>,
    /// Whether the provider accepted it (`accettazione`).
    pub accepted: bool,
    /// Why not: `bcc`, `too-many-recipients`, `too-large`, `virus`, `throttled` (refused with
    /// `451` at MAIL FROM, no message read).
    pub reason: Option<String>,
    /// The PEC id given (None for a throttled attempt).
    pub identificativo: Option<String>,
    /// Simulated time of the submission.
    pub at: DateTime<Utc>,
}

/// One file the simulator wrote into a box (see [`Simulator::written`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The box (lower case).
    pub address: String,
    /// The file in its `Maildir/new`.
    pub path: PathBuf,
    /// Its PEC kind (`posta-certificata`, `accettazione`, `avvenuta-consegna`, ...).
    pub kind: &'static str,
    /// The identificativo of the submission it belongs to.
    pub identificativo: String,
}

/// The trust-list entry of a simulated provider: its CA, `O=` and domain. What a companion
/// adds to its anchors to certify the simulator's mail (demo and simulation mode only).
pub fn trust_provider(name: &str, domain: &str, ca_pem: &str) -> anyhow::Result<Provider> {
    let ca = sign::pem_der(ca_pem)?;
    Ok(Provider {
        name: format!("{name} (solo test / test only)"),
        names: vec![name.to_owned(), DEFAULT_NAME.to_owned()],
        organisations: vec![TEST_ORGANISATION.to_owned()],
        domains: vec![domain.to_ascii_lowercase()],
        certificates: vec![ca],
        source: "companion/simulator/ca.pem (pecdesk simulate, TEST ONLY)".to_owned(),
    })
}

/// The default simulator's entry ([`trust_provider`] with the defaults and the test CA).
pub fn default_trust_provider() -> anyhow::Result<Provider> {
    let d = SimConfig::default();
    trust_provider(
        &d.provider_name,
        &d.provider_domain,
        &Identity::test().ca_pem,
    )
}

const DEFAULT_NAME: &str = "Simulatore PEC PecDesk";
/// `O=` of the committed provider certificate.
const TEST_ORGANISATION: &str = "Simulatore PEC PecDesk";

/// A running simulator. Dropping it stops it; [`Simulator::stop`] waits for that.
#[derive(Debug)]
pub struct Simulator {
    inner: Arc<Inner>,
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) accounts: Vec<Account>,
    pub(crate) limits: Limits,
    mail_root: PathBuf,
    owner: Option<(u32, u32)>,
    preavviso_after: Duration,
    final_after: Duration,
    pub(crate) gestore: Gestore,
    signer: SignerBox,
    ca_pem: String,
    clock: Clock,
    state: Mutex<State>,
    events: tokio::sync::broadcast::Sender<Written>,
}

/// The signer holds a private key: kept out of `Debug`.
struct SignerBox(Signer);

impl std::fmt::Debug for SignerBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer")
    }
}

#[derive(Debug, Default)]
struct State {
    behaviours: HashMap<String, Behaviour>,
    submissions: Vec<Submission>,
    pending: Vec<Pending>,
    /// Per account, the simulated times of its recent MAIL FROMs (throttle window).
    recent: HashMap<String, VecDeque<DateTime<Utc>>>,
    seq: u64,
}

#[derive(Debug)]
struct Pending {
    due: DateTime<Utc>,
    submission: Arc<Accepted>,
    recipient: String,
    action: Later,
}

#[derive(Debug, Clone, Copy)]
enum Later {
    /// Deliver the envelope and send the avvenuta-consegna of this type.
    Deliver(ReceiptType),
    Preavviso,
    FinalFailure,
}

/// What DATA's answer says.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub accepted: bool,
    pub identificativo: String,
    pub reason: Option<&'static str>,
}

impl Simulator {
    /// Binds the SMTP listener and starts serving.
    pub async fn start(cfg: SimConfig) -> anyhow::Result<Simulator> {
        let identity = cfg.identity.clone().unwrap_or_else(Identity::test);
        let signer = Signer::load(&identity)?;
        std::fs::create_dir_all(&cfg.mail_root).map_err(|e| {
            anyhow::anyhow!(
                "impossibile creare / cannot create {}: {e}",
                cfg.mail_root.display()
            )
        })?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| anyhow::anyhow!("SMTP: cannot listen on {}: {e}", cfg.listen))?;
        let addr = listener.local_addr()?;
        let behaviours = cfg
            .behaviours
            .iter()
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), *v))
            .collect();
        let inner = Arc::new(Inner {
            accounts: cfg.accounts.clone(),
            limits: cfg.limits,
            mail_root: cfg.mail_root.clone(),
            owner: cfg.owner,
            preavviso_after: cfg.preavviso_after,
            final_after: cfg.final_after,
            gestore: Gestore {
                name: cfg.provider_name.clone(),
                domain: cfg.provider_domain.to_ascii_lowercase(),
            },
            signer: SignerBox(signer),
            ca_pem: identity.ca_pem.clone(),
            clock: Clock::new(cfg.clock),
            state: Mutex::new(State {
                behaviours,
                ..State::default()
            }),
            events: tokio::sync::broadcast::channel(4096).0,
        });
        let (shutdown, watcher) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(smtp::accept_loop(
            inner.clone(),
            listener,
            watcher.clone(),
        ))];
        if let Some(tick) = inner.clock.real_wait(Duration::from_secs(1)) {
            // Scaled clocks look often enough that a simulated hour is not missed.
            let tick = tick.clamp(Duration::from_millis(50), Duration::from_secs(1));
            tasks.push(tokio::spawn(ticker(inner.clone(), tick, watcher)));
        }
        tracing::info!(smtp.addr = %addr, "PEC simulator accepting SMTP submissions");
        Ok(Simulator {
            inner,
            addr,
            shutdown,
            tasks,
        })
    }

    /// The SMTP address (the listener is bound: connect at once).
    pub fn smtp_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The simulated time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Moves the clock on by `by` and writes everything now due before returning.
    pub async fn advance(&self, by: Duration) {
        self.inner.clock.advance(by);
        let inner = self.inner.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || inner.run_due()).await {
            tracing::error!(error = %e, "simulator: due deliveries failed");
        }
    }

    /// Every submission received, accepted or refused (for counting in tests).
    pub fn submissions(&self) -> Vec<Submission> {
        self.inner.state().submissions.clone()
    }

    /// Sets what happens to messages for `address` from now on.
    pub fn set_behaviour(&self, address: &str, b: Behaviour) {
        self.inner
            .state()
            .behaviours
            .insert(address.trim().to_ascii_lowercase(), b);
    }

    /// PEM of the CA that signs the provider certificate (what a companion trusts).
    pub fn ca_pem(&self) -> String {
        self.inner.ca_pem.clone()
    }

    /// This simulator's trust-list entry (see [`trust_provider`]).
    pub fn trust_provider(&self) -> anyhow::Result<Provider> {
        trust_provider(
            &self.inner.gestore.name,
            &self.inner.gestore.domain,
            &self.inner.ca_pem,
        )
    }

    /// Every file written from now on, as it is written (in-process consumers such as a
    /// demo that imports the receipts at once; a slow reader misses the oldest, see
    /// `tokio::sync::broadcast`).
    pub fn written(&self) -> tokio::sync::broadcast::Receiver<Written> {
        self.inner.events.subscribe()
    }

    /// Deliveries and receipts still waiting for the clock.
    pub fn pending(&self) -> usize {
        self.inner.state().pending.len()
    }

    /// Stops listening, ends the open sessions and waits for them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn ticker(inner: Arc<Inner>, tick: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => return,
        }
        let due = {
            let now = inner.clock.now();
            inner.state().pending.iter().any(|p| p.due <= now)
        };
        if due {
            let inner = inner.clone();
            let _ = tokio::task::spawn_blocking(move || inner.run_due()).await;
        }
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn account(&self, user: &str, password: &str) -> Option<String> {
        self.accounts
            .iter()
            .find(|a| a.address.eq_ignore_ascii_case(user.trim()) && a.password == password)
            .map(|a| a.address.to_ascii_lowercase())
    }

    /// Takes one slot of `account`'s per-minute budget; false when it is spent (the attempt
    /// is recorded as a refused submission).
    pub(crate) fn take_slot(&self, account: &str) -> bool {
        let Some(limit) = self.limits.per_minute else {
            return true;
        };
        let now = self.clock.now();
        let mut state = self.state();
        let window = state.recent.entry(account.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|t| *t <= now - chrono::Duration::seconds(60))
        {
            window.pop_front();
        }
        if window.len() < limit as usize {
            window.push_back(now);
            return true;
        }
        state.submissions.push(Submission {
            message_id: None,
            from: account.to_owned(),
            recipients: Vec::new(),
            accepted: false,
            reason: Some("throttled".to_owned()),
            identificativo: None,
            at: now,
        });
        tracing::info!("simulator: submission throttled");
        false
    }

    fn next_seq(&self) -> (u64, u32) {
        let mut state = self.state();
        state.seq += 1;
        (state.seq, rand::random::<u32>() % 1000)
    }

    fn new_identificativo(&self, at: DateTime<Utc>) -> String {
        let (seq, r) = self.next_seq();
        format!(
            "opec{}.{}.{}.{r}.1.{seq}@{}",
            std::process::id() % 1000,
            at.format("%Y%m%d%H%M%S"),
            seq,
            self.gestore.domain
        )
    }

    fn new_notice_id(&self, kind: &str, at: DateTime<Utc>) -> String {
        let (seq, r) = self.next_seq();
        format!(
            "{kind}.{}.{seq}.{r}@{}",
            at.format("%Y%m%d%H%M%S"),
            self.gestore.domain
        )
    }

    fn write(&self, to: &str, kind: Kind, n: NoticeArgs<'_>, s: &Accepted) -> anyhow::Result<()> {
        let id = match kind {
            Kind::PostaCertificata => s.identificativo.clone(),
            other => self.new_notice_id(short(other), n.at),
        };
        let raw = provider::build(
            &self.gestore,
            &self.signer.0,
            &Notice {
                kind,
                submission: s,
                consegna: n.consegna,
                errore: n.errore,
                errore_esteso: n.errore_esteso,
                at: n.at,
                message_id: &id,
            },
        )?;
        let path = maildir::deliver(&self.mail_root, self.owner, to, &raw)?;
        // Nobody listening is fine.
        let _ = self.events.send(Written {
            address: to.to_ascii_lowercase(),
            path,
            kind: kind.wire(),
            identificativo: s.identificativo.clone(),
        });
        Ok(())
    }

    /// Handles one message after DATA: judges it, writes the acceptance (or the
    /// non-acceptance) and what is due now for each recipient. An error means nothing was
    /// certified (the client may retry).
    pub(crate) fn submit(
        &self,
        sender: &str,
        recipients: Vec<String>,
        raw: Vec<u8>,
        too_large: bool,
    ) -> anyhow::Result<Outcome> {
        let now = self.clock.now();
        let headers = provider::read_headers(&raw);
        let identificativo = self.new_identificativo(now);
        let mut rcpts: Vec<String> = Vec::with_capacity(recipients.len());
        for r in recipients {
            if !rcpts.contains(&r) {
                rcpts.push(r);
            }
        }
        let visible: HashSet<&str> = headers
            .to
            .iter()
            .chain(&headers.cc)
            .map(String::as_str)
            .collect();
        let reason = if too_large || raw.len() as u64 > self.limits.max_bytes {
            Some("too-large")
        } else if rcpts.len() > self.limits.max_recipients
            || headers.to.len() + headers.cc.len() > self.limits.max_recipients
        {
            Some("too-many-recipients")
        } else if rcpts.iter().any(|r| !visible.contains(r.as_str())) {
            Some("bcc")
        } else if memchr_eicar(&raw) {
            Some("virus")
        } else {
            None
        };
        let accepted = Arc::new(Accepted {
            raw,
            sender: sender.to_owned(),
            to: headers.to,
            cc: headers.cc,
            subject: headers.subject,
            message_id: headers.message_id,
            receipt_type: headers.receipt_type,
            identificativo: identificativo.clone(),
        });
        let record = |accepted_flag: bool| Submission {
            message_id: accepted.message_id.clone(),
            from: sender.to_owned(),
            recipients: rcpts.clone(),
            accepted: accepted_flag,
            reason: reason.map(str::to_owned),
            identificativo: Some(identificativo.clone()),
            at: now,
        };
        if let Some(reason) = reason {
            let virus = reason == "virus";
            let text = match reason {
                "too-large" => format!(
                    "messaggio troppo grande (massimo {} byte) / message too large",
                    self.limits.max_bytes
                ),
                "too-many-recipients" => format!(
                    "troppi destinatari (massimo {}) / too many recipients",
                    self.limits.max_recipients
                ),
                "bcc" => "destinatari in copia nascosta (Bcc) non ammessi nella PEC / \
                          Bcc recipients are not allowed in PEC"
                    .to_owned(),
                _ => "virus informatico rilevato / virus detected".to_owned(),
            };
            self.write(
                sender,
                Kind::NonAccettazione { virus },
                NoticeArgs {
                    consegna: None,
                    errore: if virus { Errore::Virus } else { Errore::Altro },
                    errore_esteso: Some(&text),
                    at: now,
                },
                &accepted,
            )?;
            self.state().submissions.push(record(false));
            tracing::info!(pec.id = %identificativo, reason, "simulator: submission not accepted");
            return Ok(Outcome {
                accepted: false,
                identificativo,
                reason: Some(reason),
            });
        }
        self.write(sender, Kind::Accettazione, NoticeArgs::at(now), &accepted)?;
        // From here the submission is certified: it is recorded before anything else can fail.
        self.state().submissions.push(record(true));
        let behaviours: Vec<Behaviour> = {
            let state = self.state();
            rcpts
                .iter()
                .map(|r| state.behaviours.get(r).copied().unwrap_or_default())
                .collect()
        };
        let mut delivered = 0usize;
        for (rcpt, behaviour) in rcpts.iter().zip(behaviours) {
            let tipo = self.tipo_for(&accepted, rcpt);
            let result = match behaviour {
                Behaviour::Deliver => {
                    delivered += 1;
                    self.deliver(&accepted, rcpt, tipo, now)
                }
                Behaviour::Unknown => {
                    self.failure(&accepted, rcpt, Errore::NoDest, ERR_UNKNOWN, now)
                }
                Behaviour::FullBox => {
                    self.failure(&accepted, rcpt, Errore::Altro, ERR_FULL_BOX, now)
                }
                Behaviour::Delay(d) => {
                    self.schedule(
                        &accepted,
                        rcpt,
                        now + clock::to_chrono(d),
                        Later::Deliver(tipo),
                    );
                    Ok(())
                }
                Behaviour::NoAnswer => {
                    let p = now + clock::to_chrono(self.preavviso_after);
                    let f = now + clock::to_chrono(self.final_after);
                    self.schedule(&accepted, rcpt, p, Later::Preavviso);
                    self.schedule(&accepted, rcpt, f, Later::FinalFailure);
                    Ok(())
                }
            };
            if let Err(e) = result {
                tracing::error!(pec.id = %identificativo, error = %e, "simulator: delivery failed");
            }
        }
        // A zero delay is due now, whatever the clock.
        self.run_due();
        tracing::info!(
            pec.id = %identificativo,
            recipients = rcpts.len(),
            delivered,
            "simulator: submission accepted"
        );
        Ok(Outcome {
            accepted: true,
            identificativo,
            reason: None,
        })
    }

    /// Cc recipients get sintetica; To recipients what the sender asked.
    fn tipo_for(&self, s: &Accepted, rcpt: &str) -> ReceiptType {
        if !s.to.iter().any(|t| t == rcpt) && s.cc.iter().any(|c| c == rcpt) {
            ReceiptType::Sintetica
        } else {
            s.receipt_type
        }
    }

    fn deliver(
        &self,
        s: &Accepted,
        rcpt: &str,
        tipo: ReceiptType,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.write(rcpt, Kind::PostaCertificata, NoticeArgs::at(at), s)?;
        self.write(
            &s.sender,
            Kind::AvvenutaConsegna(tipo),
            NoticeArgs {
                consegna: Some(rcpt),
                ..NoticeArgs::at(at)
            },
            s,
        )
    }

    fn failure(
        &self,
        s: &Accepted,
        rcpt: &str,
        errore: Errore,
        text: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.write(
            &s.sender,
            Kind::ErroreConsegna,
            NoticeArgs {
                consegna: Some(rcpt),
                errore,
                errore_esteso: Some(text),
                at,
            },
            s,
        )
    }

    fn schedule(&self, s: &Arc<Accepted>, rcpt: &str, due: DateTime<Utc>, action: Later) {
        self.state().pending.push(Pending {
            due,
            submission: s.clone(),
            recipient: rcpt.to_owned(),
            action,
        });
    }

    /// Writes everything due by now, oldest first.
    fn run_due(&self) {
        let now = self.clock.now();
        let mut due: Vec<Pending> = {
            let mut state = self.state();
            let (due, later) = std::mem::take(&mut state.pending)
                .into_iter()
                .partition(|p| p.due <= now);
            state.pending = later;
            due
        };
        due.sort_by_key(|p| p.due);
        for p in due {
            let s = &p.submission;
            let result = match p.action {
                Later::Deliver(tipo) => self.deliver(s, &p.recipient, tipo, p.due),
                Later::Preavviso => self.write(
                    &s.sender,
                    Kind::PreavvisoErroreConsegna,
                    NoticeArgs {
                        consegna: Some(&p.recipient),
                        errore: Errore::Altro,
                        errore_esteso: Some(ERR_PREAVVISO),
                        at: p.due,
                    },
                    s,
                ),
                Later::FinalFailure => {
                    self.failure(s, &p.recipient, Errore::Altro, ERR_TIMEOUT, p.due)
                }
            };
            if let Err(e) = result {
                tracing::error!(pec.id = %s.identificativo, error = %e, "simulator: due notice failed");
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct NoticeArgs<'a> {
    consegna: Option<&'a str>,
    errore: Errore,
    errore_esteso: Option<&'a str>,
    at: DateTime<Utc>,
}

impl NoticeArgs<'_> {
    fn at(at: DateTime<Utc>) -> Self {
        Self {
            consegna: None,
            errore: Errore::Nessuno,
            errore_esteso: None,
            at,
        }
    }
}

fn short(kind: Kind) -> &'static str {
    match kind {
        Kind::PostaCertificata => "posta",
        Kind::Accettazione => "accettazione",
        Kind::NonAccettazione { .. } => "non-accettazione",
        Kind::AvvenutaConsegna(_) => "consegna",
        Kind::ErroreConsegna => "errore-consegna",
        Kind::PreavvisoErroreConsegna => "preavviso",
    }
}

/// The EICAR string in the message as sent or in any decoded part (attachments travel in
/// base64).
fn memchr_eicar(raw: &[u8]) -> bool {
    let needle = EICAR.as_bytes();
    let contains = |b: &[u8]| b.windows(needle.len()).any(|w| w == needle);
    contains(raw)
        || mail_parser::MessageParser::default()
            .parse(raw)
            .is_some_and(|m| m.parts.iter().any(|p| contains(p.contents())))
}
