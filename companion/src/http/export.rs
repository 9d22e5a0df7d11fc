//! `GET /api/v1/messages/{id}/export.zip`: a message with its receipts in one ZIP, as
//! ThunderPEC's "esporta" gives it — what a user hands to a lawyer or files in a dossier.
//!
//! ```text
//! messaggio.eml                          the message, exactly as stored
//! daticert.xml                           its certification data, when it has some
//! receipts/01-accettazione.eml           each receipt reconciled with it, in time order
//! receipts/01-accettazione.daticert.xml
//! receipts/02-avvenuta-consegna-mario.rossi@pec.esempio.it.eml
//! ...
//! riepilogo.json                         the message's detail: summary, receipts, delivery
//! ```
//!
//! Readers of the message only (404 otherwise); a receipt the caller may not read is left
//! out. No audit entry: reading, like `/raw`.

use std::io::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::auth::Principal;
use crate::domain::messages;
use crate::error::{Error, ErrorEnvelope, Result};
use crate::state::AppState;
use crate::store::grants;

/// One file of the export.
struct Entry {
    name: String,
    bytes: Vec<u8>,
}

/// The message, its receipts and their certification data as a ZIP.
#[utoipa::path(get, path = "/api/v1/messages/{id}/export.zip", tag = "messages",
    responses((status = 200, content_type = "application/zip", body = Vec<u8>,
               description = "messaggio.eml, daticert.xml, receipts/NN-<kind>[-<recipient>].eml (+ .daticert.xml), riepilogo.json"),
              (status = 401, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope)))]
pub async fn export_message(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    let store = state.store();
    let person = grants::person(store, &who).await?;
    let row = messages::load_readable(store, &who, &person, &id).await?;
    let file_name = format!(
        "pec-{}.zip",
        safe_name(row.identificativo.as_deref().unwrap_or(&row.id))
    );
    // A purged message's bytes are gone: a note stands in their place.
    let first = if row.purged_at.is_some() {
        Entry {
            name: "messaggio.eliminato.json".into(),
            bytes: crate::domain::evidence::purged_note(&row)?,
        }
    } else {
        Entry {
            name: "messaggio.eml".into(),
            bytes: messages::raw_bytes(store, &row.raw_sha256).await?,
        }
    };
    let detail = messages::with_receipts(store, row).await?;

    let mut entries = vec![first];
    let mut n = 0;
    for r in detail.receipts.iter().flatten() {
        // Each receipt is checked like its own detail would be.
        let Ok(receipt) = messages::load_readable(store, &who, &person, &r.id).await else {
            continue;
        };
        n += 1;
        let mut stem = format!("receipts/{n:02}-{}", safe_name(&r.kind));
        if let Some(to) = &r.recipient {
            stem.push('-');
            stem.push_str(&safe_name(to));
        }
        entries.push(if receipt.purged_at.is_some() {
            Entry {
                name: format!("{stem}.eliminato.json"),
                bytes: crate::domain::evidence::purged_note(&receipt)?,
            }
        } else {
            Entry {
                name: format!("{stem}.eml"),
                bytes: messages::raw_bytes(store, &receipt.raw_sha256).await?,
            }
        });
    }
    let summary = serde_json::to_vec_pretty(&detail).map_err(|e| Error::Internal(e.into()))?;
    let zip = tokio::task::spawn_blocking(move || build(entries, summary))
        .await
        .map_err(|e| Error::Internal(e.into()))??;

    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    let disposition = format!("attachment; filename=\"{file_name}\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| Error::Internal(e.into()))?,
    );
    tracing::info!(message.id = %detail.id, receipts = n, "message exported");
    Ok((headers, zip).into_response())
}

/// The ZIP: each `.eml` followed by its `daticert.xml` when it has one (parsed here, off the
/// async threads: messages may be large).
fn build(entries: Vec<Entry>, summary: Vec<u8>) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let zip_err = |e: zip::result::ZipError| Error::Internal(anyhow::anyhow!("export zip: {e}"));
    let io_err = |e: std::io::Error| Error::Internal(anyhow::anyhow!("export zip: {e}"));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for e in entries {
        w.start_file(e.name.as_str(), opts).map_err(zip_err)?;
        w.write_all(&e.bytes).map_err(io_err)?;
        if let Some(xml) = pecdesk_core::pec::daticert_xml(&e.bytes) {
            let name = match e.name.strip_suffix(".eml") {
                Some("messaggio") => "daticert.xml".to_owned(),
                Some(stem) => format!("{stem}.daticert.xml"),
                None => format!("{}.daticert.xml", e.name),
            };
            w.start_file(name, opts).map_err(zip_err)?;
            w.write_all(&xml).map_err(io_err)?;
        }
    }
    w.start_file("riepilogo.json", opts).map_err(zip_err)?;
    w.write_all(&summary).map_err(io_err)?;
    Ok(w.finish().map_err(zip_err)?.into_inner())
}

/// `s` as a file name: letters, digits, `@ . _ -` kept, anything else `_`; never `..`.
pub(crate) fn safe_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    cleaned.replace("..", "_")
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn file_names_keep_addresses_and_lose_everything_else() {
        assert_eq!(
            safe_name("mario.rossi@pec.esempio.it"),
            "mario.rossi@pec.esempio.it"
        );
        assert_eq!(safe_name("../../etc/passwd"), "____etc_passwd");
        assert_eq!(safe_name("a\"b\r\nc"), "a_b__c");
        assert!(!safe_name("x/../y").contains(".."));
    }
}
