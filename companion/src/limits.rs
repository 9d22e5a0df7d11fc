//! Input limits: the longest text every field of the API accepts, in one place (listed in
//! `docs/API.md`, "Input limits"), and the checks that answer 422 naming the field.
//!
//! Lengths count characters (Unicode scalar values), not bytes. NUL characters are refused
//! in every text the API receives (JSON bodies, query strings and paths, see
//! [`crate::extract`]); the checks here refuse them again so a caller that builds input by
//! hand cannot forget it. Text derived from messages is stored NUL-free by the store
//! (`store::messages::nul_free`).

use crate::error::{Error, Result};

/// Activity title (required, trimmed).
pub const TITLE: usize = 300;
/// Activity description.
pub const DESCRIPTION: usize = 20_000;
/// Activity category.
pub const CATEGORY: usize = 100;
/// One activity tag.
pub const TAG: usize = 50;
/// Tags of one activity.
pub const TAGS: usize = 50;
/// Comment body.
pub const COMMENT: usize = 65_536;
/// Note of an approval decision.
pub const NOTE: usize = 4_000;
/// Draft subject (one line: no CR or LF).
pub const DRAFT_SUBJECT: usize = 998;
/// Draft body.
pub const DRAFT_BODY: usize = 524_288;
/// Recipients of a draft (`to` + `cc`), each a valid e-mail address of at most 254
/// characters.
pub const DRAFT_RECIPIENTS: usize = 500;
/// One attachment reference of a draft.
pub const ATTACHMENT: usize = 255;
/// Attachments of a draft.
pub const ATTACHMENTS: usize = 100;
/// Search text (`q=` of the message and activity lists).
pub const QUERY: usize = 200;
/// Messages named by one request (`message_ids` of creation, bulk included).
pub const MESSAGE_IDS: usize = 500;
/// Any id the API receives (activity, message, mailbox, user, team ids are 36-character
/// UUIDs; longer ones cannot exist).
pub const ID: usize = 100;

/// `value` has at most `max` characters and no NUL (422 naming `field` otherwise).
pub fn text(field: &str, value: &str, max: usize) -> Result<()> {
    if value.contains('\0') {
        return Err(nul(field));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(format!(
            "campo `{field}`: al massimo {max} caratteri / field `{field}`: at most {max} characters"
        )));
    }
    Ok(())
}

/// [`text`], and one line: no CR or LF (a header value such as a subject).
pub fn line(field: &str, value: &str, max: usize) -> Result<()> {
    text(field, value, max)?;
    if value.contains(['\r', '\n']) {
        return Err(Error::invalid(format!(
            "campo `{field}`: una sola riga, senza a capo (CR o LF) / field `{field}`: one line, \
             no CR or LF"
        )));
    }
    Ok(())
}

/// At most `max` items in the list `field` (422 otherwise).
pub fn count(field: &str, n: usize, max: usize) -> Result<()> {
    if n > max {
        return Err(Error::invalid(format!(
            "campo `{field}`: al massimo {max} elementi / field `{field}`: at most {max} items"
        )));
    }
    Ok(())
}

/// At most `max_items` texts of at most `max_len` characters each (`field[i]` named).
pub fn texts(field: &str, items: &[String], max_items: usize, max_len: usize) -> Result<()> {
    count(field, items.len(), max_items)?;
    for (i, t) in items.iter().enumerate() {
        text(&format!("{field}[{i}]"), t, max_len)?;
    }
    Ok(())
}

/// Ids (those present): at most [`ID`] characters each, no NUL.
pub fn ids(fields: &[(&str, Option<&String>)]) -> Result<()> {
    for (field, value) in fields {
        if let Some(v) = value {
            text(field, v, ID)?;
        }
    }
    Ok(())
}

/// The 422 of a NUL character in `field`.
pub fn nul(field: &str) -> Error {
    Error::invalid(format!(
        "campo `{field}`: contiene un carattere NUL (U+0000), non ammesso / field `{field}`: \
         contains a NUL character (U+0000), which is not allowed"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_and_name_the_field() {
        assert!(text("title", &"è".repeat(TITLE), TITLE).is_ok());
        let e = text("title", &"è".repeat(TITLE + 1), TITLE).unwrap_err();
        assert!(e.to_string().contains("`title`") && e.to_string().contains("300"));
        assert!(
            text("q", "a\0b", QUERY)
                .unwrap_err()
                .to_string()
                .contains("NUL")
        );
    }

    #[test]
    fn a_line_refuses_cr_and_lf() {
        assert!(line("subject", "Oggetto", DRAFT_SUBJECT).is_ok());
        assert!(line("subject", "a\r\nBcc: x@y", DRAFT_SUBJECT).is_err());
        assert!(line("subject", "a\nb", DRAFT_SUBJECT).is_err());
    }
}
