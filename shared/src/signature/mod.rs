//! S/MIME signature check of a PEC message (`smime.p7s` over the first part of
//! `multipart/signed`). See `PEC.md`, "Signature".
//!
//! What is checked, in order:
//! 1. the message is `multipart/signed` ([`SignatureStatus::Missing`] otherwise);
//! 2. the first part, hashed exactly as it stands (bare LF turned into CRLF, RFC 5751),
//!    matches the `messageDigest` signed attribute, with the digest algorithm named inside
//!    the signature (not `micalg`, which providers spell in many ways);
//! 3. the signer's RSA signature covers the signed attributes' *original* bytes (first
//!    octet 0xA0 read as 0x31, RFC 5652 5.4) — re-encoding could reorder the SET OF;
//! 4. the signer certificate chains (possibly through certificates carried in the
//!    signature) to a trust anchor — a PEC provider's CA from the provider list, or an
//!    extra configured anchor — each issuer's signature verified, and every certificate of
//!    the path is valid at the message's date: the `signingTime` attribute, else the `Date`
//!    header. The core never reads the clock;
//! 5. the signer is an accredited PEC provider: it chains to a CA of a provider of the list
//!    ([`providers`]) and its certificate names that provider (listed itself, `O=`, or its
//!    e-mail domain). A chain to an extra anchor only (a system CA bundle) is not enough;
//! 6. its key may sign e-mail: `keyUsage` with `digitalSignature` or `nonRepudiation`,
//!    `extendedKeyUsage` (when present) with `emailProtection`;
//! 7. it is the envelope's provider: the `From` address is `posta-certificata@` one of the
//!    provider's domains (or the signer certificate's own address), and daticert's
//!    `gestore-emittente`, when known, names the provider.
//!
//! Steps 2–3 failing is [`SignatureStatus::Invalid`]; steps 4–7 failing are
//! [`SignatureStatus::Untrusted`] with the reason of the first failed step. The envelope's
//! own headers (Subject, From, To) are not covered by the signature: only the first body
//! part is; step 7 ties the unsigned `From` to the signer. See `docs/trust.md`.
//!
//! Pure Rust (RustCrypto `rsa`, `sha1`, `sha2`; certificates read by `x509.rs` on the BER
//! reader); no OpenSSL, no randomness, builds for `wasm32-unknown-unknown`. Never panics on
//! any input.
//!
//! Not checked (say so before relying on `valid`): revocation (CRL/OCSP: the core does no
//! I/O), `pathLenConstraint`,
//! name constraints, and the anchors' own validity dates (an anchor is a name and a key,
//! RFC 5280 6.1.1). Algorithms: RSA PKCS#1 v1.5 with SHA-1/224/256/384/512 only
//! (no RSA-PSS, no ECDSA: no PEC provider uses them).

mod ber;
pub mod cades;
mod cms;
mod crypto;
mod mime;
mod oids;
pub mod providers;
pub mod qualified;
mod tsl;
mod x509;

use serde::{Deserialize, Serialize};

pub use cades::{SignedDocument, read_signed_document};
use crypto::{Cert, DigestAlg, KeyError, RawCert};
pub use mime::SignedLayout;
pub use providers::Provider;
pub use qualified::QualifiedCas;
pub use tsl::parse_trusted_list;

/// Longest certificate path followed from the signer to an anchor.
const MAX_CHAIN: usize = 6;
/// Signers and carried certificates looked at (PEC signatures have one signer and two
/// or three certificates): bounds the hashing and RSA work a hostile signature can cause.
const MAX_SIGNERS: usize = 8;
const MAX_CERTIFICATES: usize = 32;

/// Outcome of the signature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureStatus {
    /// The math is right and the signer is the envelope's PEC provider, from the provider
    /// list, with a key that may sign e-mail.
    Valid,
    /// A signature is present but does not verify (digest or signature mismatch, broken CMS).
    Invalid,
    /// No `multipart/signed` / `smime.p7s` on the message.
    Missing,
    /// The math is right but the signer is not shown to be the envelope's PEC provider
    /// (the reason says which check failed).
    Untrusted,
}

/// Why a check did not come out [`SignatureStatus::Valid`]. Serialized in kebab-case
/// (`content-digest-mismatch`, ...) so that clients can show their own text;
/// [`SignatureProblem::italian`] gives the Italian one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureProblem {
    /// `Missing`: the message is not `multipart/signed`.
    #[error("the message is not signed (no multipart/signed)")]
    NotSigned,
    /// `Missing`: `multipart/signed` with another protocol (e.g. OpenPGP), not S/MIME.
    #[error("the message is signed with another protocol than S/MIME")]
    NotSmime,
    /// `Invalid`: `multipart/signed` without a second (signature) part.
    #[error("multipart/signed without a signature part")]
    SignaturePartMissing,
    /// `Invalid`: the signature part is not a readable CMS SignedData.
    #[error("the signature cannot be read (malformed CMS)")]
    MalformedSignature,
    /// `Invalid`: the signature does not carry the signer's certificate.
    #[error("the signer certificate is not in the signature")]
    SignerCertificateMissing,
    /// `Invalid`: a digest or signature algorithm this check does not implement.
    #[error("unsupported digest or signature algorithm")]
    UnsupportedAlgorithm,
    /// `Invalid`: the signed part was changed after signing.
    #[error("the signed content does not match its digest")]
    ContentDigestMismatch,
    /// `Invalid`: the signer's signature does not verify with its certificate.
    #[error("the signature does not verify with the signer certificate")]
    SignatureMismatch,
    /// `Untrusted`: no configured trust anchor issued the signer (or its chain).
    #[error("no configured trust anchor vouches for the signer")]
    NoTrustAnchor,
    /// `Untrusted`: a certificate of the path was not valid at the message's date.
    #[error("a certificate was not valid at the message's date")]
    CertificateNotValidAtMessageDate,
    /// `Untrusted`: neither `signingTime` nor `Date` gives the message's date.
    #[error("the message has no date to judge certificate validity")]
    MessageDateUnknown,
    /// `Untrusted`: the signer chains to an anchor, but is not an accredited PEC provider
    /// of the provider list (e.g. an ordinary S/MIME certificate from a public CA).
    #[error("the signer is not an accredited PEC provider")]
    NotAPecProvider,
    /// `Untrusted`: the signer certificate may not sign e-mail (key usage).
    #[error("the signer certificate may not sign e-mail (key usage)")]
    KeyUsage,
    /// `Untrusted`: the signer is a PEC provider, but not the one the envelope names
    /// (`From: posta-certificata@...`, daticert `gestore-emittente`).
    #[error("the signer is not the provider the message names")]
    ProviderMismatch,
}

impl SignatureProblem {
    /// The explanation in Italian, for the user interface.
    pub fn italian(self) -> &'static str {
        match self {
            Self::NotSigned => "Il messaggio non è firmato.",
            Self::NotSmime => "Il messaggio è firmato con un formato diverso da S/MIME.",
            Self::SignaturePartMissing => "Il messaggio dichiara una firma ma non la contiene.",
            Self::MalformedSignature => "La firma non è leggibile.",
            Self::SignerCertificateMissing => {
                "La firma non contiene il certificato del firmatario."
            }
            Self::UnsupportedAlgorithm => "Algoritmo di firma non supportato.",
            Self::ContentDigestMismatch => "Il contenuto firmato è stato modificato dopo la firma.",
            Self::SignatureMismatch => "La firma non corrisponde al certificato del firmatario.",
            Self::NoTrustAnchor => {
                "Il firmatario non è garantito da nessuna autorità di certificazione configurata."
            }
            Self::CertificateNotValidAtMessageDate => {
                "Il certificato non era valido alla data del messaggio."
            }
            Self::MessageDateUnknown => {
                "Il messaggio non ha una data: impossibile verificare la validità del certificato."
            }
            Self::NotAPecProvider => "Il firmatario non è un gestore PEC accreditato.",
            Self::KeyUsage => "Il certificato del firmatario non è abilitato a firmare la posta.",
            Self::ProviderMismatch => "Il firmatario non è il gestore PEC indicato dal messaggio.",
        }
    }
}

/// What `inspect` reports under `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureReport {
    pub status: SignatureStatus,
    /// Subject of the signer certificate (the provider), RFC 4514 form, when readable.
    pub signer: Option<String>,
    /// Start of the signer certificate's validity, ISO 8601 UTC, when readable.
    pub not_before: Option<String>,
    /// End of the signer certificate's validity, ISO 8601 UTC, when readable.
    pub not_after: Option<String>,
    /// Why the status is not `valid` (`None` when it is).
    #[serde(default)]
    pub reason: Option<SignatureProblem>,
    /// The PEC provider of the list the signer was identified as (also when a later check
    /// failed, e.g. `provider-mismatch`); `None` when the signer is none of them.
    #[serde(default)]
    pub provider: Option<String>,
}

impl SignatureReport {
    /// The report for a message that carries no signature.
    pub fn missing() -> Self {
        Self::failed(SignatureStatus::Missing, SignatureProblem::NotSigned)
    }

    fn failed(status: SignatureStatus, reason: SignatureProblem) -> Self {
        Self {
            status,
            signer: None,
            not_before: None,
            not_after: None,
            reason: Some(reason),
            provider: None,
        }
    }

    /// Ordering used when a signature has several signers: the best one is reported.
    fn rank(&self) -> u8 {
        match self.status {
            SignatureStatus::Valid => 3,
            SignatureStatus::Untrusted => 2,
            SignatureStatus::Invalid => 1,
            SignatureStatus::Missing => 0,
        }
    }
}

/// What a signature is trusted against: the PEC provider list, and extra anchors.
///
/// Only a provider of `providers` makes a signature `valid`. Extra `certificates` (e.g. a
/// configured `ca_bundle`, a system CA bundle) complete chains but vouch for no provider:
/// a signer that reaches only them is `not-a-pec-provider`. [`TrustAnchors::default`]
/// trusts nothing; [`TrustAnchors::builtin`] is the built-in provider list.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    /// Extra DER-encoded anchor certificates (not providers).
    pub certificates: Vec<Vec<u8>>,
    /// The accredited PEC providers.
    pub providers: Vec<Provider>,
}

impl TrustAnchors {
    /// Reads a PEM bundle of CA certificates (`-----BEGIN CERTIFICATE-----` blocks; text
    /// between blocks, as in distribution bundles, is ignored). Fails when a block is not
    /// a readable X.509 certificate or when the bundle holds none: a configured but
    /// unusable bundle is a configuration mistake worth stopping for.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
        const END: &[u8] = b"-----END CERTIFICATE-----";
        let mut certificates = Vec::new();
        let mut rest = pem;
        while let Some(start) = memchr::memmem::find(rest, BEGIN) {
            let body_start = start + BEGIN.len();
            let Some(len) = memchr::memmem::find(&rest[body_start..], END) else {
                return Err(format!(
                    "certificato {} senza END / certificate {} has no END line",
                    certificates.len() + 1,
                    certificates.len() + 1
                ));
            };
            let body = &rest[body_start..body_start + len];
            let der = mime::decode_base64(body)
                .filter(|der| Cert::parse(der).is_some())
                .ok_or_else(|| {
                    format!(
                        "certificato {} illeggibile / certificate {} is not valid X.509",
                        certificates.len() + 1,
                        certificates.len() + 1
                    )
                })?;
            certificates.push(der);
            rest = &rest[body_start + len + END.len()..];
        }
        if certificates.is_empty() {
            return Err(
                "nessun certificato nel file PEM / no certificate in the PEM bundle".to_owned(),
            );
        }
        Ok(Self {
            certificates,
            providers: Vec::new(),
        })
    }

    /// Whether no anchor is configured (every correct signature is then `untrusted`).
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty() && self.providers.is_empty()
    }

    /// The built-in provider list (the providers of the public corpus), no extra anchor.
    pub fn builtin() -> Self {
        Self {
            certificates: Vec::new(),
            providers: providers::builtin(),
        }
    }

    /// Adds the providers of a provider list file (see [`providers`]).
    pub fn add_provider_list(&mut self, json: &[u8], pem: Option<&[u8]>) -> Result<(), String> {
        self.providers.extend(providers::parse_list(json, pem)?);
        Ok(())
    }

    /// Every anchor certificate: the providers' then the extra ones.
    fn all_certificates(&self) -> impl Iterator<Item = &[u8]> {
        self.providers
            .iter()
            .flat_map(|p| p.certificates.iter())
            .chain(&self.certificates)
            .map(Vec::as_slice)
    }
}

/// Where the signed content and the `smime.p7s` part lie in a raw message, or `None`
/// when it is not `multipart/signed`. Useful to show what the signature covers.
pub fn locate(raw: &[u8]) -> Option<SignedLayout> {
    mime::read_outer(raw).layout
}

/// Checks the S/MIME signature of a raw message (RFC 5322 bytes, LF or CRLF). Never panics.
/// Reads daticert's `gestore-emittente` itself (a second parse of the message); a caller
/// that has already inspected the message passes it to [`verify_with`] instead.
pub fn verify(raw: &[u8], anchors: &TrustAnchors) -> SignatureReport {
    let gestore = crate::pec::inspect(raw, &crate::pec::InspectOptions::default())
        .summary
        .provider;
    verify_with(raw, anchors, gestore.as_deref())
}

/// [`verify`] with daticert's `gestore-emittente` as read by the caller (`None` when the
/// message has none: only the `From` address then ties the signer to the envelope).
pub fn verify_with(
    raw: &[u8],
    anchors: &TrustAnchors,
    gestore_emittente: Option<&str>,
) -> SignatureReport {
    let outer = mime::read_outer(raw);
    let Some(layout) = outer.layout else {
        return SignatureReport::missing();
    };
    if !layout.is_smime() {
        return SignatureReport::failed(SignatureStatus::Missing, SignatureProblem::NotSmime);
    }
    let Some(p7s_entity) = layout.signature_part.and_then(|r| raw.get(r)) else {
        return invalid(SignatureProblem::SignaturePartMissing);
    };
    let Some(p7s) = mime::signature_bytes(p7s_entity) else {
        return invalid(SignatureProblem::MalformedSignature);
    };
    let Ok(signed_data) = cms::parse_signed_data(&p7s) else {
        return invalid(SignatureProblem::MalformedSignature);
    };
    let content = raw.get(layout.content).unwrap_or_default();
    let bundled: Vec<Cert<'_>> = signed_data
        .certificates
        .iter()
        .take(MAX_CERTIFICATES)
        .filter_map(|der| Cert::parse(der))
        .collect();
    let context = Context {
        content,
        bundled: &bundled,
        anchors,
        header_date: outer.date,
        from: outer.from.as_deref(),
        gestore: gestore_emittente.filter(|g| !g.trim().is_empty()),
    };
    signed_data
        .signers
        .iter()
        .take(MAX_SIGNERS)
        .map(|signer| context.check_signer(signer))
        .max_by_key(SignatureReport::rank)
        .unwrap_or_else(|| invalid(SignatureProblem::MalformedSignature))
}

fn invalid(reason: SignatureProblem) -> SignatureReport {
    SignatureReport::failed(SignatureStatus::Invalid, reason)
}

/// What every signer of one message is checked against.
struct Context<'c, 'a> {
    content: &'c [u8],
    bundled: &'c [Cert<'a>],
    anchors: &'c TrustAnchors,
    header_date: Option<i64>,
    from: Option<&'c str>,
    gestore: Option<&'c str>,
}

impl<'c> Context<'c, '_> {
    fn check_signer(&self, signer: &cms::SignerInfo<'_>) -> SignatureReport {
        let Some(alg) = DigestAlg::from_digest_oid(signer.digest_algorithm) else {
            return invalid(SignatureProblem::UnsupportedAlgorithm);
        };
        // PKCS#1 v1.5 only: `rsaEncryption` or `shaNNNWithRSAEncryption` (the hash is the
        // signer's digest algorithm either way).
        let rsa_signature = signer.signature_algorithm == oids::RSA_ENCRYPTION
            || DigestAlg::from_rsa_signature_oid(signer.signature_algorithm).is_some();
        if !rsa_signature {
            return invalid(SignatureProblem::UnsupportedAlgorithm);
        }
        // The signer certificate travels in the signature; a configured anchor may also
        // be the signer itself. Anchors are decoded only when their bytes match.
        let from_anchor;
        let cert = match self
            .bundled
            .iter()
            .find(|cert| identifies(&signer.sid, cert))
        {
            Some(cert) => cert,
            None => {
                from_anchor = self.anchor_named_by(&signer.sid);
                match &from_anchor {
                    Some(cert) => cert,
                    None => return invalid(SignatureProblem::SignerCertificateMissing),
                }
            }
        };
        let mut report = describe(cert);
        match self.check_math(signer, alg, cert) {
            Ok(signing_time) => {
                let at = signing_time.or(self.header_date);
                let (provider, outcome) = self.check_trust(cert, at);
                report.provider = provider.map(|p| p.name.clone());
                match outcome {
                    Ok(()) => {
                        report.status = SignatureStatus::Valid;
                        report.reason = None;
                    }
                    Err(problem) => {
                        report.status = SignatureStatus::Untrusted;
                        report.reason = Some(problem);
                    }
                }
            }
            Err(problem) => {
                report.status = SignatureStatus::Invalid;
                report.reason = Some(problem);
            }
        }
        report
    }

    /// Checks digest and signature; returns the `signingTime` when the math is right.
    fn check_math(
        &self,
        signer: &cms::SignerInfo<'_>,
        alg: DigestAlg,
        cert: &Cert<'_>,
    ) -> Result<Option<i64>, SignatureProblem> {
        let mut hasher = alg.hasher();
        mime::feed_canonical(self.content, |chunk| hasher.update(chunk));
        let content_digest = hasher.finalize();
        let (hashed, signing_time) = match &signer.signed_attrs {
            None => (content_digest, None),
            Some(attrs) => {
                let read = cms::read_signed_attributes(attrs)
                    .map_err(|_| SignatureProblem::MalformedSignature)?;
                let expected = read
                    .message_digest
                    .ok_or(SignatureProblem::MalformedSignature)?;
                if expected.as_ref() != content_digest.as_slice() {
                    return Err(SignatureProblem::ContentDigestMismatch);
                }
                let signed_bytes = signed_attributes_bytes(attrs)
                    .map_err(|_| SignatureProblem::MalformedSignature)?;
                let signing_time = read.signing_time.as_ref().and_then(x509::time_seconds);
                (alg.digest(&signed_bytes), signing_time)
            }
        };
        crypto::verify_rsa(cert, alg, &hashed, &signer.signature).map_err(|e| match e {
            KeyError::Unsupported => SignatureProblem::UnsupportedAlgorithm,
            KeyError::Mismatch => SignatureProblem::SignatureMismatch,
        })?;
        Ok(signing_time)
    }

    /// Steps 4–7 of the module documentation: the provider the signer was identified as
    /// (when it was) and the outcome.
    fn check_trust(
        &self,
        signer: &Cert<'_>,
        at: Option<i64>,
    ) -> (Option<&Provider>, Result<(), SignatureProblem>) {
        let anchor = match self.chain_to_anchor(signer, at) {
            Ok(anchor) => anchor,
            Err(problem) => return (None, Err(problem)),
        };
        // The providers whose CA (or own certificate) the chain reached, and that the
        // signer certificate names.
        let Some(provider) = self
            .anchors
            .providers
            .iter()
            .filter(|p| p.holds(anchor))
            .find(|p| p.identifies(signer))
        else {
            return (None, Err(SignatureProblem::NotAPecProvider));
        };
        if !signer.may_sign_email() {
            return (Some(provider), Err(SignatureProblem::KeyUsage));
        }
        if !self.envelope_names(provider, signer) {
            return (Some(provider), Err(SignatureProblem::ProviderMismatch));
        }
        (Some(provider), Ok(()))
    }

    /// Whether the envelope is `provider`'s: `From: posta-certificata@` one of its domains
    /// (or the signer certificate's own address), and `gestore-emittente`, when known,
    /// naming it.
    fn envelope_names(&self, provider: &Provider, signer: &Cert<'_>) -> bool {
        let Some((local, domain)) = self.from.and_then(|from| from.rsplit_once('@')) else {
            return false;
        };
        let from_provider = local.eq_ignore_ascii_case("posta-certificata")
            && (provider.has_domain(domain)
                || signer.email_addresses().iter().any(|a| {
                    a.rsplit_once('@').is_some_and(|(l, d)| {
                        l.eq_ignore_ascii_case(local) && d.eq_ignore_ascii_case(domain)
                    })
                }));
        from_provider && self.gestore.is_none_or(|g| provider.is_named(g))
    }

    /// Follows issuers from the signer to an anchor and checks validity dates on the way;
    /// returns the anchor certificate reached.
    fn chain_to_anchor(
        &self,
        signer: &Cert<'_>,
        at: Option<i64>,
    ) -> Result<&[u8], SignatureProblem> {
        if self.anchors.is_empty() {
            return Err(SignatureProblem::NoTrustAnchor);
        }
        let mut path: Vec<&Cert<'_>> = vec![signer];
        let mut current = signer;
        let mut trusted = None;
        for _ in 0..MAX_CHAIN {
            if let Some(anchor) = self.anchor_vouching_for(current) {
                trusted = Some(anchor);
                break;
            }
            // An intermediate from the signature must be a CA; anchors are trusted as
            // configured (RFC 5280 treats an anchor as a name and a key).
            let Some(issuer) = crypto::next_issuer(self.bundled, &path, current) else {
                break;
            };
            path.push(issuer);
            current = issuer;
        }
        let anchor = trusted.ok_or(SignatureProblem::NoTrustAnchor)?;
        let at = at.ok_or(SignatureProblem::MessageDateUnknown)?;
        for cert in path {
            let (not_before, not_after) = cert.validity();
            if at < not_before || at > not_after {
                return Err(SignatureProblem::CertificateNotValidAtMessageDate);
            }
        }
        Ok(anchor)
    }

    /// The anchor certificate the signer identifier names, if any.
    fn anchor_named_by(&self, sid: &cms::SignerId<'_>) -> Option<Cert<'_>> {
        self.anchors.all_certificates().find_map(|der| {
            if let cms::SignerId::IssuerSerial { issuer, serial } = sid {
                // Cheap byte comparison before decoding the certificate.
                let raw = RawCert::read(der).ok()?;
                if raw.issuer != *issuer || raw.serial != *serial {
                    return None;
                }
            }
            Cert::parse(der).filter(|cert| identifies(sid, cert))
        })
    }

    /// The anchor that is `cert` itself or signed it, if any (providers' anchors first).
    fn anchor_vouching_for(&self, cert: &Cert<'_>) -> Option<&'c [u8]> {
        // The same CA is often listed for several providers: each distinct one is tried once.
        let mut tried: Vec<&[u8]> = Vec::new();
        self.anchors.all_certificates().find(|anchor_der| {
            if *anchor_der == cert.der {
                return true;
            }
            if tried.contains(anchor_der) {
                return false;
            }
            tried.push(anchor_der);
            // Cheap name check before decoding the anchor and doing the RSA operation.
            let name_matches =
                RawCert::read(anchor_der).is_ok_and(|raw| raw.subject == cert.issuer);
            name_matches && Cert::parse(anchor_der).is_some_and(|anchor| cert.issued_by(&anchor))
        })
    }
}

/// The bytes the signer signed: the signed attributes as a DER `SET OF` (RFC 5652 5.4).
fn signed_attributes_bytes(attrs: &ber::Tlv<'_>) -> Result<Vec<u8>, ber::BerError> {
    // The original bytes, tag turned from [0] IMPLICIT (0xA0) into SET (0x31). Only when a
    // writer used BER indefinite lengths do we rewrite lengths (never the element order).
    let mut bytes = attrs.to_definite()?;
    if let Some(first) = bytes.first_mut() {
        *first = 0x31;
    }
    Ok(bytes)
}

/// Whether `cert` is the one the signer identifier names.
fn identifies(sid: &cms::SignerId<'_>, cert: &Cert<'_>) -> bool {
    match sid {
        cms::SignerId::IssuerSerial { issuer, serial } => {
            cert.issuer == *issuer && cert.serial == *serial
        }
        cms::SignerId::KeyId(id) => cert.subject_key_id().as_deref() == Some(id.as_ref()),
    }
}

/// A report pre-filled with what the signer certificate says.
fn describe(cert: &Cert<'_>) -> SignatureReport {
    let (not_before, not_after) = cert.validity();
    SignatureReport {
        status: SignatureStatus::Invalid,
        signer: Some(cert.subject_string()),
        not_before: iso8601(not_before),
        not_after: iso8601(not_after),
        reason: None,
        provider: None,
    }
}

fn iso8601(seconds: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| crate::iso8601::format(&t.fixed_offset(), true))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Two attributes in an order DER would sort the other way (longer one first).
    const ATTR_B: &[u8] = &[0x30, 0x05, 0x06, 0x01, 0x2a, 0x31, 0x00];
    const ATTR_A: &[u8] = &[0x30, 0x03, 0x06, 0x01, 0x29];

    #[test]
    fn signed_attributes_keep_their_original_order_with_the_set_tag() {
        let mut implicit = vec![0xa0, (ATTR_B.len() + ATTR_A.len()) as u8];
        implicit.extend_from_slice(ATTR_B);
        implicit.extend_from_slice(ATTR_A);
        let tlv = ber::Tlv::read_all(&implicit).unwrap();
        let signed = signed_attributes_bytes(&tlv).unwrap();
        assert_eq!(signed[0], 0x31);
        assert_eq!(&signed[1..], &implicit[1..]);
    }

    #[test]
    fn indefinite_signed_attributes_are_hashed_with_definite_lengths_in_the_same_order() {
        let mut indefinite = vec![0xa0, 0x80];
        indefinite.extend_from_slice(ATTR_B);
        indefinite.extend_from_slice(ATTR_A);
        indefinite.extend_from_slice(&[0, 0]);
        let tlv = ber::Tlv::read_all(&indefinite).unwrap();
        let signed = signed_attributes_bytes(&tlv).unwrap();
        let mut expected = vec![0x31, (ATTR_B.len() + ATTR_A.len()) as u8];
        expected.extend_from_slice(ATTR_B);
        expected.extend_from_slice(ATTR_A);
        assert_eq!(signed, expected);
    }

    #[test]
    fn every_problem_has_an_italian_text_and_a_kebab_case_code() {
        let problem = SignatureProblem::ContentDigestMismatch;
        assert!(problem.italian().contains("modificato"));
        assert_eq!(
            serde_json::to_value(problem).unwrap(),
            "content-digest-mismatch"
        );
    }
}
