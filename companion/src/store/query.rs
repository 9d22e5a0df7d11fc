//! Building queries at run time: `$N` placeholders and their values ([`Binds`],
//! [`bind_all!`](crate::bind_all)), one text for both engines; offset paging ([`Page`],
//! [`parse_cursor`]) and search patterns ([`like_patterns`]).

use serde::Serialize;

use crate::error::{Error, Result};

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
                $crate::store::query::Bind::Text(s) => q.bind(s.clone()),
                $crate::store::query::Bind::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// Parses an opaque offset cursor.
pub fn parse_cursor(c: Option<&str>) -> Result<i64> {
    match c {
        None | Some("") => Ok(0),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::invalid("cursore non valido / invalid cursor")),
    }
}

/// Turns search words into `LIKE` patterns (each word must appear).
pub fn like_patterns(q: &str) -> Vec<String> {
    q.split_whitespace()
        .take(8)
        .map(|w| {
            let esc = w
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{esc}%")
        })
        .collect()
}
