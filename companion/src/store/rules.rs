//! Routing rules of an organisation (`rules`), in their order. A deleted rule is kept
//! (`deleted_at`) so the messages it routed still name it; every read here skips it.

use crate::error::Result;
use crate::store::{Store, WriteTx};
use crate::{with_pool, with_tx};

/// Columns of [`RuleRow`].
const RULE_COLS: &str = "id, org_id, name, position, enabled, stop, conditions, actions, \
    created_by, created_at, updated_by, updated_at";

/// A stored rule.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RuleRow {
    /// Id (UUIDv7).
    pub id: String,
    /// Organisation.
    pub org_id: String,
    /// Name.
    pub name: String,
    /// Order of evaluation (1 first).
    pub position: i64,
    /// Whether it is evaluated.
    pub enabled: bool,
    /// Whether a match ends the evaluation.
    pub stop: bool,
    /// JSON list of `pecdesk_core::rules::Condition`.
    pub conditions: String,
    /// JSON of `pecdesk_core::rules::Actions`.
    pub actions: String,
    /// Who created it (none from the command line without an author).
    pub created_by: Option<String>,
    /// When (ms).
    pub created_at: i64,
    /// Who saved it last: the author of the activities it creates.
    pub updated_by: Option<String>,
    /// When (ms).
    pub updated_at: i64,
}

/// The live rules of `org`, in order.
pub async fn list(store: &Store, org: &str) -> Result<Vec<RuleRow>> {
    let sql = format!(
        "SELECT {RULE_COLS} FROM rules WHERE org_id = $1 AND deleted_at IS NULL \
         ORDER BY position, id"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(org)
        .fetch_all(p)
        .await)?)
}

/// The live rules of `org`, in order, inside a write.
pub async fn list_tx(tx: &mut WriteTx, org: &str) -> Result<Vec<RuleRow>> {
    let sql = format!(
        "SELECT {RULE_COLS} FROM rules WHERE org_id = $1 AND deleted_at IS NULL \
         ORDER BY position, id"
    );
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(org)
        .fetch_all(&mut *c)
        .await)?)
}

/// A live rule of `org`.
pub async fn get(store: &Store, org: &str, id: &str) -> Result<Option<RuleRow>> {
    let sql = format!(
        "SELECT {RULE_COLS} FROM rules WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    );
    Ok(with_pool!(store, |p| sqlx::query_as(&sql)
        .bind(id)
        .bind(org)
        .fetch_optional(p)
        .await)?)
}

/// A live rule of `org`, inside a write.
pub async fn get_tx(tx: &mut WriteTx, org: &str, id: &str) -> Result<Option<RuleRow>> {
    let sql = format!(
        "SELECT {RULE_COLS} FROM rules WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    );
    Ok(with_tx!(tx, |c| sqlx::query_as(&sql)
        .bind(id)
        .bind(org)
        .fetch_optional(&mut *c)
        .await)?)
}

/// The position after the last live rule of `org`.
pub async fn next_position(tx: &mut WriteTx, org: &str) -> Result<i64> {
    let max: Option<i64> = with_tx!(tx, |c| sqlx::query_scalar(
        "SELECT MAX(position) FROM rules WHERE org_id = $1 AND deleted_at IS NULL"
    )
    .bind(org)
    .fetch_one(&mut *c)
    .await)?;
    Ok(max.unwrap_or(0) + 1)
}

/// Inserts a rule as given.
pub async fn insert(tx: &mut WriteTx, r: &RuleRow) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "INSERT INTO rules (id, org_id, name, position, enabled, stop, conditions, actions, \
         created_by, created_at, updated_by, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    )
    .bind(&r.id)
    .bind(&r.org_id)
    .bind(&r.name)
    .bind(r.position)
    .bind(r.enabled)
    .bind(r.stop)
    .bind(&r.conditions)
    .bind(&r.actions)
    .bind(&r.created_by)
    .bind(r.created_at)
    .bind(&r.updated_by)
    .bind(r.updated_at)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}

/// Writes a rule's editable fields (name, enabled, stop, conditions, actions, updated_*).
pub async fn update(tx: &mut WriteTx, r: &RuleRow) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE rules SET name = $3, enabled = $4, stop = $5, conditions = $6, actions = $7, \
         updated_by = $8, updated_at = $9 WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    )
    .bind(&r.id)
    .bind(&r.org_id)
    .bind(&r.name)
    .bind(r.enabled)
    .bind(r.stop)
    .bind(&r.conditions)
    .bind(&r.actions)
    .bind(&r.updated_by)
    .bind(r.updated_at)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Marks a rule deleted; returns whether it was live.
pub async fn delete(tx: &mut WriteTx, org: &str, id: &str, now: i64) -> Result<bool> {
    let n = with_tx!(tx, |c| sqlx::query(
        "UPDATE rules SET deleted_at = $3 WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
    )
    .bind(id)
    .bind(org)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Sets a rule's position.
pub async fn set_position(tx: &mut WriteTx, org: &str, id: &str, position: i64) -> Result<()> {
    with_tx!(tx, |c| sqlx::query(
        "UPDATE rules SET position = $3 WHERE id = $1 AND org_id = $2"
    )
    .bind(id)
    .bind(org)
    .bind(position)
    .execute(&mut *c)
    .await
    .map(|_| ()))?;
    Ok(())
}
