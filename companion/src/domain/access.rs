//! Effective permissions of a user: own grants plus their teams' grants, per mailbox.

use std::collections::HashMap;

use pecdesk_core::policy::{Permissions, Policy};

use crate::auth::Principal;
use crate::error::Result;
use crate::store::Store;
use crate::with_pool;

/// A user's permissions on every mailbox of their organisation where they hold any.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    by_mailbox: HashMap<String, Permissions>,
    /// Ids of the teams the user belongs to.
    pub teams: Vec<String>,
}

impl Grants {
    /// Loads the grants of `who` (scoped to their organisation).
    pub async fn load(store: &Store, who: &Principal) -> Result<Self> {
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
        let mut teams = Vec::new();
        let mut by_mailbox: HashMap<String, Permissions> = HashMap::new();
        for (id, policy) in rows {
            let Some(policy) = policy else {
                teams.push(id);
                continue;
            };
            let mb = id;
            if let Some(p) = Policy::parse(&policy) {
                let e = by_mailbox.entry(mb).or_default();
                *e = e.with(p);
            }
        }
        Ok(Self { by_mailbox, teams })
    }

    /// Permissions on one mailbox (none when not granted).
    pub fn on(&self, mailbox_id: &str) -> Permissions {
        self.by_mailbox.get(mailbox_id).copied().unwrap_or_default()
    }

    /// Mailboxes where `pred` holds.
    pub fn mailboxes_where(&self, pred: impl Fn(Permissions) -> bool) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_mailbox
            .iter()
            .filter(|(_, p)| pred(**p))
            .map(|(m, _)| m.clone())
            .collect();
        v.sort();
        v
    }

    /// Every mailbox with any grant, with its permissions.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Permissions)> {
        self.by_mailbox.iter()
    }
}

/// A value bound into a dynamically built query.
#[derive(Debug, Clone)]
pub enum Bind {
    /// Text.
    Text(String),
    /// Integer.
    Int(i64),
}

/// Accumulates `$N` placeholders and their values for a query built at run time.
#[derive(Debug, Default)]
pub struct Binds(pub Vec<Bind>);

impl Binds {
    /// Adds a text value; returns its placeholder.
    pub fn text(&mut self, v: impl Into<String>) -> String {
        self.0.push(Bind::Text(v.into()));
        format!("${}", self.0.len())
    }
    /// Adds an integer value; returns its placeholder.
    pub fn int(&mut self, v: i64) -> String {
        self.0.push(Bind::Int(v));
        format!("${}", self.0.len())
    }
    /// `(p1, p2, ...)` for an `IN` list; `(NULL)` when empty (matches nothing).
    pub fn list(&mut self, vs: &[String]) -> String {
        if vs.is_empty() {
            return "(NULL)".into();
        }
        let ps: Vec<String> = vs.iter().map(|v| self.text(v.clone())).collect();
        format!("({})", ps.join(", "))
    }
}

/// Binds every value of `$binds` onto `$q` in order.
#[macro_export]
macro_rules! bind_all {
    ($q:expr, $binds:expr) => {{
        let mut q = $q;
        for b in &$binds.0 {
            q = match b {
                $crate::domain::access::Bind::Text(s) => q.bind(s.clone()),
                $crate::domain::access::Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}
