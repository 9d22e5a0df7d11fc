//! Offline check of an evidence pack (`pecdesk archive verify PACK.zip`): no database, only
//! the ZIP (and, optionally, the public key it must be signed with).
//!
//! In order: the index's signature; the index's file list; the manifest against the index;
//! every file against the manifest (and no file more or less); the audit segment's hash
//! chain (the same [`entry_hash`] as the live log) up to its head; the checkpoint's
//! signature and that the chain holds the checkpointed entry. Every problem is reported; the
//! first names the first file that no longer matches.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek};

use quick_xml::Reader;
use quick_xml::events::Event;

use super::{
    AUDIT, AuditSegment, INDEX, IndexSignature, MANIFEST, META, SIGNATURE, SegmentHead, sha256_hex,
    signed_text,
};
use crate::checkpoint::text_signature_ok;
use crate::store::audit::{GENESIS, entry_hash};

/// One thing that does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (path in the pack) that does not match.
    pub file: String,
    /// Why (Italian / English).
    pub reason: String,
}

/// What the check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Files in the pack.
    pub files: usize,
    /// The signing key (base64), when the signature file could be read.
    pub key: Option<String>,
    /// Entries of the audit segment, entries with content, and its range.
    pub segment: Option<SegmentSummary>,
    /// Everything that does not match, first the first.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Whether the pack is intact.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What a verified segment covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    /// First entry.
    pub first: i64,
    /// The head.
    pub head: i64,
    /// Entries shown with their content.
    pub shown: usize,
    /// The checkpointed entry, when the pack carries a checkpoint.
    pub checkpoint: Option<i64>,
}

fn problem(file: &str, reason: impl Into<String>) -> Problem {
    Problem {
        file: file.to_owned(),
        reason: reason.into(),
    }
}

/// Checks a pack. `pinned_key`: the public key (base64) it must be signed with.
pub fn verify_pack<R: Read + Seek>(reader: R, pinned_key: Option<&str>) -> Report {
    let mut report = Report::default();
    let mut zip = match zip::ZipArchive::new(reader) {
        Ok(z) => z,
        Err(e) => {
            report.problems.push(problem(
                "(zip)",
                format!("non è un archivio ZIP leggibile / not a readable ZIP archive: {e}"),
            ));
            return report;
        }
    };
    // Every file's hash; the small sealing files kept whole.
    let mut hashes: Vec<(String, String)> = Vec::new();
    let mut kept: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = match zip.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                report.problems.push(problem(
                    &format!("(voce {i} / entry {i})"),
                    format!("voce illeggibile / unreadable entry: {e}"),
                ));
                continue;
            }
        };
        let name = match f.name() {
            Ok(n) => n.into_owned(),
            Err(e) => {
                report.problems.push(problem(
                    &format!("(voce {i} / entry {i})"),
                    format!("nome illeggibile / unreadable name: {e}"),
                ));
                continue;
            }
        };
        if f.is_dir() {
            continue;
        }
        let mut bytes = Vec::new();
        if let Err(e) = f.read_to_end(&mut bytes) {
            report.problems.push(problem(
                &name,
                format!("file danneggiato nello ZIP / file damaged in the ZIP: {e}"),
            ));
            continue;
        }
        hashes.push((name.clone(), sha256_hex(&bytes)));
        if [INDEX, SIGNATURE, MANIFEST, META, AUDIT].contains(&name.as_str()) {
            kept.insert(name, bytes);
        }
    }
    report.files = hashes.len();

    // 1. The signature covers the index.
    let index = kept.get(INDEX);
    let signature: Option<IndexSignature> = match kept.get(SIGNATURE) {
        None => {
            report.problems.push(problem(
                SIGNATURE,
                "manca la firma dell'indice / the index signature is missing",
            ));
            None
        }
        Some(b) => match serde_json::from_slice::<IndexSignature>(b) {
            Ok(s)
                if s.v == 1
                    && s.file == INDEX
                    && text_signature_ok(&s.key, &signed_text(&s.sha256), &s.sig) =>
            {
                Some(s)
            }
            Ok(_) | Err(_) => {
                report.problems.push(problem(
                    SIGNATURE,
                    "firma dell'indice alterata o non valida / index signature altered or invalid",
                ));
                None
            }
        },
    };
    if let Some(s) = &signature {
        report.key = Some(s.key.clone());
        if pinned_key.is_some_and(|k| k != s.key) {
            report.problems.push(problem(
                SIGNATURE,
                "firmato con un'altra chiave, non quella indicata / signed with another key than the one given",
            ));
        }
        match index {
            Some(b) if sha256_hex(b) == s.sha256 => {}
            Some(_) => report.problems.push(problem(
                INDEX,
                "l'indice non corrisponde alla firma / the index does not match its signature",
            )),
            None => report
                .problems
                .push(problem(INDEX, "manca l'indice / the index is missing")),
        }
    }

    // 2. The index's files.
    let listed = match index.map(|b| index_files(b)) {
        Some(Ok(list)) => Some(list),
        Some(Err(e)) => {
            report.problems.push(problem(
                INDEX,
                format!("indice illeggibile / unreadable index: {e}"),
            ));
            None
        }
        None => None,
    };

    // 3. The manifest against the index.
    let manifest: Option<Vec<(String, String)>> = match kept.get(MANIFEST) {
        None => {
            report.problems.push(problem(
                MANIFEST,
                "manca il manifesto / the manifest is missing",
            ));
            None
        }
        Some(b) => match parse_manifest(b) {
            Ok(m) => Some(m),
            Err(e) => {
                report.problems.push(problem(MANIFEST, e));
                None
            }
        },
    };
    if let (Some(listed), Some(b)) = (&listed, kept.get(MANIFEST)) {
        match listed.get(MANIFEST) {
            Some(h) if *h == sha256_hex(b) => {}
            _ => report.problems.push(problem(
                MANIFEST,
                "il manifesto non corrisponde all'indice / the manifest does not match the index",
            )),
        }
        if let Some(m) = &manifest {
            let in_manifest: BTreeMap<&str, &str> =
                m.iter().map(|(p, h)| (p.as_str(), h.as_str())).collect();
            let in_index: BTreeMap<&str, &str> = listed
                .iter()
                .filter(|(p, _)| p.as_str() != MANIFEST)
                .map(|(p, h)| (p.as_str(), h.as_str()))
                .collect();
            if in_manifest != in_index {
                report.problems.push(problem(
                    MANIFEST,
                    "manifesto e indice elencano file o impronte diversi / the manifest and the index list different files or hashes",
                ));
            }
        }
    }

    // 4. Every file against the manifest.
    if let Some(m) = &manifest {
        let expected: BTreeMap<&str, &str> =
            m.iter().map(|(p, h)| (p.as_str(), h.as_str())).collect();
        let mut seen = BTreeSet::new();
        for (name, hash) in &hashes {
            if [INDEX, SIGNATURE, MANIFEST].contains(&name.as_str()) {
                continue;
            }
            seen.insert(name.as_str());
            match expected.get(name.as_str()) {
                Some(h) if h == hash => {}
                Some(_) => report.problems.push(problem(
                    name,
                    "impronta SHA-256 diversa dal manifesto / SHA-256 differs from the manifest",
                )),
                None => report.problems.push(problem(
                    name,
                    "file non elencato nel manifesto / file not listed in the manifest",
                )),
            }
        }
        for (path, _) in m {
            if !seen.contains(path.as_str()) {
                report.problems.push(problem(
                    path,
                    "file del manifesto mancante nel pacchetto / file of the manifest missing from the pack",
                ));
            }
        }
    }

    // 5. The audit segment's chain, 6. its checkpoint.
    match kept
        .get(AUDIT)
        .map(|b| serde_json::from_slice::<AuditSegment>(b))
    {
        None => report.problems.push(problem(
            AUDIT,
            "manca il registro di audit / the audit segment is missing",
        )),
        Some(Err(e)) => report.problems.push(problem(
            AUDIT,
            format!("registro di audit illeggibile / unreadable audit segment: {e}"),
        )),
        Some(Ok(seg)) => match verify_segment(&seg, signature.as_ref().map(|s| s.key.as_str())) {
            Ok(summary) => report.segment = Some(summary),
            Err(reason) => report.problems.push(problem(AUDIT, reason)),
        },
    }
    report
}

/// The `(Path, Hash)` of every `File` of a SInCRO index.
fn index_files(xml: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let text = std::str::from_utf8(xml).map_err(|_| "non UTF-8 / not UTF-8".to_owned())?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out = BTreeMap::new();
    let mut root_ok = false;
    let mut current: Option<&'static str> = None;
    let (mut path, mut hash) = (String::new(), String::new());
    let mut hash_function = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let name = e.local_name();
                match name.as_ref() {
                    b"PIndex" => {
                        root_ok = e.attributes().flatten().any(|a| {
                            a.key.as_ref() == b"xmlns"
                                && a.value.as_ref() == super::SINCRO_NS.as_bytes()
                        });
                    }
                    b"File" => {
                        path.clear();
                        hash.clear();
                        hash_function.clear();
                    }
                    b"Path" => current = Some("path"),
                    b"Hash" => {
                        current = Some("hash");
                        for a in e.attributes().flatten() {
                            if a.key.as_ref() == b"hashFunction" {
                                hash_function = String::from_utf8_lossy(&a.value).into_owned();
                            }
                        }
                    }
                    _ => current = None,
                }
            }
            Ok(Event::Text(t)) => {
                let t = t.decode().map_err(|e| e.to_string())?;
                match current {
                    Some("path") => path.push_str(&t),
                    Some("hash") => hash.push_str(&t),
                    _ => {}
                }
            }
            Ok(Event::End(e)) => {
                if e.local_name().as_ref() == b"File" {
                    if hash_function != "SHA-256" {
                        return Err(format!(
                            "{path}: funzione di hash {hash_function} / hash function {hash_function}"
                        ));
                    }
                    if out.insert(path.clone(), hash.trim().to_owned()).is_some() {
                        return Err(format!("{path}: elencato due volte / listed twice"));
                    }
                }
                current = None;
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("{e} (byte {})", reader.error_position())),
        }
    }
    if !root_ok {
        return Err(format!(
            "manca PIndex nel namespace {} / no PIndex in namespace {}",
            super::SINCRO_NS,
            super::SINCRO_NS
        ));
    }
    Ok(out)
}

/// The manifest's `(path, hash)` lines.
fn parse_manifest(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "manifesto non UTF-8 / manifest not UTF-8".to_owned())?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || {
            format!(
                "manifesto illeggibile alla riga {} / unreadable manifest at line {}",
                n + 1,
                n + 1
            )
        };
        let (hash, path) = line.split_once("  ").ok_or_else(bad)?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || path.is_empty() {
            return Err(bad());
        }
        out.push((path.to_owned(), hash.to_owned()));
    }
    Ok(out)
}

/// Checks an audit segment: a contiguous run of one organisation's chain, each entry linked
/// to the previous by `prev_hash`, each entry with content hashing (same rule as the live
/// log) to its `hash`, ending at the head; and the checkpoint, if any, signed (with
/// `pack_key` when given) and held by the segment.
pub fn verify_segment(
    seg: &AuditSegment,
    pack_key: Option<&str>,
) -> Result<SegmentSummary, String> {
    let first = seg
        .entries
        .first()
        .ok_or("registro di audit vuoto / empty audit segment")?;
    let broken = |seq: i64, why: &str| {
        format!(
            "catena di audit interrotta alla voce {seq}: {why} / audit chain broken at entry {seq}: {why}"
        )
    };
    if first.seq < 1 || (first.seq == 1 && first.prev_hash != GENESIS) {
        return Err(broken(
            first.seq,
            "inizio della catena non valido / invalid chain start",
        ));
    }
    let mut prev: Option<(i64, &str)> = None;
    let mut shown = 0;
    for e in &seg.entries {
        if let Some((seq, hash)) = prev {
            if e.seq != seq + 1 {
                return Err(broken(seq + 1, "voce mancante / missing entry"));
            }
            if e.prev_hash != hash {
                return Err(broken(
                    e.seq,
                    "hash precedente diverso / previous hash mismatch",
                ));
            }
        }
        if let Some(c) = &e.entry {
            if c.org_id.as_deref() != Some(seg.chain.as_str()) {
                return Err(broken(
                    e.seq,
                    "voce di un'altra catena / entry of another chain",
                ));
            }
            let h = entry_hash(
                &e.prev_hash,
                e.seq,
                c.at,
                c.org_id.as_deref(),
                c.actor_id.as_deref(),
                &c.action,
                &c.object_type,
                &c.object_id,
                &c.details,
            );
            if h != e.hash {
                return Err(broken(e.seq, "contenuto alterato / content altered"));
            }
            shown += 1;
        }
        prev = Some((e.seq, &e.hash));
    }
    let last = prev.map(|(seq, hash)| SegmentHead {
        seq,
        hash: hash.to_owned(),
    });
    if last.as_ref() != Some(&seg.head) {
        return Err(broken(
            seg.head.seq,
            "il segmento non arriva alla testa / the segment does not reach the head",
        ));
    }
    let mut checkpoint = None;
    if let Some(cp) = &seg.checkpoint {
        if cp.chain != seg.chain || !cp.signature_ok(&cp.key) {
            return Err(
                "punto di controllo con firma non valida / checkpoint signature does not verify"
                    .to_owned(),
            );
        }
        if pack_key.is_some_and(|k| k != cp.key) {
            return Err(
                "punto di controllo firmato con un'altra chiave / checkpoint signed with another key"
                    .to_owned(),
            );
        }
        let held = seg
            .entries
            .iter()
            .find(|e| e.seq == cp.seq)
            .is_some_and(|e| e.hash == cp.hash);
        if !held {
            return Err(broken(
                cp.seq,
                "la voce non è quella del punto di controllo / the entry is not the checkpointed one",
            ));
        }
        checkpoint = Some(cp.seq);
    }
    Ok(SegmentSummary {
        first: first.seq,
        head: seg.head.seq,
        shown,
        checkpoint,
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::auth::secrets::MasterKey;
    use crate::checkpoint::Signer;
    use crate::evidence::{EntryContent, PackFile, PackMeta, SegmentEntry, seal};

    fn chain(n: i64) -> Vec<SegmentEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let c = EntryContent {
                    at: 1000 + seq,
                    org_id: Some("org".into()),
                    actor_id: None,
                    action: "message.import".into(),
                    object_type: "message".into(),
                    object_id: format!("m{seq}"),
                    details: "{}".into(),
                };
                let hash = entry_hash(
                    &prev,
                    seq,
                    c.at,
                    Some("org"),
                    None,
                    &c.action,
                    &c.object_type,
                    &c.object_id,
                    &c.details,
                );
                SegmentEntry {
                    seq,
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                    entry: (seq % 2 == 1).then_some(c),
                }
            })
            .collect()
    }

    fn segment(entries: Vec<SegmentEntry>) -> AuditSegment {
        let last = entries.last().expect("entries");
        AuditSegment {
            v: 1,
            chain: "org".into(),
            objects: vec![],
            head: SegmentHead {
                seq: last.seq,
                hash: last.hash.clone(),
            },
            entries,
            checkpoint: None,
        }
    }

    #[test]
    fn a_segment_verifies_and_any_change_names_the_entry() {
        let good = segment(chain(5));
        let s = verify_segment(&good, None).expect("verifies");
        assert_eq!((s.first, s.head, s.shown), (1, 5, 3));
        // A suffix verifies too (links only before it are not needed).
        let mut tail = chain(5);
        tail.drain(..2);
        assert!(verify_segment(&segment(tail), None).is_ok());

        let mut altered = good.clone();
        if let Some(c) = altered.entries[2].entry.as_mut() {
            c.details = r#"{"x":1}"#.into();
        }
        let e = verify_segment(&altered, None).expect_err("altered");
        assert!(
            e.contains("entry 3") && e.contains("content altered"),
            "{e}"
        );

        let mut gap = good.clone();
        gap.entries.remove(3);
        let e = verify_segment(&gap, None).expect_err("gap");
        assert!(e.contains("entry 4"), "{e}");

        let mut cut = good.clone();
        cut.entries.pop();
        let e = verify_segment(&cut, None).expect_err("cut");
        assert!(e.contains("head"), "{e}");
    }

    #[test]
    fn a_sealed_pack_verifies_offline_and_names_what_changed() {
        let signer = Signer::from_master(&MasterKey::from_bytes([3; 32]));
        let meta = PackMeta {
            v: 1,
            pack_id: "p".into(),
            created_at: "2026-12-01T00:00:00.000Z".into(),
            org_id: "org".into(),
            org_name: "Studio & Co <srl>".into(),
            scope: "message".into(),
            object_id: "m1".into(),
            from: None,
            to: None,
            messages: 1,
            created_by: "u".into(),
            generator: "test".into(),
        };
        let files = vec![
            PackFile {
                path: "messaggi/0001-m1/messaggio.eml".into(),
                bytes: b"Subject: prova\r\n\r\nTesto\r\n".to_vec(),
                group: "messaggi/0001-m1".into(),
            },
            PackFile {
                path: AUDIT.into(),
                bytes: serde_json::to_vec(&segment(chain(3))).expect("json"),
                group: "registro".into(),
            },
        ];
        let zip = seal(&meta, files, &signer).expect("seal");
        let r = verify_pack(std::io::Cursor::new(&zip), Some(&signer.public_key()));
        assert!(r.ok(), "{:?}", r.problems);
        assert_eq!(r.files, 6);
        let other = Signer::from_master(&MasterKey::from_bytes([4; 32]));
        let r = verify_pack(std::io::Cursor::new(&zip), Some(&other.public_key()));
        assert_eq!(r.problems[0].file, SIGNATURE);
        assert!(index_files(b"<PIndex/>").is_err(), "namespace required");
        assert!(parse_manifest(b"abc  x\n").is_err());
    }
}
