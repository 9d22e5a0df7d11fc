//! The audit log (registro): append-only, one hash chain per organisation plus one for
//! system actions (entries of no organisation). All the audit SQL lives here.
//!
//! Entry `n` of a chain stores `prev_hash` (the hash of entry `n-1` of the same chain, 64
//! zeros for the first) and `hash = SHA-256(prev_hash | seq | at | org | actor | action |
//! object_type | object_id | details)`, `seq` counting within the chain. `audit_heads`
//! holds each chain's last `(seq, hash)`. Changing, removing or reordering any stored entry
//! breaks its chain at that entry, which [`verify`] names. Catalogue of the actions, the
//! format and the 0005 migration: `docs/audit.md`.

use sha2::{Digest, Sha256};

use anyhow::anyhow;

use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain head as read (and locked) at the start of a write transaction.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Sequence number of the last entry (0 when empty).
    pub seq: i64,
    /// Hash of the last entry.
    pub hash: String,
}

/// The key of the system chain in `audit_log.chain` and `audit_heads.chain` (organisation
/// chains are keyed by the organisation id, a UUID, so the two never collide).
pub const SYSTEM_CHAIN: &str = "system";

/// Which hash chain a write transaction appends to: one per organisation, one for system
/// actions (those of no organisation, like a signing-key rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chain<'a> {
    /// The chain of this organisation.
    Org(&'a str),
    /// The chain of system actions.
    System,
}

impl<'a> Chain<'a> {
    /// The chain's key as stored: the organisation id, or [`SYSTEM_CHAIN`].
    pub fn key(self) -> &'a str {
        match self {
            Chain::Org(org) => org,
            Chain::System => SYSTEM_CHAIN,
        }
    }

    /// The chain of a stored key.
    pub fn from_key(key: &'a str) -> Self {
        if key == SYSTEM_CHAIN {
            Chain::System
        } else {
            Chain::Org(key)
        }
    }

    /// The chain an entry of this organisation (None: system) belongs to.
    pub fn of_org(org_id: Option<&'a str>) -> Self {
        org_id.map_or(Chain::System, Chain::Org)
    }

    /// The organisation whose entries the chain holds (None for the system chain).
    pub fn org(self) -> Option<&'a str> {
        match self {
            Chain::Org(org) => Some(org),
            Chain::System => None,
        }
    }
}

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chain::Org(org) => write!(f, "org {org}"),
            Chain::System => f.write_str("sistema / system"),
        }
    }
}

/// Declares [`Action`] with its dotted wire names, in one table.
macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// Every action the audit log records. The dotted names are stable: statistics and
        /// preservation exports read them (catalogue in `docs/audit.md`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, in catalogue order.
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The dotted name stored in the log (`activity.transition`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// Parses a stored name.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.as_str() == s)
            }
        }
    };
}

actions! {
    /// A message was imported into a mailbox.
    MessageImport => "message.import",
    /// A message was taken in charge (presa in carico).
    MessageTake => "message.take",
    /// A message was moved to the trash.
    MessageTrash => "message.trash",
    /// A message was restored from the trash.
    MessageRestore => "message.restore",
    /// A message's folder, category or tags were changed (old and new values).
    MessageClassify => "message.classify",
    /// Trashed messages of a mailbox outside its retention were purged (tombstones; count,
    /// hashes, reason).
    MailboxPurge => "mailbox.purge",
    /// An activity was created.
    ActivityCreate => "activity.create",
    /// An activity's fields were edited (names of the changed fields in the details).
    ActivityUpdate => "activity.update",
    /// An activity moved along its flow.
    ActivityTransition => "activity.transition",
    /// Approval of the draft was requested.
    ActivityApprovalRequest => "activity.approval_request",
    /// The approver decided (approve or request changes).
    ActivityApproval => "activity.approval",
    /// The draft was sent and the activity closed.
    ActivitySend => "activity.send",
    /// A message was linked to an activity.
    ActivityLinkMessage => "activity.link_message",
    /// A comment was added.
    CommentCreate => "comment.create",
    /// A comment was edited (the old text is kept).
    CommentEdit => "comment.edit",
    /// The reply draft was written (a new version).
    DraftUpdate => "draft.update",
    /// The organisation's identity-provider settings were changed.
    AuthIdpSettings => "auth.idp_settings",
    /// A user signed in.
    AuthSignIn => "auth.sign_in",
    /// A user signed out (their session ended).
    AuthLogout => "auth.logout",
    /// A refresh token was used twice: the whole session was revoked.
    AuthRefreshReuse => "auth.refresh_reuse",
    /// A disabled user's session was revoked.
    AuthUserDisabled => "auth.user_disabled",
    /// The companion's token-signing key was rotated (system chain).
    AuthSigningKeyRotated => "auth.signing_key_rotated",
    /// A user was created at first sign-in from the provider's claims.
    UserProvisioned => "user.provisioned",
    /// An administrator created a user (the details: the administrator flag; never the
    /// address).
    UserCreate => "user.create",
    /// An administrator changed a user: name, administrator flag, disabled or enabled
    /// again (the names of the fields and the new flags in the details). Users are never
    /// deleted.
    UserUpdate => "user.update",
    /// The demo data were seeded.
    DemoSeed => "demo.seed",
    /// A mailbox was created by an administrator (API or `pecdesk mailbox add`).
    MailboxCreate => "mailbox.create",
    /// A mailbox's settings were changed (names of the fields, never values or secrets).
    MailboxUpdate => "mailbox.update",
    /// The archive policy expunged stored messages from the provider's box (system: counts
    /// and bytes freed, never subjects).
    MailboxArchiveExpunge => "mailbox.archive_expunge",
    /// A team was created.
    TeamCreate => "team.create",
    /// A team was renamed or made external/internal.
    TeamUpdate => "team.update",
    /// A user joined a team.
    TeamMemberAdd => "team.member_add",
    /// A user left a team.
    TeamMemberRemove => "team.member_remove",
    /// A policy on a mailbox was granted to a user or a team.
    GrantAdd => "grant.add",
    /// A grant was revoked (access removed; no message is touched).
    GrantRevoke => "grant.revoke",
    /// A byte-different copy of a stored PEC was kept as its variant.
    MessageVariant => "message.variant",
    /// A message was set worked (by hand, or when the last of its activities closed:
    /// `"auto": true` in the details).
    MessageWorked => "message.worked",
    /// A manager undid "worked" on a message.
    MessageUnworked => "message.unworked",
    /// A routing rule was created.
    RuleCreate => "rule.create",
    /// A routing rule was changed.
    RuleUpdate => "rule.update",
    /// A routing rule was deleted (kept, marked deleted).
    RuleDelete => "rule.delete",
    /// The routing rules were put in a new order.
    RuleReorder => "rule.reorder",
    /// A message was routed (by a rule: no actor, the rule in the details; or by hand).
    MessageRoute => "message.route",
    /// A mass send was created and queued (counts and ids only).
    CampaignCreate => "campaign.create",
    /// A mass send was paused (its queued messages held).
    CampaignPause => "campaign.pause",
    /// A paused mass send was resumed.
    CampaignResume => "campaign.resume",
    /// A mass send was cancelled (its messages not yet sent cancelled).
    CampaignCancel => "campaign.cancel",
    /// Every recipient of a mass send reached a final state (system).
    CampaignDone => "campaign.done",
    /// A webhook subscription was created (format, event names; never the URL or secret).
    WebhookCreate => "webhook.create",
    /// A webhook subscription was changed (names of the fields).
    WebhookUpdate => "webhook.update",
    /// A webhook subscription was deleted (kept, marked deleted).
    WebhookDelete => "webhook.delete",
    /// A webhook delivery was queued again by an administrator.
    WebhookRedeliver => "webhook.redeliver",
    /// An alarm fired (system): claimed by exactly one replica, its e-mails queued.
    AlarmFire => "alarm.fire",
    /// A recipient or supervisor acknowledged an alarm.
    AlarmAck => "alarm.ack",
    /// An evidence pack (messages, receipts, audit segment) was exported.
    EvidenceExport => "evidence.export",
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit record to append.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Organisation the action belongs to (None for system actions).
    pub org_id: Option<&'a str>,
    /// Who acted (None for the system).
    pub actor_id: Option<&'a str>,
    /// What was done.
    pub action: Action,
    /// `activity`, `message`, `comment`, ...
    pub object_type: &'a str,
    /// The object's id.
    pub object_id: &'a str,
    /// Ids and changed field names only: never bodies, subjects or addresses.
    pub details: serde_json::Value,
}

/// A stored entry, as read back.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    /// Position in its chain (1-based; each organisation's chain counts on its own).
    pub seq: i64,
    /// Milliseconds since the epoch.
    pub at: i64,
    /// Organisation.
    pub org_id: Option<String>,
    /// Actor.
    pub actor_id: Option<String>,
    /// Action name.
    pub action: String,
    /// Object type.
    pub object_type: String,
    /// Object id.
    pub object_id: String,
    /// JSON details (ids, field names).
    pub details: String,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// Hash of this entry.
    pub hash: String,
}

/// The hash of an entry's content chained to `prev_hash`.
#[allow(clippy::too_many_arguments)]
pub fn entry_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    org_id: Option<&str>,
    actor_id: Option<&str>,
    action: &str,
    object_type: &str,
    object_id: &str,
    details: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev_hash,
        &seq.to_string(),
        &at.to_string(),
        org_id.unwrap_or(""),
        actor_id.unwrap_or(""),
        action,
        object_type,
        object_id,
        details,
    ] {
        h.update(part.len().to_string().as_bytes());
        h.update(b":");
        h.update(part.as_bytes());
        h.update(b"|");
    }
    hex::encode(h.finalize())
}

/// Takes (creating it on demand: the first write of a new organisation opens its chain) and
/// locks the head of the transaction's chain, in one statement. Writing first is on purpose:
/// it makes the transaction a writer at once (SQLite waits for the write lock here instead
/// of failing later with `SQLITE_BUSY_SNAPSHOT` when a reader upgrades); PostgreSQL locks
/// only this chain's head row until commit, so writers of other chains never wait for it.
pub(crate) async fn lock_head(tx: &mut WriteTx) -> sqlx::Result<Head> {
    let key = tx.chain.clone();
    let (seq, hash): (i64, String) = with_tx!(tx, |c| {
        sqlx::query_as(
            "INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, 0, $2) \
             ON CONFLICT (chain) DO UPDATE SET seq = audit_heads.seq RETURNING seq, hash",
        )
        .bind(&key)
        .bind(GENESIS)
        .fetch_one(&mut *c)
        .await
    })?;
    Ok(Head { seq, hash })
}

pub(crate) async fn append(tx: &mut WriteTx, e: Entry<'_>) -> sqlx::Result<()> {
    // Security invariant: an organisation's chain holds only its own entries, so it can be
    // verified and exported without anyone else's.
    if !tx.locked || e.org_id != tx.chain_org.as_deref() {
        return Err(sqlx::Error::Protocol(format!(
            "audit entry {} does not belong to the transaction's chain",
            e.action
        )));
    }
    let seq = tx.head.seq + 1;
    let at = super::now_ms();
    let details = e.details.to_string();
    let hash = entry_hash(
        &tx.head.hash,
        seq,
        at,
        e.org_id,
        e.actor_id,
        e.action.as_str(),
        e.object_type,
        e.object_id,
        &details,
    );
    let prev = tx.head.hash.clone();
    let chain = tx.chain.clone();
    with_tx!(tx, |c| {
        sqlx::query(
            "INSERT INTO audit_log (chain, seq, at, org_id, actor_id, action, object_type, \
             object_id, details, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&chain)
        .bind(seq)
        .bind(at)
        .bind(e.org_id)
        .bind(e.actor_id)
        .bind(e.action.as_str())
        .bind(e.object_type)
        .bind(e.object_id)
        .bind(&details)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected())
    })?;
    tx.head = Head { seq, hash };
    tx.appended = true;
    Ok(())
}

pub(crate) async fn store_head(tx: &mut WriteTx) -> sqlx::Result<()> {
    let (seq, hash, chain) = (tx.head.seq, tx.head.hash.clone(), tx.chain.clone());
    with_tx!(tx, |c| {
        sqlx::query("UPDATE audit_heads SET seq = $1, hash = $2 WHERE chain = $3")
            .bind(seq)
            .bind(&hash)
            .bind(&chain)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// A chain's entries after `after`, oldest first (at most `limit`).
pub async fn list(
    store: &Store,
    chain: Chain<'_>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    fetch_chain(&mut Src::Pool(store), chain.key(), after, limit).await
}

/// Every chain key that has a head or an entry (organisation ids and [`SYSTEM_CHAIN`]),
/// sorted.
pub async fn chains(store: &Store) -> sqlx::Result<Vec<String>> {
    with_pool!(store, |p| {
        sqlx::query_scalar(
            "SELECT chain FROM audit_heads UNION SELECT chain FROM audit_log ORDER BY 1",
        )
        .fetch_all(p)
        .await
    })
}

/// Where a read runs: the pool, or an open transaction (the rebuild verifies its own
/// uncommitted work).
enum Src<'a> {
    Pool(&'a Store),
    Tx(&'a mut WriteTx),
}

const CHAIN_ROWS: &str = "SELECT seq, at, org_id, actor_id, action, object_type, object_id, \
     details, prev_hash, hash FROM audit_log WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3";

const CHAIN_HEAD: &str = "SELECT seq, hash FROM audit_heads WHERE chain = $1";

async fn fetch_chain(
    src: &mut Src<'_>,
    chain: &str,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    match src {
        Src::Pool(store) => with_pool!(store, |p| {
            sqlx::query_as(CHAIN_ROWS)
                .bind(chain)
                .bind(after)
                .bind(limit)
                .fetch_all(p)
                .await
        }),
        Src::Tx(tx) => with_tx!(tx, |c| {
            sqlx::query_as(CHAIN_ROWS)
                .bind(chain)
                .bind(after)
                .bind(limit)
                .fetch_all(&mut *c)
                .await
        }),
    }
}

async fn fetch_head(src: &mut Src<'_>, chain: &str) -> sqlx::Result<Option<(i64, String)>> {
    match src {
        Src::Pool(store) => with_pool!(store, |p| {
            sqlx::query_as(CHAIN_HEAD)
                .bind(chain)
                .fetch_optional(p)
                .await
        }),
        Src::Tx(tx) => with_tx!(tx, |c| {
            sqlx::query_as(CHAIN_HEAD)
                .bind(chain)
                .fetch_optional(&mut *c)
                .await
        }),
    }
}

/// Every chain's head (key, sequence, hash), for checkpoints.
pub async fn heads(store: &Store) -> sqlx::Result<Vec<(String, i64, String)>> {
    with_pool!(store, |p| {
        sqlx::query_as("SELECT chain, seq, hash FROM audit_heads ORDER BY chain")
            .fetch_all(p)
            .await
    })
}

/// One chain's head (sequence, hash); `None` before its first entry.
pub async fn head(store: &Store, chain: &str) -> sqlx::Result<Option<(i64, String)>> {
    fetch_head(&mut Src::Pool(store), chain).await
}

/// The stored hash of entry `seq` of `chain`, if the entry exists.
pub async fn hash_at(store: &Store, chain: &str, seq: i64) -> sqlx::Result<Option<String>> {
    with_pool!(store, |p| {
        sqlx::query_scalar("SELECT hash FROM audit_log WHERE chain = $1 AND seq = $2")
            .bind(chain)
            .bind(seq)
            .fetch_optional(p)
            .await
    })
}

/// Result of [`verify`].
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Verification {
    /// Whether the whole chain verifies.
    pub ok: bool,
    /// Number of entries checked.
    pub entries: i64,
    /// Sequence number of the first entry that does not verify.
    pub first_broken: Option<i64>,
    /// Why it does not verify.
    pub reason: Option<String>,
}

/// A walk along one chain, entry by entry: the same check for the live chains and for the
/// old global chain the 0005 rebuild starts from.
struct Walk {
    prev: String,
    next_seq: i64,
    checked: i64,
}

impl Walk {
    fn new() -> Self {
        Self {
            prev: GENESIS.to_owned(),
            next_seq: 1,
            checked: 0,
        }
    }

    fn broken(&self, at_seq: i64, reason: &str) -> Verification {
        Verification {
            ok: false,
            entries: self.checked,
            first_broken: Some(at_seq),
            reason: Some(reason.to_owned()),
        }
    }

    /// Checks the next entry; the verdict naming it when it does not verify. `org` is the
    /// organisation the chain belongs to (`None` for the system chain; the old global
    /// chain passes the entry's own).
    fn step(&mut self, r: &AuditRow, org: Option<&str>) -> Result<(), Verification> {
        if r.seq != self.next_seq {
            return Err(self.broken(self.next_seq, "sequenza interrotta / missing entry"));
        }
        if r.org_id.as_deref() != org {
            return Err(self.broken(r.seq, "voce di un'altra catena / entry of another chain"));
        }
        if r.prev_hash != self.prev {
            return Err(self.broken(r.seq, "hash precedente diverso / previous hash mismatch"));
        }
        let h = entry_hash(
            &r.prev_hash,
            r.seq,
            r.at,
            r.org_id.as_deref(),
            r.actor_id.as_deref(),
            &r.action,
            &r.object_type,
            &r.object_id,
            &r.details,
        );
        if h != r.hash {
            return Err(self.broken(r.seq, "contenuto alterato / content altered"));
        }
        self.prev.clone_from(&r.hash);
        self.next_seq += 1;
        self.checked += 1;
        Ok(())
    }

    /// The verdict once every entry was walked: entries cut off the end are caught by
    /// comparing with the head.
    fn finish(self, head: Option<(i64, String)>) -> Verification {
        let (head_seq, head_hash) = head.unwrap_or_else(|| (0, GENESIS.to_owned()));
        if head_seq != self.checked || head_hash != self.prev {
            return self.broken(self.checked + 1, "registro troncato / log truncated");
        }
        Verification {
            ok: true,
            entries: self.checked,
            first_broken: None,
            reason: None,
        }
    }
}

/// Walks one chain from its first entry and names the first broken one.
pub async fn verify(store: &Store, chain: Chain<'_>) -> sqlx::Result<Verification> {
    verify_on(&mut Src::Pool(store), chain).await
}

async fn verify_on(src: &mut Src<'_>, chain: Chain<'_>) -> sqlx::Result<Verification> {
    let mut walk = Walk::new();
    let mut after = 0_i64;
    loop {
        let rows = fetch_chain(src, chain.key(), after, 1000).await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            if let Err(v) = walk.step(r, chain.org()) {
                return Ok(v);
            }
            after = r.seq;
        }
    }
    let head = fetch_head(src, chain.key()).await?;
    Ok(walk.finish(head))
}

/// What the one-time rebuild of migration 0005 did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// Entries of the old global chain (all verified, all rebuilt).
    pub legacy_entries: i64,
    /// Chains written (organisations, plus the system chain when it has entries).
    pub chains: usize,
}

/// The old global chain's entries, with their old numbering and hashes.
const LEGACY_ROWS: &str = "SELECT legacy_seq AS seq, at, org_id, actor_id, action, \
     object_type, object_id, details, legacy_prev_hash AS prev_hash, legacy_hash AS hash \
     FROM audit_log WHERE legacy_seq > $1 ORDER BY legacy_seq LIMIT 1000";

/// Finishes migration 0005 once, at start (see `docs/audit.md`): when the rebuild is pending,
/// in one transaction, verifies the old global chain (its entries' `legacy_*` values against
/// `audit_legacy_head`) and refuses with the first broken entry if it does not verify (a
/// broken log is never silently rewritten: nothing is written and the companion does not
/// start); recomputes every entry's hashes in its own chain, in the old order; writes each
/// chain's head; verifies every new chain; clears the pending mark. `Ok(None)`: nothing was
/// pending.
pub async fn rebuild_chains(store: &Store) -> anyhow::Result<Option<Rebuilt>> {
    let pending: Option<bool> = with_pool!(store, |p| {
        sqlx::query_scalar("SELECT pending FROM audit_rebuild WHERE id = 1")
            .fetch_optional(p)
            .await
    })?;
    if pending != Some(true) {
        return Ok(None);
    }
    let mut tx = store.begin_unchained().await?;
    // Write first (SQLite: take the write lock now; PostgreSQL: another replica starting at
    // the same time waits here and then finds the work done).
    let pending: Option<bool> = with_tx!(tx, |c| {
        sqlx::query_scalar(
            "UPDATE audit_rebuild SET pending = pending WHERE id = 1 RETURNING pending",
        )
        .fetch_optional(&mut *c)
        .await
    })?;
    if pending != Some(true) {
        return Ok(None);
    }
    let legacy_head: Option<(i64, String)> = with_tx!(tx, |c| {
        sqlx::query_as("SELECT seq, hash FROM audit_legacy_head WHERE id = 1")
            .fetch_optional(&mut *c)
            .await
    })?;

    let mut old = Walk::new();
    let mut heads: std::collections::BTreeMap<String, Head> = Default::default();
    let mut after = 0_i64;
    loop {
        let rows: Vec<AuditRow> = with_tx!(tx, |c| {
            sqlx::query_as(LEGACY_ROWS)
                .bind(after)
                .fetch_all(&mut *c)
                .await
        })?;
        if rows.is_empty() {
            break;
        }
        let mut batch: Vec<Rehashed> = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Err(v) = old.step(r, r.org_id.as_deref()) {
                return Err(legacy_broken(&v));
            }
            let chain = Chain::of_org(r.org_id.as_deref()).key().to_owned();
            let head = heads.entry(chain.clone()).or_insert_with(|| Head {
                seq: 0,
                hash: GENESIS.to_owned(),
            });
            let seq = head.seq + 1;
            let hash = entry_hash(
                &head.hash,
                seq,
                r.at,
                r.org_id.as_deref(),
                r.actor_id.as_deref(),
                &r.action,
                &r.object_type,
                &r.object_id,
                &r.details,
            );
            batch.push(Rehashed {
                legacy_seq: r.seq,
                chain,
                seq,
                prev_hash: std::mem::replace(&mut head.hash, hash.clone()),
                hash,
            });
            head.seq = seq;
            after = r.seq;
        }
        // SQLite allows at most 500 terms in a compound SELECT.
        for chunk in batch.chunks(400) {
            rewrite_batch(&mut tx, chunk).await?;
        }
    }
    let verdict = old.finish(legacy_head);
    if !verdict.ok {
        return Err(legacy_broken(&verdict));
    }
    let legacy_entries = verdict.entries;

    for (chain, head) in &heads {
        with_tx!(tx, |c| {
            sqlx::query("INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, $2, $3)")
                .bind(chain)
                .bind(head.seq)
                .bind(&head.hash)
                .execute(&mut *c)
                .await
                .map(|_| ())
        })?;
    }
    for chain in heads.keys() {
        let v = verify_on(&mut Src::Tx(&mut tx), Chain::from_key(chain)).await?;
        if !v.ok {
            return Err(anyhow!(
                "registro di audit: la catena ricostruita {} non si verifica alla voce {} ({}); \
                 nulla è stato modificato / audit log: the rebuilt chain {} does not verify at \
                 entry {} ({}); nothing was changed",
                Chain::from_key(chain),
                v.first_broken.unwrap_or_default(),
                v.reason.as_deref().unwrap_or(""),
                Chain::from_key(chain),
                v.first_broken.unwrap_or_default(),
                v.reason.as_deref().unwrap_or("")
            ));
        }
    }
    let now = super::now_ms();
    with_tx!(tx, |c| {
        sqlx::query(
            "UPDATE audit_rebuild SET pending = false, legacy_entries = $1, finished_at = $2 \
             WHERE id = 1",
        )
        .bind(legacy_entries)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ())
    })?;
    tx.commit().await?;
    Ok(Some(Rebuilt {
        legacy_entries,
        chains: heads.len(),
    }))
}

/// One entry's new place and hashes in its chain.
struct Rehashed {
    legacy_seq: i64,
    chain: String,
    seq: i64,
    prev_hash: String,
    hash: String,
}

/// Writes a batch of rebuilt hashes in one statement (one round trip per 400 entries, not
/// per entry). The join also checks that the migration numbered each chain in the
/// old order: every row must be found at its expected `(chain, seq)`.
async fn rewrite_batch(tx: &mut WriteTx, batch: &[Rehashed]) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut rows = String::new();
    for i in 0..batch.len() {
        let n = i * 5;
        if i > 0 {
            rows.push_str(" UNION ALL ");
        }
        rows.push_str(&format!(
            "SELECT ${} AS ls, ${} AS c, ${} AS s, ${} AS p, ${} AS h",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5
        ));
    }
    let sql = format!(
        "UPDATE audit_log SET prev_hash = v.p, hash = v.h FROM ({rows}) AS v \
         WHERE audit_log.legacy_seq = v.ls AND audit_log.chain = v.c AND audit_log.seq = v.s"
    );
    let updated = with_tx!(tx, |c| {
        let mut q = sqlx::query(&sql);
        for e in batch {
            q = q
                .bind(e.legacy_seq)
                .bind(&e.chain)
                .bind(e.seq)
                .bind(&e.prev_hash)
                .bind(&e.hash);
        }
        q.execute(&mut *c).await.map(|r| r.rows_affected())
    })?;
    if updated != batch.len() as u64 {
        let first = batch.first().map_or(0, |e| e.legacy_seq);
        return Err(anyhow!(
            "registro di audit: voci {first}.. non nella posizione attesa nella propria catena \
             ({updated} di {}); nulla è stato modificato / audit log: old entries from {first} \
             are not at their expected position in their chain ({updated} of {}); nothing was \
             changed",
            batch.len(),
            batch.len()
        ));
    }
    Ok(())
}

fn legacy_broken(v: &Verification) -> anyhow::Error {
    let at = v.first_broken.unwrap_or_default();
    let why = v.reason.as_deref().unwrap_or("");
    anyhow!(
        "registro di audit: la catena precedente (unica) non si verifica alla voce {at} \
         ({why}); la ricostruzione per organizzazione è rifiutata e nulla è stato riscritto \
         (legacy_seq, legacy_prev_hash, legacy_hash conservano i valori originali): \
         ripristinare un backup o esaminare la voce, vedi docs/audit.md / audit log: the old \
         global chain does not verify at entry {at} ({why}); the per-organisation rebuild is \
         refused and nothing was rewritten (legacy_seq, legacy_prev_hash, legacy_hash keep the \
         original values): restore a backup or examine the entry, see docs/audit.md"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_the_catalogue() {
        let doc = include_str!("../../../docs/audit.md");
        for a in Action::ALL {
            assert!(
                doc.contains(&format!("| `{}` |", a.as_str())),
                "{} missing from docs/audit.md",
                a.as_str()
            );
        }
    }

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(*a));
            assert!(seen.insert(a.as_str()), "duplicate {}", a.as_str());
        }
    }

    #[test]
    fn chain_keys_round_trip() {
        assert_eq!(Chain::from_key(Chain::System.key()), Chain::System);
        assert_eq!(Chain::from_key("0190-org").org(), Some("0190-org"));
        assert_eq!(Chain::of_org(None), Chain::System);
    }
}
