//! Evidence packs (pacchetti di evidenze): one message, one activity or a mailbox's date
//! range as a ZIP a preservation system or a lawyer can check offline.
//!
//! ```text
//! IdC.xml                      the index, UNI 11386:2020 (SInCRO) PIndex: every file below
//!                              with its SHA-256, and the manifest's SHA-256
//! IdC.firma.json               Ed25519 signature of the index's SHA-256 (the companion's
//!                              checkpoint key, docs/audit.md "Checkpoints")
//! manifest-sha256.txt          `sha256sum` lines of every file but the three above
//! pacchetto.json               what the pack holds: scope, organisation, time, counts
//! messaggi/0001-<id>/messaggio.eml          each message exactly as stored
//! messaggi/0001-<id>/daticert.xml           its certification data, when it has some
//! messaggi/0001-<id>/riepilogo.json         the core's summary (PEC.md) with the
//!                                           signature check made at ingestion
//! messaggi/0001-<id>/ricevute/01-<kind>[-<recipient>].eml (+ .daticert.xml, .riepilogo.json)
//! attivita/<id>.json                        an activity's detail (activity packs)
//! registro/registro-audit.json              the organisation's audit entries for the
//!                                           objects, with the chain segment proving them
//! ```
//!
//! The chain of proof: the signature covers the index; the index names the manifest's hash
//! (and every file's); the manifest names every other file's hash; the audit segment is a
//! contiguous run of the organisation's hash chain from the first entry about the objects
//! (or the latest checkpoint, if older) to the chain's head, entries about other objects
//! reduced to their `seq`, `prev_hash` and `hash` links. [`verify::verify_pack`] checks it
//! all offline (`pecdesk archive verify`).

pub mod verify;

use std::fmt::Write as _;
use std::io::Write as _;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::checkpoint::{Checkpoint, Signer};

/// The index (SInCRO PIndex).
pub const INDEX: &str = "IdC.xml";
/// The signature of the index.
pub const SIGNATURE: &str = "IdC.firma.json";
/// The manifest of SHA-256 hashes.
pub const MANIFEST: &str = "manifest-sha256.txt";
/// What the pack holds.
pub const META: &str = "pacchetto.json";
/// The audit segment.
pub const AUDIT: &str = "registro/registro-audit.json";
/// SInCRO's namespace.
pub const SINCRO_NS: &str = "http://www.uni.com/U3011/sincro-v2/";
/// Domain separation of the index signature.
pub const SIGNED_PREFIX: &str = "pecdesk-evidence-index-v1";

/// The text the index signature covers.
pub fn signed_text(index_sha256: &str) -> String {
    format!("{SIGNED_PREFIX}\n{index_sha256}")
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One content file of a pack.
#[derive(Debug, Clone)]
pub struct PackFile {
    /// Path inside the ZIP.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The index's file group it belongs to (a message's folder, the audit segment, ...).
    pub group: String,
}

/// What a pack holds (`pacchetto.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PackMeta {
    /// Format version (1).
    pub v: u32,
    /// Id of this pack (UUIDv7).
    pub pack_id: String,
    /// When it was made (RFC 3339, UTC).
    pub created_at: String,
    /// The organisation.
    pub org_id: String,
    /// Its name.
    pub org_name: String,
    /// `message`, `activity` or `mailbox`.
    pub scope: String,
    /// The message, activity or mailbox id.
    pub object_id: String,
    /// Range start (ms, inclusive), mailbox packs.
    #[serde(default)]
    pub from: Option<i64>,
    /// Range end (ms, exclusive), mailbox packs.
    #[serde(default)]
    pub to: Option<i64>,
    /// Messages (receipts included) in the pack.
    pub messages: usize,
    /// Who made it (user id).
    pub created_by: String,
    /// The companion's version.
    pub generator: String,
}

/// The head of a chain as the segment ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHead {
    /// Sequence number of the last entry.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
}

/// The content of an audit entry, as hashed (`docs/audit.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryContent {
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
    /// The details' JSON text, as stored and hashed.
    pub details: String,
}

/// One entry of the segment: its links, and its content when it is about the pack's objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// Position in the chain.
    pub seq: i64,
    /// Hash of the previous entry.
    pub prev_hash: String,
    /// Hash of this entry.
    pub hash: String,
    /// The entry, for entries about the pack's objects (None: only the links).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<EntryContent>,
}

/// The audit segment of a pack (`registro/registro-audit.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditSegment {
    /// Format version (1).
    pub v: u32,
    /// The chain: the organisation id.
    pub chain: String,
    /// The objects the pack is about (`message:<id>`, `activity:<id>`, `comment:<id>`, ...).
    pub objects: Vec<String>,
    /// The chain's head when the pack was made.
    pub head: SegmentHead,
    /// Every entry from the first one shown to the head, in order.
    pub entries: Vec<SegmentEntry>,
    /// The organisation's latest signed checkpoint, when one was written.
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

/// The signature of the index (`IdC.firma.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexSignature {
    /// Format version (1).
    pub v: u32,
    /// The signed file (`IdC.xml`).
    pub file: String,
    /// Its SHA-256 (hex).
    pub sha256: String,
    /// The public key (base64 Ed25519): the companion's checkpoint key.
    pub key: String,
    /// The signature (base64) of `pecdesk-evidence-index-v1\n<sha256>`.
    pub sig: String,
}

/// The MIME type of a pack file, by its name.
fn format_of(path: &str) -> (&'static str, &'static str) {
    match path.rsplit('.').next() {
        Some("eml") => ("message/rfc822", "eml"),
        Some("xml") => ("application/xml", "xml"),
        Some("json") => ("application/json", "json"),
        _ => ("text/plain", "txt"),
    }
}

/// `s` escaped for XML text and attributes.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The manifest: `sha256sum` lines (`<hex>  <path>`), one per file, in pack order.
pub fn manifest(files: &[PackFile]) -> String {
    let mut out = String::new();
    for f in files {
        let _ = writeln!(out, "{}  {}", sha256_hex(&f.bytes), f.path);
    }
    out
}

/// The SInCRO index (PIndex) of the files and the manifest. Structure after UNI 11386:2020
/// as far as it could be verified from public sources (see docs/evidence.md).
pub fn index_xml(meta: &PackMeta, files: &[PackFile], manifest: &str) -> String {
    let mut x = String::new();
    let id = format!("urn:pecdesk:evidence:{}", meta.pack_id);
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<PIndex xmlns="{SINCRO_NS}" language="it" sincroVersion="2.0" uri="{SINCRO_NS}PIndex.xsd">"#
    );
    let _ = writeln!(x, "  <SelfDescription>");
    let _ = writeln!(x, r#"    <ID scheme="local">{}</ID>"#, xml_escape(&id));
    let _ = writeln!(x, "    <CreatingApplication>");
    let _ = writeln!(x, "      <Name>PecDesk</Name>");
    let _ = writeln!(
        x,
        "      <Version>{}</Version>",
        xml_escape(&meta.generator)
    );
    let _ = writeln!(x, "      <Producer>PecDesk</Producer>");
    let _ = writeln!(x, "    </CreatingApplication>");
    let _ = writeln!(x, "  </SelfDescription>");
    let _ = writeln!(x, "  <PVolume>");
    let _ = writeln!(x, r#"    <ID scheme="local">{}</ID>"#, xml_escape(&id));
    let _ = writeln!(x, "    <Label>Pacchetto di evidenze PEC</Label>");
    let description = match meta.scope.as_str() {
        "message" => format!(
            "Messaggio PEC {} con ricevute, dati di certificazione, verifica della firma e registro di audit",
            meta.object_id
        ),
        "activity" => format!(
            "Attività {} con i suoi messaggi PEC, ricevute, dati di certificazione, verifica della firma e registro di audit",
            meta.object_id
        ),
        _ => format!(
            "Messaggi PEC della casella {} ricevuti da {} a {} (ms dall'epoca) con ricevute, dati di certificazione, verifica della firma e registro di audit",
            meta.object_id,
            meta.from.unwrap_or_default(),
            meta.to.unwrap_or_default()
        ),
    };
    let _ = writeln!(
        x,
        "    <Description>{}</Description>",
        xml_escape(&description)
    );
    let _ = writeln!(x, "  </PVolume>");
    let mut groups: Vec<(&str, Vec<(&str, String)>)> = Vec::new();
    for f in files {
        let entry = (f.path.as_str(), sha256_hex(&f.bytes));
        match groups.last_mut() {
            Some((g, list)) if *g == f.group => list.push(entry),
            _ => groups.push((f.group.as_str(), vec![entry])),
        }
    }
    groups.push((
        "manifesto",
        vec![(MANIFEST, sha256_hex(manifest.as_bytes()))],
    ));
    for (n, (label, list)) in groups.iter().enumerate() {
        let _ = writeln!(x, "  <FileGroup>");
        let _ = writeln!(x, r#"    <ID scheme="local">gruppo-{:04}</ID>"#, n + 1);
        let _ = writeln!(x, "    <Label>{}</Label>", xml_escape(label));
        for (path, hash) in list {
            let (format, extension) = format_of(path);
            let _ = writeln!(
                x,
                r#"    <File format="{format}" encoding="binary" extension="{extension}">"#
            );
            let _ = writeln!(x, r#"      <ID scheme="local">{}</ID>"#, xml_escape(path));
            let _ = writeln!(x, "      <Path>{}</Path>", xml_escape(path));
            let _ = writeln!(
                x,
                r#"      <Hash hashFunction="SHA-256" canonicalXML="false">{hash}</Hash>"#
            );
            let _ = writeln!(x, "    </File>");
        }
        let _ = writeln!(x, "  </FileGroup>");
    }
    let org = xml_escape(&meta.org_name);
    let _ = writeln!(x, "  <Process>");
    let _ = writeln!(x, r#"    <Submitter agentType="legal person">"#);
    let _ = writeln!(
        x,
        "      <AgentName><FormalName>{org}</FormalName></AgentName>"
    );
    let _ = writeln!(x, "    </Submitter>");
    let _ = writeln!(
        x,
        r#"    <Holder agentType="legal person" holderRole="soggetto produttore">"#
    );
    let _ = writeln!(
        x,
        "      <AgentName><FormalName>{org}</FormalName></AgentName>"
    );
    let _ = writeln!(x, "    </Holder>");
    let _ = writeln!(x, "    <TimeReference>");
    let _ = writeln!(
        x,
        r#"      <TimeInfo attachedTimeStamp="false">{}</TimeInfo>"#,
        xml_escape(&meta.created_at)
    );
    let _ = writeln!(x, "    </TimeReference>");
    let _ = writeln!(
        x,
        "    <LawsAndRegulations>Linee Guida AgID sulla formazione, gestione e conservazione dei documenti informatici; UNI 11386:2020</LawsAndRegulations>"
    );
    let _ = writeln!(x, "  </Process>");
    let _ = writeln!(x, "</PIndex>");
    x
}

/// Seals content files into a pack: adds `pacchetto.json`, the manifest, the index and its
/// signature, and writes the ZIP. `files` must not hold the four sealing files.
pub fn seal(meta: &PackMeta, mut files: Vec<PackFile>, signer: &Signer) -> anyhow::Result<Vec<u8>> {
    files.insert(
        0,
        PackFile {
            path: META.to_owned(),
            bytes: serde_json::to_vec_pretty(meta)?,
            group: "pacchetto".to_owned(),
        },
    );
    let manifest = manifest(&files);
    let index = index_xml(meta, &files, &manifest);
    let index_sha = sha256_hex(index.as_bytes());
    let signature = IndexSignature {
        v: 1,
        file: INDEX.to_owned(),
        sha256: index_sha.clone(),
        key: signer.public_key(),
        sig: signer.sign_text(&signed_text(&index_sha)),
    };
    let signature = serde_json::to_vec_pretty(&signature)?;

    use zip::write::SimpleFileOptions;
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in [
        (INDEX, index.as_bytes()),
        (SIGNATURE, signature.as_slice()),
        (MANIFEST, manifest.as_bytes()),
    ] {
        w.start_file(name, opts)?;
        w.write_all(bytes)?;
    }
    for f in &files {
        w.start_file(f.path.as_str(), opts)?;
        w.write_all(&f.bytes)?;
    }
    Ok(w.finish()?.into_inner())
}

/// The short fingerprint of a public key (first 16 hex digits of its SHA-256), for output.
pub fn key_fingerprint(key: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap_or_default();
    sha256_hex(&bytes).chars().take(16).collect()
}
