//! Building queries at run time: `$N` placeholders and their values ([`Binds`],
//! [`bind_all!`](crate::bind_all)), one text for both engines; keyset paging ([`Page`],
//! [`Cursor`], [`paginate`]) and search patterns ([`like_patterns`]).

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

/// A position in a list: the sort key of the last row shown and its id (the tie-breaker).
/// The next page starts strictly after it, so a deep page costs what the first one does
/// (no rows skipped one by one, as an offset would), and rows inserted meanwhile neither
/// repeat nor hide rows already shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key of the last row shown, as text: milliseconds (or the sentinel the sort
    /// gives a missing date), or a name.
    pub key: String,
    /// The id of the last row shown.
    pub id: String,
}

impl Cursor {
    /// A cursor after the row `id` whose sort key is `key`.
    pub fn new(key: impl ToString, id: &str) -> Self {
        Self {
            key: key.to_string(),
            id: id.to_owned(),
        }
    }

    /// The opaque text handed to clients: base64url of `SORT:ID:KEY`, where `SORT` names
    /// the order the cursor belongs to, so a cursor cannot be replayed under another sort
    /// (the key comes last: a name may hold any character).
    pub fn encode(&self, sort: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{sort}:{}:{}", self.id, self.key))
    }

    /// The key as a number (the sorts by date); a 422 when it is not one.
    pub fn key_i64(&self) -> Result<i64> {
        self.key.parse::<i64>().map_err(|_| bad_cursor())
    }

    /// Reads a cursor handed out by [`Cursor::encode`] for the order `sort`; `None` for the
    /// first page. Anything else (not base64url, not three parts, a key that is not a
    /// number, an id with foreign characters, another sort's cursor) is a 422.
    pub fn decode(c: Option<&str>, sort: &str) -> Result<Option<Cursor>> {
        use base64::Engine as _;
        let Some(text) = c.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let bad = bad_cursor;
        if text.len() > 2000 {
            return Err(bad());
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = raw.splitn(3, ':');
        let (Some(tag), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(bad());
        }
        if tag != sort {
            return Err(Error::invalid(
                "il cursore è di un altro ordinamento: riparti dalla prima pagina con questo \
                 ordinamento / the cursor belongs to another sort order: start again from the \
                 first page with this sort",
            ));
        }
        Ok(Some(Cursor::new(key, id)))
    }
}

fn bad_cursor() -> Error {
    Error::invalid(
        "cursore non valido: riparti dalla prima pagina senza cursore / invalid cursor: \
         start again from the first page, without a cursor",
    )
}

/// `KEY >= k AND (KEY > k OR ID > id)` (ascending) or the same with `<=`/`<` (descending):
/// the rows after the cursor, for `ORDER BY KEY, ID` in that direction. Written out rather
/// than as a row value so both engines range-scan an index on (KEY, ID).
pub fn after(
    b: &mut Binds,
    key_sql: &str,
    id_sql: &str,
    key: Bind,
    id: &str,
    desc: bool,
) -> String {
    let k = match key {
        Bind::Text(t) => b.text(t),
        Bind::Int(i) => b.int(i),
    };
    let id = b.text(id);
    let (ge, gt) = if desc { ("<=", "<") } else { (">=", ">") };
    format!("({key_sql} {ge} {k} AND ({key_sql} {gt} {k} OR {id_sql} {gt} {id}))")
}

/// Page size from `?limit=` (1..=200, default 50).
pub fn page_size(limit: Option<i64>) -> i64 {
    limit.unwrap_or(50).clamp(1, 200)
}

/// Cuts the rows read (the page size plus one) to a page; the cursor of the next page is
/// made from the last row kept, when a row was left over.
pub fn paginate<R, T>(
    mut rows: Vec<R>,
    limit: i64,
    cursor_of: impl Fn(&R) -> String,
    view: impl FnMut(R) -> T,
) -> Page<T> {
    let lim = usize::try_from(limit).unwrap_or(50);
    let more = rows.len() > lim;
    rows.truncate(lim);
    let next_cursor = if more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
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
