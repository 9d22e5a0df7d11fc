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
    /// first page. Anything else (over 8 KiB, not base64url, not three parts, an id with
    /// foreign characters, another sort's cursor) is a 422; so is a key that is not a
    /// number where the sort needs one ([`Cursor::key_i64`]).
    pub fn decode(c: Option<&str>, sort: &str) -> Result<Option<Cursor>> {
        use base64::Engine as _;
        let Some(text) = c.filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let bad = bad_cursor;
        if text.len() > 8192 {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_under_its_own_sort_only() {
        let c = Cursor::new(
            -9_223_372_036_854_775_807_i64,
            "0192f0c1-aaaa-7bbb-8ccc-0123456789ab",
        );
        let text = c.encode("-due_at");
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(
            Cursor::decode(Some(&text), "-due_at").unwrap(),
            Some(c.clone())
        );
        assert_eq!(
            Cursor::decode(Some(&text), "-due_at")
                .unwrap()
                .unwrap()
                .key_i64()
                .unwrap(),
            -9_223_372_036_854_775_807
        );
        assert!(Cursor::decode(Some(&text), "due_at").is_err());
        assert_eq!(Cursor::decode(None, "due_at").unwrap(), None);
        assert_eq!(Cursor::decode(Some(""), "due_at").unwrap(), None);
    }

    #[test]
    fn a_name_key_may_hold_any_character() {
        let c = Cursor::new("Rossi: Mario / ufficio", "u1");
        let back = Cursor::decode(Some(&c.encode("users-name")), "users-name").unwrap();
        assert_eq!(back, Some(c));
    }

    #[test]
    fn malformed_cursors_are_refused() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for bad in [
            "50".to_owned(),
            "!!!".to_owned(),
            b64("due_at"),
            b64("due_at:id"),
            b64("due_at::5"),
            b64("due_at:a'b:5"),
            "A".repeat(9000),
        ] {
            assert!(Cursor::decode(Some(&bad), "due_at").is_err(), "{bad}");
        }
        let not_a_number = Cursor::decode(Some(&b64("due_at:id:x")), "due_at")
            .unwrap()
            .unwrap();
        assert!(not_a_number.key_i64().is_err());
    }

    #[test]
    fn after_reads_strictly_past_the_cursor_in_both_directions() {
        let mut b = Binds::default();
        let asc = after(&mut b, "k", "id", Bind::Int(5), "x", false);
        assert_eq!(asc, "(k >= $1 AND (k > $1 OR id > $2))");
        let desc = after(&mut b, "k", "id", Bind::Int(5), "x", true);
        assert_eq!(desc, "(k <= $3 AND (k < $3 OR id < $4))");
    }

    #[test]
    fn paginate_cuts_the_extra_row_and_points_past_the_last_shown() {
        let p = paginate(vec![1, 2, 3], 2, |r| format!("c{r}"), |r| r * 10);
        assert_eq!(p.items, vec![10, 20]);
        assert_eq!(p.next_cursor.as_deref(), Some("c2"));
        let p = paginate(vec![1, 2], 2, |r| format!("c{r}"), |r| r);
        assert_eq!(p.next_cursor, None);
    }
}
